"""Command-line tool: run a UPF file's trials locally, as the CANDLE Supervisor would.

``python Tybalt/upf_runner.py --help``; the code lives in ``tybalt_core/candle/upf_runner.py``.
"""

from tybalt_core.candle.upf_runner import main

if __name__ == "__main__":
    main()

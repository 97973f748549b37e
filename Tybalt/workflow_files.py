"""Command-line tool: regenerate the Supervisor files (UPF, mlrMBO, cfg-*.sh, Biowulf .in) from workflows/*.yaml.

``python Tybalt/workflow_files.py --help``; the code lives in ``tybalt_core/candle/workflow_files.py``.
"""

from tybalt_core.candle.workflow_files import main

if __name__ == "__main__":
    main()

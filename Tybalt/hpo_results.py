"""Command-line tool: collect, rank and plot the results of a hyperparameter search, finished or still running.

``python Tybalt/hpo_results.py --help``; the code lives in ``tybalt_core/tune/hpo_results.py``.
"""

from tybalt_core.tune.hpo_results import main

if __name__ == "__main__":
    main()

"""Command-line tool: the scorecard of several finished runs (seeds, latent sizes, models) against PCA, FastICA, NMF
and the input.

``python Tybalt/compare_runs.py RUN_FOLDER ... --output_dir FOLDER``; the code lives in
``tybalt_core/run/run_comparison.py``.
"""

from tybalt_core.run.run_comparison import main

if __name__ == "__main__":
    main()

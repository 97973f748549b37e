"""Command-line tool: train every latent size x seed and plot the scorecard against the latent size.

``python Tybalt/latent_sweep.py --latent_dims 5,10,20 --seeds 1,2,3 --output_dir FOLDER -- [training flags]``; the
code lives in ``tybalt_core/candle/latent_sweep.py``.
"""

from tybalt_core.candle.latent_sweep import main

if __name__ == "__main__":
    main()

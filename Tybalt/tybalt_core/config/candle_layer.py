"""Choose the CANDLE library: real candle_lib when it imports, otherwise the project's compatible layer.

Real candle_lib imports only under legacy Keras 2 (``tf-keras`` installed and ``TF_USE_LEGACY_KERAS=1``);
under Keras 3 its import fails, and the benchmark runs on ``candle_compat`` instead.
"""

try:
    import candle  # noqa: F401  (re-exported)

    USING_REAL_CANDLE = True
except ImportError:
    from tybalt_core.config import candle_compat as candle  # noqa: F401  (re-exported)

    USING_REAL_CANDLE = False

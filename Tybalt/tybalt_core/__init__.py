"""The Tybalt benchmark, one subpackage per stage, lowest layer first: common, data, config, models, train,
analysis, run, tune, candle. A module imports only from its own layer or lower ones (tests/test_architecture.py).
"""

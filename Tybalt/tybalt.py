"""The Tybalt benchmark definition for CANDLE: the ``Benchmark`` subclass over the parameter definitions.

The definitions themselves live in ``tybalt_core/config/definitions.py``; every parameter there has a line (with a
comment) in ``tybalt_default_model.txt`` and a ``--name`` flag.
"""

from __future__ import annotations

from tybalt_core.config.candle_layer import candle
from tybalt_core.config.definitions import BENCHMARK_DIR, DEFAULT_MODEL_FILE, additional_definitions, required

FILE_PATH = BENCHMARK_DIR

__all__ = ["DEFAULT_MODEL_FILE", "FILE_PATH", "TybaltBenchmark", "additional_definitions", "required"]


class TybaltBenchmark(candle.Benchmark):
    """CANDLE benchmark for the Tybalt VAE and ADAGE models (works with candle_lib v0.5, v0.6 and candle_compat)."""

    def set_locals(self) -> None:
        self.required = set(required)
        self.additional_definitions = list(additional_definitions)

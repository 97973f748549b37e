"""The benchmark's parameters: their definitions, the boundary checks and the CANDLE library layer."""

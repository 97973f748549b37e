"""After training: signal report, gene weights, baseline comparison and tSNE maps."""

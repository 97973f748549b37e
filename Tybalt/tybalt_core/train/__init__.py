"""Training: input pipeline, fit with convergence monitoring, checkpoints and resuming, the campaign record."""

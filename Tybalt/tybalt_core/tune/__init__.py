"""Hyperparameter search: search spaces, KerasTuner searches and their results."""

"""Keras set-up (Keras 3 or legacy Keras 2, devices, precision) and the autoencoder models."""

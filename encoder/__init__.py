"""Autoencoder models and their training (Keras 3 on TensorFlow)."""

from latentsearch.encoder.config import ModelConfig, TrainConfig
from latentsearch.encoder.models import build_autoencoder, build_decoder, build_encoder

__all__ = ["ModelConfig", "TrainConfig", "build_autoencoder", "build_decoder", "build_encoder"]

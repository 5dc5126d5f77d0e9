"""Autoencoder models and their training (Keras 3: TensorFlow by default, or JAX)."""

from latentsearch.encoder.config import LossConfig, ModelConfig, TrainConfig
from latentsearch.encoder.models import build_decoder, build_encoder
from latentsearch.encoder.variants import build_autoencoder

__all__ = [
    "LossConfig",
    "ModelConfig",
    "TrainConfig",
    "build_autoencoder",
    "build_decoder",
    "build_encoder",
]

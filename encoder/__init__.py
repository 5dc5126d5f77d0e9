"""Autoencoder models and their training (Keras 3: TensorFlow by default, or JAX).

Importing the package loads no Keras: the configs and errors are read by the CLI and the
page before any model is needed. The model builders load it when first asked for.
"""

from latentsearch.encoder.config import LossConfig, ModelConfig, TrainConfig

_LAZY = {
    "build_encoder": "latentsearch.encoder.models",
    "build_decoder": "latentsearch.encoder.models",
    "build_autoencoder": "latentsearch.encoder.variants",
}

__all__ = ["LossConfig", "ModelConfig", "TrainConfig", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

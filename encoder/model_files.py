"""The files a trained model's folder holds, found without importing Keras.

Keras imports its backend (TensorFlow: seconds); an index update checks which model it
was given before it needs to run one, so these names live apart from ``training``.
"""

from __future__ import annotations

from pathlib import Path

from latentsearch.encoder.errors import UserError
from latentsearch.encoder.versioned_dir import NoBuildError, current_build

ENCODER_FILE = "encoder.keras"
DECODER_FILE = "decoder.keras"
AUTOENCODER_FILE = "autoencoder.keras"
MODEL_CONFIG_FILE = "model_config.json"
TRAIN_CONFIG_FILE = "train_config.json"
LOSS_CONFIG_FILE = "loss_config.json"
CURVES_FILE = "loss_curves.png"
HISTORY_FILE = "history.json"


class ModelLoadError(UserError, RuntimeError):
    """A model directory is missing, incomplete or unreadable."""


def model_files(model_dir: str | Path) -> Path:
    """The folder holding ``encoder.keras``: a build folder itself, or a versioned root."""
    model_dir = Path(model_dir)
    if (model_dir / ENCODER_FILE).is_file():
        return model_dir
    try:
        return current_build(model_dir)
    except NoBuildError as err:
        raise ModelLoadError(
            f"{model_dir} is not a trained model (no {ENCODER_FILE}); "
            "train one with `latentsearch train`"
        ) from err

"""``latentsearch denoise``: a photo cleaned by a model trained to remove noise from its input
(``--variant denoising``): its reconstruction from the code, at the model's input size."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from latentsearch.encoder.errors import UserError
from latentsearch.encoder.inference import encode_images
from latentsearch.encoder.training import TrainedModel, load_model
from latentsearch.indexer.files.images import load_image
from latentsearch.indexer.files.pictures import as_picture, png_bytes
from latentsearch.indexer.serve.outliers import rebuild

# png_bytes: the page shows a cleaned photo through this module, the serving layer
__all__ = ["NotADenoiserError", "check_denoiser", "denoise", "denoise_file", "png_bytes"]


class NotADenoiserError(UserError):
    """The model was not trained to remove noise."""


def check_denoiser(model: TrainedModel) -> None:
    variant = model.config.variant
    if variant != "denoising" or model.decoder is None:
        raise NotADenoiserError(
            f"the model in {model.path} is a {variant} autoencoder; cleaning photos needs one "
            "trained with `latentsearch train --variant denoising`"
        )


def denoise(model: TrainedModel, image: np.ndarray) -> np.ndarray:
    """``image`` (size, size, channels in [0, 1]) as the model redraws it, in [0, 1]."""
    check_denoiser(model)
    batch = image[np.newaxis].astype(np.float32)
    return np.clip(rebuild(model, batch, encode_images(model.encoder, batch))[0], 0.0, 1.0)


def denoise_file(model_dir: str | Path, image: str | Path, out: str | Path) -> Path:
    """Clean the photo ``image`` with the denoising model in ``model_dir``; write it as PNG to
    ``out`` (written beside and then moved over it: an older file stays whole on failure)."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise UserError(f"--out must be a .png file, not {out.name!r}")
    model = load_model(model_dir)
    check_denoiser(model)
    config = model.config
    cleaned = denoise(model, load_image(image, config.image_size, config.channels))
    partial = out.with_name(out.name + ".partial")
    as_picture(cleaned).save(partial, format="PNG")
    os.replace(partial, out)
    return out

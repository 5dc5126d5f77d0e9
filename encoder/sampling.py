"""Generating images from a trained VAE: decode draws from the standard normal prior."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from latentsearch.encoder.training import load_model


class NotGenerativeError(ValueError):
    """Only a VAE has a prior to sample from."""


def image_grid(images: np.ndarray, columns: int | None = None) -> Image.Image:
    """Tile (N, H, W, C) floats in [0, 1] into one picture, row by row."""
    count, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    canvas = np.ones((rows * height, columns * width, channels), dtype=np.float32)
    for i, image in enumerate(images):
        row, col = divmod(i, columns)
        canvas[row * height : (row + 1) * height, col * width : (col + 1) * width] = image
    pixels = (np.clip(canvas, 0, 1) * 255).round().astype(np.uint8)
    return Image.fromarray(pixels[..., 0] if channels == 1 else pixels)


def sample_images(model_dir: str | Path, count: int, seed: int = 0) -> np.ndarray:
    """``count`` images decoded from codes drawn from N(0, I)."""
    model = load_model(model_dir)
    if model.config.variant != "vae" or model.decoder is None:
        raise NotGenerativeError(
            f"{model_dir} holds a {model.config.variant!r} model; sampling needs one trained "
            "with --variant vae"
        )
    if count < 1:
        raise ValueError("the number of images must be at least 1")
    codes = np.random.default_rng(seed).standard_normal((count, model.config.latent_dim))
    return np.asarray(model.decoder.predict_on_batch(codes.astype(np.float32)))


def write_sample_grid(model_dir: str | Path, count: int, out: str | Path, seed: int = 0) -> Path:
    """Sample ``count`` images and save them as one PNG grid."""
    out = Path(out)
    image_grid(sample_images(model_dir, count, seed)).save(out)
    return out

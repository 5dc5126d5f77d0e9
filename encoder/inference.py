"""Running a trained encoder / decoder on batches of images."""

from __future__ import annotations

import keras
import numpy as np


def _first_output(outputs) -> np.ndarray:
    # A VAE encoder returns [mean, logvar]; the first output is always the code to search.
    return np.asarray(outputs[0] if isinstance(outputs, list | tuple) else outputs)


def encode_images(encoder: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Bottleneck codes (N, latent_dim) float32 of images (N, H, W, C) in [0, 1]."""
    codes = [
        _first_output(encoder.predict_on_batch(images[i : i + batch_size]))
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(codes).astype(np.float32)


def reconstruction_errors(
    encoder: keras.Model, decoder: keras.Model, images: np.ndarray
) -> np.ndarray:
    """Mean squared reconstruction error per image: high for images unlike the training set."""
    codes = _first_output(encoder.predict_on_batch(images))
    rebuilt = np.asarray(decoder.predict_on_batch(codes))
    return ((rebuilt - images) ** 2).reshape(len(images), -1).mean(axis=1)

"""Running a trained encoder / decoder on batches of images."""

from __future__ import annotations

import keras
import numpy as np


def _first_output(outputs) -> np.ndarray:
    # A VAE encoder returns [mean, logvar], a vqvae [quantised, indices]; the first output
    # is always the code to search.
    return np.asarray(outputs[0] if isinstance(outputs, list | tuple) else outputs)


def is_conditional(model: keras.Model) -> bool:
    """A cvae encoder or decoder: its second input is the one-hot label."""
    return len(model.inputs) > 1


def with_condition(model: keras.Model, first: np.ndarray, labels: np.ndarray | None = None):
    """``model``'s inputs for a batch: ``first`` alone, or for a conditional model with the
    one-hot ``labels`` beside it (None: all zeros, the "no label" condition)."""
    if not is_conditional(model):
        return first
    if labels is None:
        labels = np.zeros((len(first), model.inputs[1].shape[-1]), np.float32)
    return [first, np.asarray(labels, np.float32)]


def encode_images(
    encoder: keras.Model, images: np.ndarray, batch_size: int = 256, labels=None
) -> np.ndarray:
    """Bottleneck codes (N, latent_dim) float32 of images (N, H, W, C) in [0, 1].

    A cvae encoder is given ``labels`` (one-hot rows), or by default "no label": indexes and
    queries are all encoded that way, so they compare like with like whatever is known.
    """
    codes = []
    for i in range(0, len(images), batch_size):
        rows = None if labels is None else labels[i : i + batch_size]
        inputs = with_condition(encoder, images[i : i + batch_size], rows)
        codes.append(_first_output(encoder.predict_on_batch(inputs)))
    return np.concatenate(codes).astype(np.float32)


def decode_codes(decoder: keras.Model, codes: np.ndarray, labels=None) -> np.ndarray:
    """Images (N, H, W, C) decoded from ``codes``; a cvae decoder as ``encode_images``."""
    return np.asarray(decoder.predict_on_batch(with_condition(decoder, codes, labels)))


def reconstruction_errors(
    encoder: keras.Model, decoder: keras.Model, images: np.ndarray
) -> np.ndarray:
    """Mean squared reconstruction error per image: high for images unlike the training set."""
    codes = encode_images(encoder, images, max(1, len(images)))
    return errors_of(images, decode_codes(decoder, codes))


def errors_of(images: np.ndarray, rebuilt: np.ndarray) -> np.ndarray:
    """Mean squared error per image between ``images`` and their reconstructions."""
    return ((rebuilt - images) ** 2).reshape(len(images), -1).mean(axis=1).astype(np.float32)

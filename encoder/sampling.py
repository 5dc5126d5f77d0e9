"""Generating images from a trained VAE or conditional VAE.

Prior samples decode draws from N(0, I) (a cvae's for a chosen label, or "no label");
posterior samples ("variations") decode draws from the encoder's ``N(mean, exp(logvar))``
for one photo.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from latentsearch.encoder.config import GENERATIVE, ConfigError
from latentsearch.encoder.errors import UserError
from latentsearch.encoder.inference import decode_codes, with_condition
from latentsearch.encoder.training import TrainedModel, load_model


class NotGenerativeError(UserError, ValueError):
    """Only a VAE (or conditional VAE) has a prior to sample from."""


class UnknownLabelError(NotGenerativeError):
    """A label the conditional model was not trained on (or a model without labels)."""


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


def check_generative(model: TrainedModel) -> None:
    if model.config.variant not in GENERATIVE or model.decoder is None:
        raise NotGenerativeError(
            f"{model.path} holds a {model.config.variant!r} model; sampling needs one trained "
            "with --variant vae or --variant cvae"
        )


def label_rows(model: TrainedModel, label: str | None, count: int) -> np.ndarray | None:
    """One-hot rows of ``label`` for a cvae (None: "no label"); None for a plain VAE."""
    labels = model.config.labels
    if label is not None and label not in labels:
        known = f"one of {list(labels)}" if labels else "none: it is not a cvae"
        raise UnknownLabelError(f"unknown label {label!r}; the model's labels are {known}")
    if not labels:
        return None
    rows = np.zeros((count, len(labels)), np.float32)
    if label is not None:
        rows[:, labels.index(label)] = 1.0
    return rows


def prior_samples(
    model: TrainedModel, count: int, seed: int = 0, label: str | None = None
) -> np.ndarray:
    """``count`` images decoded from codes drawn from N(0, I), given ``label`` for a cvae."""
    check_generative(model)
    if count < 1:
        raise ValueError("the number of images must be at least 1")
    codes = np.random.default_rng(seed).standard_normal((count, model.config.latent_dim))
    conditions = label_rows(model, label, count)
    return decode_codes(model.decoder, codes.astype(np.float32), conditions)


def posterior_samples(
    model: TrainedModel, image: np.ndarray, count: int, seed: int = 0, label: str | None = None
) -> np.ndarray:
    """``count`` variations of one ``image`` (H, W, C): decoded draws from its posterior.

    A cvae encodes the photo with "no label" and decodes with ``label`` (None: no label).
    """
    check_generative(model)
    batch = np.asarray(image, np.float32)[np.newaxis]
    mean, logvar = model.encoder.predict_on_batch(with_condition(model.encoder, batch))
    noise = np.random.default_rng(seed).standard_normal((count, model.config.latent_dim))
    codes = np.asarray(mean) + np.exp(0.5 * np.asarray(logvar)) * noise
    conditions = label_rows(model, label, count)
    return decode_codes(model.decoder, codes.astype(np.float32), conditions)


def generate(
    model: TrainedModel,
    count: int,
    seed: int = 0,
    label: str | None = None,
    like: np.ndarray | None = None,
) -> np.ndarray:
    """Variations of ``like`` if given, else prior samples (of ``label`` for a cvae)."""
    if like is not None:
        return posterior_samples(model, like, count, seed, label)
    return prior_samples(model, count, seed, label)


def sample_grid(
    model: TrainedModel,
    count: int,
    seed: int = 0,
    label: str | None = None,
    like: np.ndarray | None = None,
) -> Image.Image:
    """Variations of ``like``, else samples of ``label``; a cvae with neither gives one row
    of ``count`` per label, in the order of ``config.labels``."""
    if count < 1:
        raise ConfigError(f"the number of images to generate must be at least 1, not {count}")
    if like is not None or label is not None or not model.config.labels:
        return image_grid(generate(model, count, seed, label, like))
    rows = [
        prior_samples(model, count, seed + n, name) for n, name in enumerate(model.config.labels)
    ]
    return image_grid(np.concatenate(rows), columns=count)


def write_sample_grid(
    model_dir: str | Path,
    count: int,
    out: str | Path,
    seed: int = 0,
    label: str | None = None,
    like: np.ndarray | None = None,
) -> Path:
    """Generate as ``sample_grid`` and save the images as one PNG grid."""
    out = Path(out)
    sample_grid(load_model(model_dir), count, seed, label, like).save(out)
    return out

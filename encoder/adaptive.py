"""Training settings chosen from the collection itself: its size, never its labels.

Defaults fixed on one collection do not carry over (docs/quality.md): five epochs of
batch 128 are 1,760 optimiser steps on CIFAR-10's 50,000 photos but 75 on 2,000 photos,
too few for the weights, and for batch normalisation's running statistics, to settle.
So the number of optimiser steps is what stays fixed, and batch size and epochs follow
from the number of training photos. ``resolve_training`` fills in every setting left as
``None`` (auto) in a ``TrainConfig`` and says why, for ``train_config.json``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from latentsearch.encoder.config import TrainConfig

TARGET_STEPS = 1500  # optimiser steps: CIFAR-10's 5 epochs of 128 (1,760) fit in 15 min
MIN_EPOCHS = 5
MAX_EPOCHS = 40  # with early stopping on validation loss, most small runs stop sooner
STEPS_PER_EPOCH = 50  # the batch shrinks until an epoch has at least this many steps
BATCH_SIZES = (32, 64, 128)  # smallest to largest, powers of two
MIRROR_QUERIES = 1000  # photos whose mirror image is compared with the collection


def validates(count: int, config: TrainConfig) -> bool:
    """Whether training on ``count`` images holds some back for validation (10 or more)."""
    return config.validation_split > 0 and count >= 10


def training_images(count: int, config: TrainConfig) -> int:
    """How many of ``count`` images train (the rest validate), as ``train_autoencoder`` splits."""
    return count - int(count * config.validation_split) if validates(count, config) else count


def choose_batch_size(train_count: int) -> int:
    """The largest batch that still gives an epoch ``STEPS_PER_EPOCH`` steps (at least 32)."""
    fitting = [b for b in BATCH_SIZES if train_count / b >= STEPS_PER_EPOCH]
    return fitting[-1] if fitting else BATCH_SIZES[0]


def choose_epochs(train_count: int, batch_size: int) -> int:
    """Epochs for about ``TARGET_STEPS`` optimiser steps, within [MIN_EPOCHS, MAX_EPOCHS]."""
    steps_per_epoch = max(1, math.ceil(train_count / batch_size))
    return min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(TARGET_STEPS / steps_per_epoch)))


def resolve_training(config: TrainConfig, count: int) -> TrainConfig:
    """``config`` with its auto (``None``) batch size and epochs chosen for ``count`` images."""
    train_count = training_images(count, config)
    reasons = dict(config.reasons)
    batch_size = config.batch_size
    if batch_size is None:
        batch_size = choose_batch_size(train_count)
        reasons["batch_size"] = (
            f"{batch_size}: the largest of {list(BATCH_SIZES)} giving {train_count} training "
            f"images at least {STEPS_PER_EPOCH} steps an epoch"
        )
    epochs = config.epochs
    if epochs is None:
        epochs = choose_epochs(train_count, batch_size)
        steps = math.ceil(train_count / batch_size)
        reasons["epochs"] = (
            f"{epochs}: about {TARGET_STEPS} optimiser steps at {steps} an epoch, within "
            f"[{MIN_EPOCHS}, {MAX_EPOCHS}]; early stopping on validation loss may end sooner"
        )
    return replace(config, batch_size=batch_size, epochs=epochs, reasons=reasons)


def nearest_distances(queries: np.ndarray, base: np.ndarray, skip: np.ndarray) -> np.ndarray:
    """L2 distance from each query row to its nearest ``base`` row other than ``skip[i]``."""
    squared = (queries**2).sum(1)[:, None] + (base**2).sum(1)[None, :] - 2 * queries @ base.T
    squared[np.arange(len(queries)), skip] = np.inf
    return np.sqrt(np.maximum(squared.min(axis=1), 0.0))


def mirror_ratio(
    features: np.ndarray, mirrored: np.ndarray, queries: int = MIRROR_QUERIES
) -> float:
    """How far mirrored photos sit from the collection, relative to the photos themselves.

    ``features`` and ``mirrored`` (N, F): one row per photo, of the photo and of its mirror
    image. The ratio of median nearest-neighbour distances (the photo itself left out) is
    about 1 when a mirrored photo looks like any other photo of the collection (street
    scenes, animals), and well above 1 when mirroring makes photos unlike the rest
    (digits, text, hands that all show the same side).
    """
    rows = np.arange(0, len(features), max(1, len(features) // queries))
    base = np.asarray(features, np.float64)
    plain = nearest_distances(base[rows], base, rows)
    flipped = nearest_distances(np.asarray(mirrored, np.float64)[rows], base, rows)
    return float(np.median(flipped) / max(np.median(plain), 1e-12))

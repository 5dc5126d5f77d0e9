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
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from latentsearch.encoder.config import ConfigError, TrainConfig

# optimiser steps: 870 ranked the sign photos as well as 1,500 (P@10 0.732 against
# 0.704-0.735), 1,000 MNIST as 1,540 (0.930 / 0.929), in less time; at 1,000 steps the
# 64-px model took 3.3 min on 2,062 photos (docs/quality.md). CIFAR-10 keeps MIN_EPOCHS:
# 5 epochs of 128, 1,760 steps, 12 min.
TARGET_STEPS = 800
MIN_EPOCHS = 5
MAX_EPOCHS = 40  # with early stopping on validation loss, most small runs stop sooner
STEPS_PER_EPOCH = 50  # the batch shrinks until an epoch has at least this many steps
BATCH_SIZES = (32, 64, 128)  # smallest to largest, powers of two
MIRROR_QUERIES = 1000  # photos whose mirror image is compared with the collection
# Input side -> encoder widths, one stride-2 stage each, so both end on a 4x4 grid. The
# 64-px encoder is narrower: its decoder's last stages work on 4x more pixels. On 2,062
# sign photos, (32, 64, 128, 256) trained for 13.6 min, (16, 32, 64, 128) in ~2.5 min,
# 1.3x the 32-px model's time per step, for the same P@10 (docs/quality.md).
FILTERS_FOR_SIZE = {32: (32, 64, 128), 64: (16, 32, 64, 128)}


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


def choose_image_size(shorter_sides: Sequence[int]) -> int:
    """64 when the typical photo has at least 64 px on its shorter side, else 32.

    Thumbnails (CIFAR's 32 px, MNIST's 28 px) gain nothing from being scaled up; larger
    photos keep detail at 64 px that 32 px loses (sign photos: docs/quality.md).
    """
    if not len(shorter_sides):
        raise ConfigError("no photo sizes to choose an input size from")
    return 64 if float(np.median(shorter_sides)) >= 64 else 32


def filters_for(image_size: int) -> tuple[int, ...]:
    """The encoder widths for an input side, one stride-2 stage per entry: the 32-px
    encoder for any side without one of its own (``--image-size`` given alone)."""
    return FILTERS_FOR_SIZE.get(image_size, FILTERS_FOR_SIZE[32])


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

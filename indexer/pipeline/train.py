"""``latentsearch train``: read a folder of images and train an autoencoder on it."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from latentsearch.encoder.adaptive import choose_image_size, filters_for
from latentsearch.encoder.config import LossConfig, MissingLabelsError, ModelConfig, TrainConfig
from latentsearch.encoder.search_code import uses_features
from latentsearch.encoder.training import fit, save_fit
from latentsearch.indexer.files.corpus import resolve_data
from latentsearch.indexer.files.folders import (
    FolderScan,
    Skipped,
    nothing_readable,
    read_folder_array,
)
from latentsearch.indexer.files.images import ImageReadError, shorter_side

log = logging.getLogger(__name__)
SIZE_SAMPLE = 200  # photos whose size is read to choose the input size


def photo_sides(folder: str | Path) -> list[int]:
    """The shorter side of up to ``SIZE_SAMPLE`` photos spread over ``folder`` (headers only)."""
    paths = FolderScan.of(folder).paths
    sides, skipped = [], []
    sampled = paths[:: max(1, len(paths) // SIZE_SAMPLE)]
    for path in sampled:
        try:
            sides.append(shorter_side(path))
        except ImageReadError as err:
            log.debug("%s", err)  # training skips it too, and says so
            skipped.append(Skipped(str(path), err.reason))
    if not sides:
        raise nothing_readable(Path(folder), len(sampled), skipped)
    return sides


def choose_shape(
    folder: str | Path, image_size: int | None = None, filters: tuple[int, ...] | None = None
) -> tuple[int, tuple[int, ...], dict[str, str]]:
    """Input size and encoder widths for ``folder``; ``None`` for each one to choose.

    Returns ``(image_size, filters, reasons)``, the reasons for ``train_config.json``.
    """
    reasons = {}
    if image_size is None:
        sides = photo_sides(folder)
        image_size = choose_image_size(sides)
        reasons["image_size"] = (
            f"{image_size}: the median shorter side of {len(sides)} sampled photos is "
            f"{float(np.median(sides)):g} px (64 from 64 px up, else 32)"
        )
    if filters is None:
        filters = filters_for(image_size)
        reasons["filters"] = f"{list(filters)}: the default encoder for {image_size} px"
    return image_size, tuple(filters), reasons


def label_vocabulary(
    images: np.ndarray, labels: list[str | None], folder: Path
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The labelled images, their label numbers and the sorted label names (for a cvae).

    Images directly in the folder's root have no label and are left out.
    """
    vocabulary = tuple(sorted({label for label in labels if label is not None}))
    if len(vocabulary) < 2:
        raise MissingLabelsError(
            f"a cvae learns from labelled images, one sub-folder per label, and {folder} has "
            f"{len(vocabulary)} label folder(s) {list(vocabulary)}: it needs at least 2"
        )
    kept = np.array([label is not None for label in labels])
    if not kept.all():
        log.warning("leaving out %d images with no label folder", int((~kept).sum()))
    numbers = {label: n for n, label in enumerate(vocabulary)}
    ids = np.array([numbers[label] for label in labels if label is not None], dtype=np.int64)
    return images[kept], ids, vocabulary


def train_on_folder(
    data: str | Path,
    out_dir: str | Path,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig = TrainConfig(),
    loss_config: LossConfig = LossConfig(),
) -> Path:
    """Train on every readable image under ``data`` (or ``builtin``); return the model folder.

    With no ``model_config``, the default model at an input size chosen from the photos
    (``choose_shape``). A ``cvae`` is conditioned on each image's first sub-folder name;
    the sorted names are saved in ``model_config.json`` as ``labels``.
    """
    started = time.perf_counter()
    folder = resolve_data(data)
    if model_config is None:
        image_size, filters, reasons = choose_shape(folder)
        model_config = ModelConfig(image_size=image_size, filters=filters)
        train_config = replace(train_config, reasons={**train_config.reasons, **reasons})
    uses_features(model_config, train_config.search_code)  # a bad choice fails before training
    images, labels, scan = read_folder_array(folder, model_config.image_size, model_config.channels)
    if scan.skipped:
        log.warning("skipped %d unreadable files", len(scan.skipped))
    label_ids = None
    if model_config.variant == "cvae":
        images, label_ids, vocabulary = label_vocabulary(images, labels, Path(folder))
        model_config = replace(model_config, labels=vocabulary)
    log.info("training on %d images of %s", len(images), model_config.input_shape)
    result = fit(images, model_config, train_config, loss_config, labels=label_ids)
    for setting, reason in result.train_config.reasons.items():
        log.info("%s %s", setting, reason)
    result.history["train_seconds"] = [round(time.perf_counter() - started, 2)]
    return save_fit(result, model_config, out_dir, loss_config)

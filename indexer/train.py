"""``latentsearch train``: read a folder of images and train an autoencoder on it."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from latentsearch.encoder.adaptive import resolve_training
from latentsearch.encoder.config import LossConfig, MissingLabelsError, ModelConfig, TrainConfig
from latentsearch.encoder.projection import search_parts, uses_features
from latentsearch.encoder.training import save_model, train_autoencoder
from latentsearch.indexer.corpus import resolve_data
from latentsearch.indexer.reading import read_folder_array

log = logging.getLogger(__name__)


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
    model_config: ModelConfig = ModelConfig(),
    train_config: TrainConfig = TrainConfig(),
    loss_config: LossConfig = LossConfig(),
) -> Path:
    """Train on every readable image under ``data`` (or ``builtin``); return the model folder.

    A ``cvae`` is conditioned on each image's first sub-folder name; the sorted names are
    saved in ``model_config.json`` as ``labels``.
    """
    started = time.perf_counter()
    uses_features(model_config, train_config.search_code)  # a bad choice fails before training
    folder = resolve_data(data)
    images, labels, scan = read_folder_array(folder, model_config.image_size, model_config.channels)
    if scan.skipped:
        log.warning("skipped %d unreadable files", len(scan.skipped))
    label_ids = None
    if model_config.variant == "cvae":
        images, label_ids, vocabulary = label_vocabulary(images, labels, Path(folder))
        model_config = replace(model_config, labels=vocabulary)
    log.info("training on %d images of %s", len(images), model_config.input_shape)
    train_config = resolve_training(train_config, len(images))
    model, history = train_autoencoder(
        images, model_config, train_config, loss_config, labels=label_ids
    )
    parts, train_config = search_parts(model, model_config, train_config, images)
    for setting, reason in train_config.reasons.items():
        log.info("%s %s", setting, reason)
    history["train_seconds"] = [round(time.perf_counter() - started, 2)]
    return save_model(model, model_config, train_config, history, out_dir, loss_config, parts)

"""``latentsearch train``: read a folder of images and train an autoencoder on it."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from latentsearch.encoder.config import LossConfig, ModelConfig, TrainConfig
from latentsearch.encoder.training import save_model, train_autoencoder
from latentsearch.indexer.corpus import resolve_data
from latentsearch.indexer.reading import read_folder_array

log = logging.getLogger(__name__)


def train_on_folder(
    data: str | Path,
    out_dir: str | Path,
    model_config: ModelConfig = ModelConfig(),
    train_config: TrainConfig = TrainConfig(),
    loss_config: LossConfig = LossConfig(),
) -> Path:
    """Train on every readable image under ``data`` (or ``builtin``); return the model folder."""
    started = time.perf_counter()
    folder = resolve_data(data)
    images, _, scan = read_folder_array(folder, model_config.image_size, model_config.channels)
    if scan.skipped:
        log.warning("skipped %d unreadable files", len(scan.skipped))
    log.info("training on %d images of %s", len(images), model_config.input_shape)
    model, history = train_autoencoder(images, model_config, train_config, loss_config)
    history["train_seconds"] = [round(time.perf_counter() - started, 2)]
    return save_model(model, model_config, train_config, history, out_dir, loss_config)

"""Give trained family models the projected search code, as ``train --search-code features`` does.

Usage: python docs/family/project.py TRAIN_DIR WORK_DIR NAME [NAME ...]
For each WORK_DIR/NAME (trained with ``--search-code bottleneck``) it fits the projection on
the training images and saves the result as WORK_DIR/NAME+features, so the results table
compares the two search codes of the very same weights.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import keras

from latentsearch.encoder import layers  # noqa: F401  (registers the custom layers)
from latentsearch.encoder.config import LossConfig, TrainConfig, from_dict
from latentsearch.encoder.search_code import project_features
from latentsearch.encoder.training import load_model, save_model
from latentsearch.indexer.files.folders import read_folder_array


def main(train_dir: str, work: Path, names: list[str]) -> None:
    model = load_model(work / names[0])
    images, _, _ = read_folder_array(
        Path(train_dir), model.config.image_size, model.config.channels
    )
    for name in names:
        model = load_model(work / name)
        folder = model.path
        parts = project_features(model.encoder, model.decoder, images, model.config.latent_dim)
        history = json.loads((folder / "history.json").read_text())
        train = from_dict(TrainConfig, json.loads((folder / "train_config.json").read_text()))
        loss = from_dict(LossConfig, json.loads((folder / "loss_config.json").read_text()))
        train = TrainConfig(**{**train.__dict__, "search_code": "features"})
        autoencoder = keras.saving.load_model(folder / "autoencoder.keras", compile=False)
        save_model(
            autoencoder, model.config, train, history, work / f"{name}+features", loss, parts
        )


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3:])

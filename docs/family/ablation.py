"""What each step of the projected search code adds, on one trained model (docs/family.md).

Usage: python docs/family/ablation.py CIFAR_DIR MODEL_DIR
CIFAR_DIR holds train/<class>/*.jpg and test/<class>/*.jpg; MODEL_DIR is a model trained
by ``latentsearch train`` with the projected search code (the default). The protocol,
split, reader and metrics are ``latentsearch bench``'s (50,000 training photos, 100 test
queries per class, seed 0); cosine; mAP@1000 and P@10. About 2 minutes on 2 CPU cores.
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np

from latentsearch.encoder.search_code import whitened_axes
from latentsearch.encoder.training import load_model
from latentsearch.indexer.bench.data import read_pixels, split_queries
from latentsearch.indexer.bench.metrics import average_precision_at_k, precision_at_k
from latentsearch.indexer.bench.scoring import ranked_ids

K = 1000


def score(database, queries, db_labels, query_labels) -> str:
    """mAP@1000 and P@10 of exact cosine search."""

    def unit(vectors):
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    ranked = ranked_ids(unit(database), unit(queries))[:, :K]
    hits = db_labels[ranked] == query_labels[:, None]
    return (
        f"mAP@1000 {average_precision_at_k(hits, K).mean():.4f}  "
        f"P@10 {precision_at_k(hits, 10).mean():.4f}"
    )


def projected(database, queries, dim: int, whitening: float):
    """Both sides on the leading axes of the database, as the saved search code fits them."""
    mean, axes = whitened_axes(database[::5], dim, whitening)
    return (database - mean) @ axes, (queries - mean) @ axes


def main(cifar: Path, model_dir: Path) -> None:
    model = load_model(model_dir, with_decoder=False)
    encoder, shape = model.encoder, model.config.input_shape
    autoencoder = keras.saving.load_model(model.path / "autoencoder.keras", compile=False)
    names = [layer.name for layer in encoder.layers]
    code_input = encoder.get_layer("code").input
    trunk = (
        encoder.get_layer("features")
        if "features" in names
        else keras.Model(encoder.input, code_input)
    )
    split = split_queries(cifar / "train", cifar / "test", 100, seed=0)
    sides = [read_pixels(scan, shape[0], shape[2]) for scan in (split.database, split.queries)]
    (train, test), labels = (
        [s.pixels.reshape(-1, *shape) for s in sides],
        [np.array(s.labels) for s in sides],
    )

    def features(images):
        return np.asarray(trunk.predict(images, batch_size=512, verbose=0), np.float64)

    plain = features(train), features(test)
    mirrored = features(train[:, :, ::-1]), features(test[:, :, ::-1])
    as_max = np.maximum(plain[0], mirrored[0]), np.maximum(plain[1], mirrored[1])
    as_mean = (plain[0] + mirrored[0]) / 2, (plain[1] + mirrored[1]) / 2
    coders = [
        ("bottleneck            ", autoencoder.get_layer("encoder")),
        ("saved search code     ", encoder),
    ]
    for name, coder in coders:
        codes = coder.predict(train, verbose=0), coder.predict(test, verbose=0)
        print(name, score(*codes, *labels), flush=True)
    for name, (db, q), dim, whitening in [
        ("PCA of the features   ", plain, 128, 0.0),
        ("+ whitening 0.35      ", plain, 128, 0.35),
        ("mirror mean, PCA      ", as_mean, 128, 0.0),
        ("mirror max, PCA       ", as_max, 128, 0.0),
        ("mirror max + whit 0.25", as_max, 128, 0.25),
        ("mirror max + whit 0.35", as_max, 128, 0.35),
        ("mirror max + whit 0.5 ", as_max, 128, 0.5),
        ("... with 256 axes     ", as_max, 256, 0.35),
    ]:
        print(name, score(*projected(db, q, dim, whitening), *labels), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

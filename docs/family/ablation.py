"""What each step of the projected search code adds, on one trained model (docs/family.md).

Usage: python docs/family/ablation.py CIFAR_DIR MODEL_DIR
CIFAR_DIR holds train/<class>/*.jpg and test/<class>/*.jpg; MODEL_DIR is a model trained
by ``latentsearch train`` with the projected search code (the default). Same protocol as
``latentsearch bench`` (50,000 training photos, 100 test queries per class, seed 0),
cosine, mAP@1000 and P@10. Takes about 5 minutes on 2 CPU cores.
"""

from __future__ import annotations

import sys
from pathlib import Path

import faiss
import keras
import numpy as np
from PIL import Image

from latentsearch.encoder.training import load_model

K = 1000


def read_split(folder: Path, per_class: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) in [0, 1] and class numbers; ``per_class`` sampled with seed 0."""
    rng, files, labels = np.random.default_rng(0), [], []
    for number, name in enumerate(sorted(p.name for p in folder.iterdir() if p.is_dir())):
        found = sorted(str(f) for f in (folder / name).glob("*.jpg"))
        found = list(rng.choice(found, per_class, replace=False)) if per_class else found
        files += found
        labels += [number] * len(found)
    images = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    return images.astype(np.float32) / 255, np.array(labels)


def score(database, queries, db_labels, query_labels) -> str:
    """mAP@1000 and P@10 of cosine search."""
    database = np.ascontiguousarray(database / np.linalg.norm(database, axis=1, keepdims=True))
    queries = np.ascontiguousarray(queries / np.linalg.norm(queries, axis=1, keepdims=True))
    index = faiss.IndexFlatIP(database.shape[1])
    index.add(database.astype(np.float32))
    _, ids = index.search(queries.astype(np.float32), K)
    hits = db_labels[ids] == query_labels[:, None]
    precision = np.cumsum(hits, axis=1) / np.arange(1, K + 1)
    ap = (precision * hits).sum(axis=1) / np.maximum(hits.sum(axis=1), 1)
    return f"mAP@1000 {ap.mean():.4f}  P@10 {hits[:, :10].mean():.4f}"


def pca(database, queries, dim: int, whitening: float):
    """Project both on the leading axes of ``database``, scaled by std ** -whitening."""
    mean = database.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov((database[::5] - mean).T))
    order = np.argsort(values)[::-1][:dim]
    axes = vectors[:, order] / values[order] ** (whitening / 2)
    return (database - mean) @ axes, (queries - mean) @ axes


def main(cifar: Path, model_dir: Path) -> None:
    model = load_model(model_dir, with_decoder=False)
    encoder = model.encoder
    autoencoder = keras.saving.load_model(model.path / "autoencoder.keras", compile=False)
    bottleneck = autoencoder.get_layer("encoder")
    trunk = (
        encoder.get_layer("features")
        if "features" in [x.name for x in encoder.layers]
        else (keras.Model(encoder.input, encoder.get_layer("code").input))
    )
    train, train_labels = read_split(cifar / "train", None)
    test, test_labels = read_split(cifar / "test", 100)

    def features(images):
        return np.asarray(trunk.predict(images, batch_size=512, verbose=0), np.float64)

    plain = features(train), features(test)
    mirrored = features(train[:, :, ::-1]), features(test[:, :, ::-1])
    as_max = np.maximum(plain[0], mirrored[0]), np.maximum(plain[1], mirrored[1])
    as_mean = (plain[0] + mirrored[0]) / 2, (plain[1] + mirrored[1]) / 2
    coders = [("bottleneck            ", bottleneck), ("saved search code     ", encoder)]
    for name, coder in coders:
        codes = coder.predict(train, verbose=0), coder.predict(test, verbose=0)
        print(name, score(*codes, train_labels, test_labels), flush=True)
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
        print(name, score(*pca(db, q, dim, whitening), train_labels, test_labels), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

"""End to end on real photos: train briefly on a CIFAR-10 subset, index it, search it."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from latentsearch.encoder.config import ModelConfig, TrainConfig
from latentsearch.indexer.pipeline.build import build_index
from latentsearch.indexer.pipeline.train import train_on_folder
from latentsearch.indexer.serve.search import Searcher

CIFAR_TAR = Path(
    os.environ.get(
        "LATENTSEARCH_CIFAR_TAR",
        Path(__file__).resolve().parents[2] / "shared/datasets/cifar10-jpg.tar.gz",
    )
)
CLASSES = ("airplane", "cat", "ship")
PER_CLASS = 80


def extract_subset(target: Path, classes=CLASSES, per_class=PER_CLASS) -> Path:
    """Unpack ``per_class`` training photos of each class into ``target/<class>/``."""
    taken = dict.fromkeys(classes, 0)
    with tarfile.open(CIFAR_TAR) as archive:
        for member in archive:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or parts[0] != "train":
                continue
            label = parts[1]
            if taken.get(label, per_class) >= per_class:
                continue
            (target / label).mkdir(parents=True, exist_ok=True)
            (target / label / parts[2]).write_bytes(archive.extractfile(member).read())
            taken[label] += 1
            if all(n >= per_class for n in taken.values()):
                break
    return target


@pytest.mark.skipif(not CIFAR_TAR.is_file(), reason=f"CIFAR-10 archive not found at {CIFAR_TAR}")
def test_indexed_photo_comes_back_first_in_both_columns(tmp_path: Path) -> None:
    photos = extract_subset(tmp_path / "photos")
    model_dir = train_on_folder(
        photos,
        tmp_path / "model",
        ModelConfig(image_size=32, channels=3, latent_dim=32),
        TrainConfig(epochs=1, batch_size=32),
    )
    manifest = build_index(photos, model_dir, tmp_path / "index")
    assert manifest.count == len(CLASSES) * PER_CLASS
    assert manifest.skipped == []

    searcher = Searcher.open(tmp_path / "index")
    for query in sorted((photos / "cat").iterdir())[:3]:
        result = searcher.search(query, k=5)
        for hits in (result.latent, result.raw):
            assert Path(hits[0].path) == query.resolve()
            assert hits[0].label == "cat"
            assert hits[0].distance == pytest.approx(0.0, abs=1e-4)

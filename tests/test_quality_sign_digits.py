"""Quality on real photos with the training defaults: on a subset of the sign-digit photos
(a small collection, unlike CIFAR-10), latent search beats raw pixels by a real margin."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from latentsearch.indexer.bench.benchmark import BenchConfig, run_benchmark
from latentsearch.indexer.pipeline.train import train_on_folder

SIGN_TAR = Path(
    os.environ.get(
        "LATENTSEARCH_SIGN_TAR",
        Path(__file__).resolve().parents[2] / "shared/datasets/sign-digits-jpg.tar.gz",
    )
)
PER_CLASS = 40  # 400 photos: 3-5 minutes of default training and bench on 2 cores
QUERIES_PER_CLASS = 10


def extract_sign_subset(target: Path, per_class: int = PER_CLASS) -> Path:
    """Unpack the first ``per_class`` photos of each digit into ``target/<digit>/``."""
    taken: dict[str, int] = {}
    with tarfile.open(SIGN_TAR) as archive:
        for member in archive:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or taken.get(parts[1], 0) >= per_class:
                continue
            (target / parts[1]).mkdir(parents=True, exist_ok=True)
            (target / parts[1] / parts[2]).write_bytes(archive.extractfile(member).read())
            taken[parts[1]] = taken.get(parts[1], 0) + 1
    return target


@pytest.mark.slow
@pytest.mark.skipif(not SIGN_TAR.is_file(), reason=f"sign-digit archive not found at {SIGN_TAR}")
def test_default_training_beats_raw_pixels_on_real_sign_photos(tmp_path: Path) -> None:
    photos = extract_sign_subset(tmp_path / "photos")
    model = train_on_folder(photos, tmp_path / "model")  # every setting left at its default
    report = run_benchmark(
        BenchConfig(
            data=str(photos),
            models=(str(model),),
            queries_per_class=QUERIES_PER_CLASS,
            ks=(10,),
            latency_queries=5,
        )
    )
    p10 = {m["kind"]: m["quality"]["precision"]["10"] for m in report["methods"]}
    assert report["config"]["metric"] == "cosine"
    assert p10["latent"] >= 1.1 * p10["raw"], p10
    assert p10["latent"] > p10["pca"], p10

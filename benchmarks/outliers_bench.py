"""Outliers: do the images the model rebuilds worst find photos that do not belong?

    python benchmarks/outliers_bench.py --work WORK_DIR [--shared ../shared/datasets]
        [--injected 500] [--seed 0]

Mixes ``--injected`` foreign images into the 10,000 CIFAR-10 test photos, a quarter of
each kind: MNIST digits (the built-in corpus, as RGB), uniform noise, solid colours, and
corrupt-but-decodable photos (CIFAR training photos with bytes of their JPEG scan
overwritten, so they decode to garbled blocks). Trains ``latentsearch train`` defaults on
the mixed folder, indexes it, and scores every image these ways, ROC AUC of each for
"injected" (1.0: every foreign image above every photo; 0.5: chance):
- reconstruction error;
- reconstruction error over the error of a flat image of the photo's mean colour (the
  share of the photo's own variation the model fails to rebuild);
- code rarity: the squared Mahalanobis distance of its code from the collection's codes;
- the higher of the first two ranks (0-1), and the highest of all three, which is what
  ``latentsearch outliers`` ranks by (``collection_outliers.UnusualScores``);
- raw pixels: the L2 distance to the nearest other image (the kNN baseline).
Writes WORK_DIR/outliers.json and prints a Markdown table (all, and per kind).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
from PIL import Image
from quality_suite import unpacked  # benchmarks/ is on the path when run as a script

KINDS = ("mnist", "noise", "solid", "corrupt")


def corrupt_jpeg(data: bytes, rng: random.Random) -> bytes:
    """``data`` with 12 random bytes of its scan (after the header) overwritten."""
    body = bytearray(data)
    start = data.find(b"\xff\xda") + 12  # start of scan, past its header
    for _ in range(12):
        at = rng.randrange(start, len(body) - 2)
        body[at] = rng.randrange(0, 255)  # never 255: no new markers
    return bytes(body)


def make_collection(work: Path, photos: list[Path], spare: list[Path], digits: list[Path],
                    injected: int, seed: int) -> tuple[Path, dict[str, str]]:  # fmt: skip
    """The mixed folder, and the kind of each injected file."""
    folder, truth_file = work / "mixed", work / "injected.json"
    if truth_file.is_file():
        return folder, json.loads(truth_file.read_text())
    rng = random.Random(seed)
    (folder / "photos").mkdir(parents=True)
    (folder / "injected").mkdir()
    for n, path in enumerate(photos):
        (folder / "photos" / f"{n:05d}.jpg").write_bytes(path.read_bytes())
    truth = {}
    for n in range(injected):
        kind = KINDS[n % len(KINDS)]
        out = folder / "injected" / f"{n:04d}-{kind}.png"
        if kind == "mnist":
            Image.open(rng.choice(digits)).convert("RGB").save(out)
        elif kind == "noise":
            pixels = np.random.default_rng(seed + n).integers(0, 256, (32, 32, 3), np.uint8)
            Image.fromarray(pixels).save(out)
        elif kind == "solid":
            colour = tuple(rng.randrange(256) for _ in range(3))
            Image.new("RGB", (32, 32), colour).save(out)
        else:
            out = out.with_suffix(".jpg")
            out.write_bytes(corrupt_jpeg(rng.choice(spare).read_bytes(), rng))
        truth[str(out)] = kind
    truth_file.write_text(json.dumps(truth))
    return folder, truth


def scores_of(index_dir: Path) -> dict[str, np.ndarray | list[str]]:
    from latentsearch.indexer.indexes.faiss_helpers import search, stored_vectors
    from latentsearch.indexer.serve.collection_outliers import unusual_scores
    from latentsearch.indexer.store.bundle import IndexBundle

    bundle = IndexBundle.load(index_dir)
    scores = unusual_scores(bundle)
    pixels = stored_vectors(bundle.raw, scores.rows)
    distances, found = search(bundle.raw, pixels, 2)
    nearest_other = np.where(found[:, 0] == scores.rows, distances[:, 1], distances[:, 0])
    ranks = scores.ranks()
    return {
        "paths": [bundle.metadata.paths[r] for r in scores.rows],
        "reconstruction error": scores.errors,
        "error over flat-image error": scores.relative,
        "code rarity (Mahalanobis)": scores.rarity,
        "the higher rank of the first two": ranks[:2].max(axis=0),
        "the highest rank of the three (what `outliers` ranks by)": scores.combined(),
        "raw pixels: distance to nearest other": np.sqrt(nearest_other),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--shared", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--injected", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from latentsearch.encoder.evaluation import roc_auc
    from latentsearch.indexer.files.corpus import materialise_builtin
    from latentsearch.indexer.files.listing import list_images
    from latentsearch.indexer.pipeline.build import build_index
    from latentsearch.indexer.pipeline.train import train_on_folder

    cifar = unpacked(args.shared, "cifar10", args.work)
    photos, spare = list_images(cifar / "test"), list_images(cifar / "train")
    digits = list_images(materialise_builtin())
    folder, truth = make_collection(args.work, photos, spare, digits, args.injected, args.seed)
    index = args.work / "index"
    if not (index / "CURRENT").exists():  # a rerun reuses the model and index
        started = time.perf_counter()
        build_index(folder, train_on_folder(folder, args.work / "model"), index)
        print(f"trained and indexed in {time.perf_counter() - started:.0f} s")
    measured = scores_of(index)
    kind = np.array([truth.get(p, "photo") for p in measured.pop("paths")])
    rows = {}
    for name, score in measured.items():
        photo = kind == "photo"
        per_kind = {k: roc_auc(score[photo | (kind == k)], kind[photo | (kind == k)] == k)
                    for k in KINDS}  # fmt: skip
        rows[name] = {"all": roc_auc(score, ~photo), **per_kind}
    (args.work / "outliers.json").write_text(json.dumps(rows, indent=2))
    print(f"{int((kind != 'photo').sum())} injected among {int((kind == 'photo').sum())} photos")
    print("| score | ROC AUC, all injected | " + " | ".join(KINDS) + " |")
    print("|---|---|" + "---|" * len(KINDS))
    for name, row in rows.items():
        cells = " | ".join(f"{row[k]:.3f}" for k in KINDS)
        print(f"| {name} | {row['all']:.3f} | {cells} |")


if __name__ == "__main__":
    main()

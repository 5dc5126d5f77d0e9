"""Near-duplicate detection: latentsearch's codes against raw pixels and imagededup's hashes.

    python benchmarks/duplicates_bench.py --work WORK_DIR [--shared ../shared/datasets]
        [--originals 1000] [--unrelated 5000] [--seed 0]

Takes ``--originals`` photos each from the CIFAR-10 test set and the sign-digit photos,
makes one to three copies of each (seeded: re-compressed at JPEG quality 40-85, resized to
50-90%, cropped by 2-8% a side, or brightened / darkened by 8-20%), mixes in ``--unrelated``
other photos of both sets, then scores each method's found pairs against the true ones
(an original and its copies, and the copies among themselves): precision, recall, F1,
both for the pairs a method reports and for the groups they join into, and its time.

- latentsearch: ``latentsearch train`` defaults on the mixed folder, ``latentsearch index``,
  then ``duplicates`` with its calibrated threshold (latent codes), and ``--pixels``;
- imagededup (``pip install imagededup``; hashing downloads nothing): PHash, DHash, WHash
  and AHash with their default ``max_distance_threshold`` (10).
Writes WORK_DIR/duplicates.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import random
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image, ImageEnhance
from quality_suite import unpacked  # benchmarks/ is on the path when run as a script


def transformed(img: Image.Image, rng: random.Random) -> tuple[str, bytes]:
    """One seeded copy of ``img``: its kind and JPEG bytes."""
    img = img.convert("RGB")
    kind = rng.choice(["re-compressed", "resized", "cropped", "brightness"])
    quality = 90
    if kind == "re-compressed":
        quality = rng.randint(40, 85)
    elif kind == "resized":
        scale = rng.uniform(0.5, 0.9)
        img = img.resize((max(8, round(img.width * scale)), max(8, round(img.height * scale))))
    elif kind == "cropped":
        dx, dy = (max(1, round(side * rng.uniform(0.02, 0.08))) for side in img.size)
        img = img.crop((dx, dy, img.width - dx, img.height - dy))
    else:
        img = ImageEnhance.Brightness(img).enhance(rng.choice([-1, 1]) * rng.uniform(0.08, 0.2) + 1)
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=quality)
    return kind, buffer.getvalue()


def make_collection(work: Path, sources: dict[str, list[Path]], originals: int, unrelated: int,
                    seed: int) -> tuple[Path, dict[str, int]]:  # fmt: skip
    """The mixed folder, and each duplicate file's group number (unrelated files: none)."""
    folder = work / "mixed"
    truth_file = work / "truth.json"
    if truth_file.is_file():
        return folder, json.loads(truth_file.read_text())
    rng = random.Random(seed)
    truth: dict[str, int] = {}
    picked = {name: rng.sample(paths, len(paths)) for name, paths in sources.items()}
    group = 0
    for name, paths in picked.items():
        for path in paths[:originals]:
            out = folder / name / f"{group:05d}-original{path.suffix.lower()}"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(path.read_bytes())
            truth[str(out)] = group
            img = Image.open(path)
            for n in range(rng.randint(1, 3)):
                kind, data = transformed(img, rng)
                copy = folder / name / f"{group:05d}-copy{n}-{kind}.jpg"
                copy.write_bytes(data)
                truth[str(copy)] = group
            group += 1
    rest = [(name, p) for name, paths in picked.items() for p in paths[originals:]]
    for n, (name, path) in enumerate(rng.sample(rest, unrelated)):
        out = folder / name / f"other-{n:05d}{path.suffix.lower()}"
        out.write_bytes(path.read_bytes())
    truth_file.write_text(json.dumps(truth))
    return folder, truth


def true_pairs(truth: dict[str, int]) -> set[tuple[str, str]]:
    groups: dict[int, list[str]] = {}
    for path, group in truth.items():
        groups.setdefault(group, []).append(path)
    return {tuple(sorted(p)) for g in groups.values() for p in itertools.combinations(g, 2)}


def scores(found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, float]:
    hits = len(found & truth)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(truth)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"pairs": len(found), "precision": precision, "recall": recall, "f1": f1}


def group_scores(
    pairs: dict[tuple[str, str], float], truth: dict[str, int], true_count: int
) -> dict:
    """``scores`` of every pair within the groups the pairs join into (as ``duplicates``
    joins them: closest first, each method by its own distance), counted per group (a group
    of g files holds g(g-1)/2 pairs; a hash's giant group would not fit listed)."""
    from collections import Counter

    from latentsearch.indexer.serve.duplicates import group_pairs

    names = sorted({p for pair in pairs for p in pair})
    number = {name: n for n, name in enumerate(names)}
    groups = group_pairs(sorted((number[a], number[b], d) for (a, b), d in pairs.items()))
    found = sum(len(g) * (len(g) - 1) // 2 for g in groups)
    hits = 0
    for g in groups:
        same = Counter(truth[names[n]] for n in g if names[n] in truth)
        hits += sum(c * (c - 1) // 2 for c in same.values())
    precision = hits / found if found else 0.0
    recall = hits / true_count
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"pairs": found, "precision": precision, "recall": recall, "f1": f1}


def latentsearch_methods(folder: Path, work: Path) -> dict[str, tuple[dict, float]]:
    from latentsearch.indexer.pipeline.build import build_index
    from latentsearch.indexer.pipeline.train import train_on_folder
    from latentsearch.indexer.serve.duplicates import find_duplicates
    from latentsearch.indexer.store.bundle import IndexBundle

    if not (work / "build_seconds.json").is_file():  # a rerun reuses the model and index
        started = time.perf_counter()
        model = train_on_folder(folder, work / "model")
        trained = time.perf_counter()
        build_index(folder, model, work / "index")
        seconds = {"train": trained - started, "index": time.perf_counter() - trained}
        (work / "build_seconds.json").write_text(json.dumps(seconds))
    seconds = json.loads((work / "build_seconds.json").read_text())
    print(f"trained in {seconds['train']:.0f} s, indexed in {seconds['index']:.0f} s")
    found = {}
    for name, pixels in (("latentsearch (latent codes)", False), ("raw pixels", True)):
        bundle = IndexBundle.load(work / "index")
        began = time.perf_counter()
        report = find_duplicates(bundle, pixels=pixels)
        seconds = time.perf_counter() - began
        paths = bundle.metadata.paths
        pairs = {(paths[a], paths[b]) if paths[a] < paths[b] else (paths[b], paths[a]): d
                 for a, b, d in report.pairs}  # fmt: skip
        print(f"{name}: threshold {report.threshold:.4g}, {len(report.groups)} groups")
        found[name] = (pairs, seconds)
    return found


def imagededup_methods(folder: Path) -> dict[str, tuple[dict, float]]:
    """Each hash method's pairs and seconds, from a child process: after TensorFlow has
    loaded, imagededup's forked worker processes hang (``--imagededup FOLDER``)."""
    command = [sys.executable, __file__, "--imagededup", str(folder)]
    child = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
    return {
        name: ({(a, b): d for a, b, d in pairs}, seconds)
        for name, (pairs, seconds) in child.items()
    }


def run_imagededup(folder: Path) -> None:
    """Print each hash method's pairs (with their Hamming distance) and seconds as JSON."""
    from imagededup.methods import AHash, DHash, PHash, WHash

    found = {}
    for method in (PHash, DHash, WHash, AHash):
        began = time.perf_counter()
        hasher = method(verbose=False)
        duplicates = hasher.find_duplicates(image_dir=folder, recursive=True, scores=True)
        seconds = time.perf_counter() - began
        pairs = {tuple(sorted((str(folder / a), str(folder / b)))): float(d)
                 for a, dups in duplicates.items() for b, d in dups}  # fmt: skip
        found[f"imagededup {method.__name__}"] = (
            [[*p, d] for p, d in sorted(pairs.items())],
            seconds,
        )
    print(json.dumps(found))


def main() -> None:
    if sys.argv[1:2] == ["--imagededup"]:
        return run_imagededup(Path(sys.argv[2]))
    from latentsearch.indexer.files.listing import list_images

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--shared", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--originals", type=int, default=1000, help="per source set")
    parser.add_argument("--unrelated", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cifar = unpacked(args.shared, "cifar10", args.work)
    sign = unpacked(args.shared, "sign-digits", args.work)
    sources = {"cifar": list_images(cifar / "test"), "sign": list_images(sign)}
    folder, truth = make_collection(args.work, sources, args.originals, args.unrelated, args.seed)
    files = len(list_images(folder))
    wanted = true_pairs(truth)
    print(f"{files} files, {len(wanted)} true pairs")
    found = {**latentsearch_methods(folder, args.work), **imagededup_methods(folder)}
    rows = []
    for name, (pairs, seconds) in found.items():
        row = {"method": name, "seconds": seconds, "seconds_per_10k": seconds * 1e4 / files}
        grouped = group_scores(pairs, truth, len(wanted))
        rows.append({**row, "pairs": scores(set(pairs), wanted), "groups": grouped})
    (args.work / "duplicates.json").write_text(json.dumps({"files": files, "rows": rows}, indent=2))
    print("| method | pairs P | R | F1 | groups P | R | F1 | s per 10k photos |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        p, g = row["pairs"], row["groups"]
        print(f"| {row['method']} | {p['precision']:.3f} | {p['recall']:.3f} | {p['f1']:.3f} | "
              f"{g['precision']:.3f} | {g['recall']:.3f} | {g['f1']:.3f} | "
              f"{row['seconds_per_10k']:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()

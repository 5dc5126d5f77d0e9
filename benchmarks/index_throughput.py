"""Images/s of each indexing phase against the fastest plain decode of the same files.

    python benchmarks/index_throughput.py --data FOLDER --model MODEL_DIR [--batch-size 256]
        [--workers N] [--phases baseline,decode,encode,model,build] [--rounds N]

``baseline`` is no product code: Pillow opens each file, draft-decodes a JPEG to the scale
the product uses for this model, converts to RGB and makes an array, in the product's own
layout (``--workers`` threads, ``FILES_PER_TASK`` files a task). ``decode`` is the product's
reading (hash, model pixels, thumbnail); ``encode`` the encoder alone; ``model`` the encoder
plus the decoder pass on the sample whose reconstruction errors a build of this folder
stores; ``build`` a whole ``latentsearch index``. Each phase runs in its own process, so
its peak resident memory (``resource.getrusage(...).ru_maxrss``) is its own. Prints one
JSON line per phase and a markdown table with each phase's rate as a ratio to the
baseline's of the same round (``--rounds N`` runs the phases N times: on a shared machine
the spread between rounds says how far to trust one ratio).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHASES = ("baseline", "decode", "encode", "model", "build")
EXTRA: dict[str, float] = {}  # further figures a phase reports (the build: its index size)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def model_size(model_dir: str) -> tuple[int, int]:
    """(image side, channels) of the model in ``model_dir``, from its config alone."""
    from latentsearch.encoder.config import ModelConfig, load_json
    from latentsearch.encoder.model_files import MODEL_CONFIG_FILE, model_files

    config = load_json(ModelConfig, model_files(model_dir) / MODEL_CONFIG_FILE)
    return config.image_size, config.channels


def plain_decode(paths: list[Path], side: int) -> int:
    """Decode files as a script with no product code would: the fastest plain way."""
    import numpy as np
    from PIL import Image

    for path in paths:
        with Image.open(path) as img:
            img.draft("RGB", (side, side))
            np.asarray(img.convert("RGB"))
    return len(paths)


def run_baseline(args: argparse.Namespace) -> tuple[int, float]:
    from concurrent.futures import ThreadPoolExecutor

    from latentsearch.indexer.files.folders import FILES_PER_TASK
    from latentsearch.indexer.files.images import draft_side
    from latentsearch.indexer.files.listing import list_images

    side = draft_side(model_size(args.model)[0])
    started = time.perf_counter()
    paths = list_images(args.data)
    tasks = [paths[i : i + FILES_PER_TASK] for i in range(0, len(paths), FILES_PER_TASK)]
    with ThreadPoolExecutor(args.workers) as pool:
        count = sum(pool.map(plain_decode, tasks, [side] * len(tasks)))
    return count, time.perf_counter() - started


def run_decode(args: argparse.Namespace) -> tuple[int, float]:
    from latentsearch.indexer.files.folders import FolderScan, read_batches

    size, channels = model_size(args.model)
    started = time.perf_counter()
    scan = FolderScan.of(args.data)
    batches = read_batches(scan, size, channels, args.batch_size, args.workers)
    return sum(len(batch.paths) for batch in batches), time.perf_counter() - started


def run_encode(args: argparse.Namespace) -> tuple[int, float]:
    """Encode ``--count`` images (one decoded batch, repeated): the encoder alone."""
    return time_model(args, with_decoder=False)


def run_model(args: argparse.Namespace) -> tuple[int, float]:
    """The model's whole share of a build: the encoder on ``--count`` images plus the
    decoder on the sample whose reconstruction errors the build stores."""
    return time_model(args, with_decoder=True)


def time_model(args: argparse.Namespace, with_decoder: bool) -> tuple[int, float]:
    import numpy as np

    from latentsearch.encoder.inference import encode_images
    from latentsearch.encoder.training import load_model
    from latentsearch.indexer.files.folders import FolderScan, read_batches
    from latentsearch.indexer.serve.outliers import collection_errors, error_stride

    model = load_model(args.model, with_decoder=with_decoder)
    config = model.config
    scan = FolderScan.of(args.data)
    stride = error_stride(len(scan.paths))  # as the build of this folder samples
    scan.paths = scan.paths[: args.batch_size]
    images = next(read_batches(scan, config.image_size, config.channels, args.batch_size)).images

    def one_batch(done: int) -> int:
        codes = encode_images(model.encoder, images, args.batch_size)
        if with_decoder:
            collection_errors(model, images, codes, np.arange(done, done + len(images)), stride)
        return len(images)

    one_batch(0)  # traces the model, outside the timing
    started = time.perf_counter()
    done = 0
    while done < args.count:
        done += one_batch(done)
    return done, time.perf_counter() - started


def index_file_mib(index_dir: Path) -> float:
    """Size of the saved FAISS indexes: the latent index and every raw-pixel segment."""
    from latentsearch.indexer.store.manifest import (
        LATENT_FILE,
        Manifest,
        current_index_build,
        raw_segments,
    )

    build = current_index_build(index_dir)
    files = [LATENT_FILE, *raw_segments(build, Manifest.load(build))]
    return sum((build / name).stat().st_size for name in files) / 2**20


def run_build(args: argparse.Namespace) -> tuple[int, float]:
    """``build_index`` as the CLI runs it (model loading included, interpreter start not)."""
    from latentsearch.indexer.pipeline.build import BuildSettings, build_index

    settings = BuildSettings(batch_size=args.batch_size, workers=args.workers)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        count = build_index(args.data, args.model, Path(out) / "index", settings).count
        seconds = time.perf_counter() - started
        EXTRA["index_mib"] = round(index_file_mib(Path(out) / "index"))
        return count, seconds


def one_phase(args: argparse.Namespace) -> None:
    run = {
        "baseline": run_baseline,
        "decode": run_decode,
        "encode": run_encode,
        "model": run_model,
        "build": run_build,
    }[args.phase]
    images, seconds = run(args)
    report = {
        "phase": args.phase,
        "images": images,
        "seconds": round(seconds, 2),
        "images_per_s": round(images / seconds, 1),
        "peak_rss_mib": round(peak_rss_mib()),
        **EXTRA,
    }
    print(json.dumps(report), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--count", type=int, default=20_000, help="images for the encode phase")
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--rounds", type=int, default=1, help="run the phases this many times")
    parser.add_argument("--phase", help=argparse.SUPPRESS)  # set in the child processes
    args = parser.parse_args()
    if args.phase:
        return one_phase(args)
    for round_number in range(1, args.rounds + 1):
        rows = []
        for phase in args.phases.split(","):
            child = [sys.executable, __file__, *sys.argv[1:], "--phase", phase]
            output = subprocess.run(child, check=True, capture_output=True, text=True).stdout
            rows.append({"round": round_number, **json.loads(output.strip().splitlines()[-1])})
            print(json.dumps(rows[-1]), flush=True)
        print_table(rows)


def print_table(rows: list[dict]) -> None:
    """One round's phases, each as a ratio to that round's baseline."""
    base = next((r["images_per_s"] for r in rows if r["phase"] == "baseline"), None)
    print("| round | phase | images | seconds | images/s | / baseline | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r['images_per_s'] / base:.2f}" if base else "-"
        print(
            f"| {r['round']} | {r['phase']} | {r['images']} | {r['seconds']} "
            f"| {r['images_per_s']} | {ratio} | {r['peak_rss_mib']} |"
        )


if __name__ == "__main__":
    main()

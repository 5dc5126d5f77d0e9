"""Images/s for decoding alone, encoding alone and a whole ``latentsearch index``, with peak RSS.

    python benchmarks/index_throughput.py --data FOLDER --model MODEL_DIR [--batch-size 256]
        [--workers N] [--phases decode,encode,build]

Each phase runs in its own process, so its peak resident memory
(``resource.getrusage(...).ru_maxrss``) is its own. Prints one JSON line per phase and a
markdown table.
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

PHASES = ("decode", "encode", "build")
EXTRA: dict[str, float] = {}  # further figures a phase reports (the build: its index size)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_decode(args: argparse.Namespace) -> tuple[int, float]:
    from latentsearch.encoder.config import ModelConfig, load_json
    from latentsearch.encoder.training import MODEL_CONFIG_FILE, model_files
    from latentsearch.indexer.reading import FolderScan, read_batches

    config = load_json(ModelConfig, model_files(args.model) / MODEL_CONFIG_FILE)
    started = time.perf_counter()
    scan = FolderScan.of(args.data)
    batches = read_batches(scan, config.image_size, config.channels, args.batch_size, args.workers)
    return sum(len(batch.paths) for batch in batches), time.perf_counter() - started


def run_encode(args: argparse.Namespace) -> tuple[int, float]:
    """Encode ``--count`` images (one decoded batch, repeated): the model alone."""
    from latentsearch.encoder.inference import encode_images
    from latentsearch.encoder.training import load_model
    from latentsearch.indexer.reading import FolderScan, read_batches

    model = load_model(args.model, with_decoder=False)
    config = model.config
    scan = FolderScan.of(args.data)
    scan.paths = scan.paths[: args.batch_size]
    batch = next(read_batches(scan, config.image_size, config.channels, args.batch_size))
    encode_images(model.encoder, batch.images)  # trace once, outside the timing
    started = time.perf_counter()
    done = 0
    while done < args.count:
        done += len(encode_images(model.encoder, batch.images, args.batch_size))
    return done, time.perf_counter() - started


def index_file_mib(index_dir: Path) -> float:
    """Size of the saved FAISS indexes: about what they held in memory."""
    from latentsearch.indexer.bundle import LATENT_FILE, RAW_FILE, current_index_build

    build = current_index_build(index_dir)
    return sum((build / name).stat().st_size for name in (LATENT_FILE, RAW_FILE)) / 2**20


def run_build(args: argparse.Namespace) -> tuple[int, float]:
    """``build_index`` as the CLI runs it (model loading included, interpreter start not)."""
    from latentsearch.indexer.build import BuildSettings, build_index

    settings = BuildSettings(batch_size=args.batch_size, workers=args.workers)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        count = build_index(args.data, args.model, Path(out) / "index", settings).count
        seconds = time.perf_counter() - started
        EXTRA["index_mib"] = round(index_file_mib(Path(out) / "index"))
        return count, seconds


def one_phase(args: argparse.Namespace) -> None:
    run = {"decode": run_decode, "encode": run_encode, "build": run_build}[args.phase]
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
    parser.add_argument("--phase", help=argparse.SUPPRESS)  # set in the child processes
    args = parser.parse_args()
    if args.phase:
        return one_phase(args)
    rows = []
    for phase in args.phases.split(","):
        child = [sys.executable, __file__, *sys.argv[1:], "--phase", phase]
        output = subprocess.run(child, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    print("| phase | images | seconds | images/s | peak RSS MiB |\n|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['phase']} | {r['images']} | {r['seconds']} | {r['images_per_s']} "
            f"| {r['peak_rss_mib']} |"
        )


if __name__ == "__main__":
    main()

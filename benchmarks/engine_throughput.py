"""Images/s of ``latentsearch index`` on the local engine vs the Ray engine, driver peak RSS.

    python benchmarks/engine_throughput.py --data FOLDER --model MODEL_DIR
        [--runs local,ray1,ray2] [--batch-size 256] [--decode-slots 2] [--limit N]

``local`` is ``build_index`` with ``--decode-slots`` decode threads. ``rayN`` is
``build_index_ray`` with N encoder actors on a local Ray started with
``decode-slots + N`` logical CPUs (an actor holds one, and decode tasks need their own;
the physical cores are whatever the machine has). Ray's start-up is timed apart from the
build, as a cluster is already running when a user builds on one. Each run is its own
process, so its peak RSS (``ru_maxrss``) is the driver's alone; Ray's workers are other
processes. ``--limit N`` indexes a copy of the first N files (symlinks) instead.
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


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def one_run(args: argparse.Namespace) -> dict:
    from latentsearch.indexer.pipeline.build import BuildSettings, build_index

    settings = BuildSettings(batch_size=args.batch_size, workers=args.decode_slots)
    report: dict = {"run": args.run}
    with tempfile.TemporaryDirectory() as out:
        if args.run == "local":
            started = time.perf_counter()
            manifest = build_index(args.data, args.model, Path(out) / "index", settings)
        else:
            import ray

            from latentsearch.indexer.pipeline.ray.engine import RaySettings, build_index_ray

            actors = int(args.run.removeprefix("ray"))
            started = time.perf_counter()
            ray.init(num_cpus=args.decode_slots + actors, include_dashboard=False)
            report["ray_init_s"] = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            index_dir, options = Path(out) / "index", RaySettings(actors=actors)
            manifest = build_index_ray(args.data, args.model, index_dir, settings, options)
        seconds = time.perf_counter() - started
    report.update(
        images=manifest.count,
        seconds=round(seconds, 2),
        images_per_s=round(manifest.count / seconds, 1),
        driver_peak_rss_mib=round(peak_rss_mib()),
    )
    return report


def linked_subset(data: str, limit: int, folder: Path) -> str:
    """The first ``limit`` files of ``data`` (in listing order) as symlinks under ``folder``."""
    from latentsearch.indexer.files.listing import list_images

    root = Path(data).resolve()
    for path in list_images(root)[:limit]:
        link = folder / path.relative_to(root)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path)
    return str(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--runs", default="local,ray1,ray2")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--decode-slots", type=int, default=2)
    parser.add_argument("--limit", type=int, help="index only the first N files")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # set in the child processes
    args = parser.parse_args()
    if args.run:
        print(json.dumps(one_run(args)), flush=True)
        return
    with tempfile.TemporaryDirectory() as subset:
        data = linked_subset(args.data, args.limit, Path(subset)) if args.limit else args.data
        rows = []
        for run in args.runs.split(","):
            child = [sys.executable, __file__, *sys.argv[1:], "--data", data, "--run", run]
            output = subprocess.run(child, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(output.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    base = rows[0]["images_per_s"]
    print("| run | images | seconds | images/s | vs first | driver peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{100 * r['images_per_s'] / base:.0f}%"
        print(
            f"| {r['run']} | {r['images']} | {r['seconds']} | {r['images_per_s']} | {ratio} "
            f"| {r['driver_peak_rss_mib']} |"
        )


if __name__ == "__main__":
    main()

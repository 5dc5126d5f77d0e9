"""The whole product at a million images on one machine, beside autofaiss (issue 20).

    python benchmarks/million.py --source CIFAR_TRAIN_DIR --model MODEL_DIR --work WORK
        [--count 1000000] [--memory-budget 2G] [--autofaiss-python PY] [--out FILE.json]
        [--steps images,decode_only,build,update,search,autofaiss]

Makes ``--count`` distinct JPEGs from the source photos (benchmarks/million_images.py,
cached in WORK), then one step after another, each in its own process so that its peak
resident memory (``os.wait4``) is its own:

1. decode only: benchmarks/index_throughput.py's plain Pillow decode of every file;
2. ``latentsearch index --index-type auto --memory-budget B``: wall time, images/s,
   peak RSS, bytes of the latent index, the raw-pixel index and the metadata;
3. ``--update`` after adding 1% new files and removing 1% (the folder is put back after);
4. recall@10 of the chosen index against exact search over the same stored codes, for
   1,000 query photos that are not indexed;
5. one search through ``latentsearch search`` (process start included), 200 through the
   API (``latentsearch api``: p50/p95, its peak RSS) and one through the page (Streamlit's
   AppTest: start-up, then the first result);
6. autofaiss ``build_index`` on the same codes with the same budget (``--autofaiss-python``:
   an interpreter that has autofaiss; it pins numpy<2, so it lives in its own venv).

Prints one JSON line per step and writes them all to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from million_images import folder_bytes, image_path, make_images  # noqa: E402
from million_probes import api_probe, exact_recall  # noqa: E402

from latentsearch.indexer.store.manifest import (  # noqa: E402
    LATENT_FILE,
    METADATA_FILE,
    Manifest,
    current_index_build,
    raw_segments,
)
from latentsearch.indexer.store.thumbnails import segment_name, segment_numbers  # noqa: E402

QUERIES = 1000
STEPS = ("images", "decode_only", "build", "update", "search", "autofaiss")


def last_json_line(output: str) -> dict:
    """The last line of ``output`` that is a JSON object on its own; {} if none is."""
    for line in reversed(output.splitlines()):
        try:
            figures = json.loads(line)
        except ValueError:
            continue
        if isinstance(figures, dict):
            return figures
    return {}


def measured(command: list[str]) -> dict:
    """Run ``command``: the figures of the last JSON line it prints, with its wall seconds
    and peak RSS in MiB (which replace any of the same name)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = code = os.waitstatus_to_exitcode(status)
    if code:
        raise SystemExit(f"{' '.join(command[:3])} failed with exit code {code}")
    return {
        **last_json_line(output),
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024),
    }


def latentsearch(*words: str) -> list[str]:
    return [shutil.which("latentsearch") or "latentsearch", *words]


def build_bytes(index_dir: Path) -> dict:
    build = current_index_build(index_dir)
    manifest = Manifest.load(build)
    sizes = {name: (build / name).stat().st_size for name in (LATENT_FILE, METADATA_FILE)}
    segments = raw_segments(build, manifest)
    sizes["raw segments"] = sum((build / name).stat().st_size for name in segments)
    thumbs = [segment_name(number) for number in segment_numbers(build)]
    sizes["thumbnail segments"] = sum((build / name).stat().st_size for name in thumbs)
    return {
        "bytes": sizes,
        "index_type": manifest.index_type,
        "indexed": manifest.count,
        "raw_pixel_grid": manifest.pixel_grid().describe(),
    }


def step_images(args, ids_for_update: range, ids_for_queries: range) -> dict:
    started = time.perf_counter()
    made = make_images(args.source, args.work / "images", range(args.count), workers=args.workers)
    spare = range(ids_for_update.start, ids_for_queries.stop)
    made += make_images(args.source, args.work / "spare", spare, workers=args.workers)
    return {
        "images": args.count,
        "made_now": made,
        "seconds": round(time.perf_counter() - started, 1),
        "jpeg_bytes": folder_bytes(args.work / "images"),
    }


def step_decode(args) -> dict:
    """benchmarks/index_throughput.py's plain decode of every file, in its own process."""
    script = [sys.executable, str(HERE / "index_throughput.py"), "--phases", "baseline"]
    script += ["--data", str(args.work / "images"), "--model", args.model]
    decode = measured([*script, "--workers", str(args.workers)])
    return {key: decode[key] for key in ("seconds", "peak_rss_mib", "images", "images_per_s")}


def step_build(args, decode_rate: float | None) -> dict:
    shutil.rmtree(args.work / "index", ignore_errors=True)
    index = ["index", "--data", str(args.work / "images"), "--model", args.model]
    index += ["--out", str(args.work / "index"), "--index-type", args.index_type]
    index += ["--memory-budget", args.memory_budget, "--workers", str(args.workers)]
    build = measured(latentsearch(*index))
    build["images_per_s"] = round(args.count / build["seconds"], 1)
    if decode_rate:  # measured in the same run
        build["of_decode_only"] = round(build["images_per_s"] / decode_rate, 3)
    return {**build, **build_bytes(args.work / "index")}


def moved_for_update(args, ids_for_update: range) -> list[tuple[Path, Path]]:
    """Move 1% of the indexed files out and 1% new ones in; the moves, to undo later."""
    images, spare, removed = args.work / "images", args.work / "spare", args.work / "removed"
    gone = range(0, args.count, max(1, args.count // len(ids_for_update)))[: len(ids_for_update)]
    moves = [(image_path(images, i), image_path(removed, i)) for i in gone]
    moves += [(image_path(spare, i), image_path(images / "added", i)) for i in ids_for_update]
    for source, target in moves:
        target.parent.mkdir(parents=True, exist_ok=True)
        source.rename(target)
    return moves


def step_update(args, ids_for_update: range) -> dict:
    moves = moved_for_update(args, ids_for_update)
    try:
        index = ["index", "--update", "--data", str(args.work / "images")]
        index += ["--model", args.model, "--out", str(args.work / "index")]
        figures = measured(latentsearch(*index, "--workers", str(args.workers)))
        build = json.loads((current_index_build(args.work / "index") / "manifest.json").read_text())
        return {**figures, "files": build["update"]}
    finally:
        for source, target in reversed(moves):
            target.rename(source)


def search_steps(args, ids_for_queries: range, record) -> None:
    """Recall of the chosen index, then one search each through the CLI, API and page."""
    queries = [image_path(args.work / "spare", i) for i in ids_for_queries]
    record("recall", exact_recall(args.work / "index", queries, args.work / "autofaiss"))
    index = str(args.work / "index")
    cli = measured(latentsearch("search", "--index", index, "--json", str(queries[0])))
    record("cli_search", {"seconds": cli["seconds"], "peak_rss_mib": cli["peak_rss_mib"]})
    record("api", api_probe(args.work / "index", queries[:200]))
    page = measured(
        [sys.executable, str(HERE / "million_probes.py"), "page", index, str(queries[0])]
    )
    record("page", page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, required=True, help="folder of source photos")
    parser.add_argument("--model", required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--memory-budget", default="2G")
    parser.add_argument("--index-type", default="auto", help="as `latentsearch index` takes it")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--autofaiss-python", help="an interpreter with autofaiss installed")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--steps",
        type=lambda text: text.split(","),
        default=STEPS,
        help=f"which of {','.join(STEPS)} to run (default: all; later ones need the build)",
    )
    args = parser.parse_args()
    ids_for_update = range(args.count, args.count + max(1, args.count // 100))
    ids_for_queries = range(ids_for_update.stop, ids_for_update.stop + QUERIES)
    report: dict = {"count": args.count, "memory_budget": args.memory_budget}

    def record(name: str, figures: dict) -> None:
        report[name] = figures
        print(json.dumps({"step": name, **figures}), flush=True)

    if "images" in args.steps:
        record("images", step_images(args, ids_for_update, ids_for_queries))
    if "decode_only" in args.steps:
        record("decode_only", step_decode(args))
    if "build" in args.steps:
        record("build", step_build(args, report.get("decode_only", {}).get("images_per_s")))
    if "update" in args.steps:
        update = step_update(args, ids_for_update)
        if "build" in report:
            update["of_build"] = round(update["seconds"] / report["build"]["seconds"], 3)
        record("update", update)
    if "search" in args.steps:
        search_steps(args, ids_for_queries, record)
    if "autofaiss" in args.steps and args.autofaiss_python:
        theirs = [
            args.autofaiss_python,
            str(HERE / "autofaiss_run.py"),
            str(args.work / "autofaiss"),
        ]
        theirs += ["--memory-budget", args.memory_budget, "--cores", str(args.workers)]
        record("autofaiss", measured(theirs))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Encoder, indexing and search throughput on whatever accelerator the Keras backend sees.

    python benchmarks/gpu_check.py [--small] [--out gpu_check.json] [--workdir DIR]
        [--images N] [--sizes 32,64] [--policies float32,mixed_float16,mixed_bfloat16]
        [--batches 1024,2048,4096,8192] [--files M] [--jpeg-side 32] [--index-type auto]
        [--queries Q] [--codes C] [--k 10] [--chunk 1024] [--workers W] [--skip STAGES]

Measures, with the product's own code (``gpu_check_stages``): encoder images/s of the
default model at each input size, dtype policy and batch size over N images in memory;
``latentsearch index`` of M generated JPEG files against decoding them alone; exact
search of Q queries over C codes, FAISS on the CPU and the backend's matmul top-k.
Writes one JSON file and prints a table. ``KERAS_BACKEND`` defaults to jax here. Without
an installed ``latentsearch``, this checkout is put on the path (``gpu_check.sh`` also
installs carried wheels first; docs/gpu.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = ("encoder", "indexer", "webapp")  # latentsearch.<dir>, as pyproject maps them
FULL = dict(
    images=1_000_000,
    sizes="32,64",
    batches="1024,2048,4096,8192",
    files=200_000,
    queries=10_000,
    codes=1_000_000,
)
SMALL = dict(images=512, sizes="32,64", batches="128,256", files=200, queries=64, codes=4096)
POLICIES = "float32,mixed_float16,mixed_bfloat16"
GOAL_ENCODE = 200_000  # img/s at 32 px in bfloat16 on the H200 (issue 16)
GOAL_INDEX_SHARE = 0.8  # end-to-end index rate / decode-only rate


def use_this_checkout(site: Path) -> None:
    """Import ``latentsearch`` from this checkout: a folder ``site`` of symlinks first on
    the path (and on PYTHONPATH, for the ``latentsearch index`` subprocess)."""
    (site / "latentsearch").mkdir(parents=True)
    for name in PACKAGE_DIRS:
        (site / "latentsearch" / name).symlink_to(REPO / name, target_is_directory=True)
    sys.path.insert(0, str(site))
    paths = [str(site), os.environ.get("PYTHONPATH")]
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, paths))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--small", action="store_true", help="CPU-sized defaults (a test, a laptop)")
    p.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    p.add_argument("--workdir", type=Path, help="JPEGs, models, index (default: a temp dir)")
    p.add_argument("--images", type=int)
    p.add_argument("--sizes")
    p.add_argument("--policies", default=POLICIES)
    p.add_argument("--batches")
    p.add_argument("--files", type=int)
    p.add_argument("--jpeg-side", type=int, default=32)
    p.add_argument("--index-type", default="auto")
    p.add_argument("--queries", type=int)
    p.add_argument("--codes", type=int)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--chunk", type=int, default=1024, help="queries per matmul top-k call")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--skip", default="", help="comma-separated: encode,index,search")
    args = p.parse_args(argv)
    for name, value in (SMALL if args.small else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.sizes, args.batches = _ints(args.sizes), _ints(args.batches)
    args.policies, args.skip = args.policies.split(","), set(filter(None, args.skip.split(",")))
    return args


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def environment() -> dict:
    import faiss
    import keras

    from latentsearch.encoder.backend import backend_versions, visible_gpus

    return {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "faiss": faiss.__version__,
        **backend_versions(),
        "gpus": list(visible_gpus()),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }


def index_stage(args: argparse.Namespace, work: Path) -> dict:
    """Generate the JPEGs, decode them alone, then index them with ``latentsearch index``."""
    import gpu_check_stages as stages

    from latentsearch.indexer.pipeline.train import choose_shape

    photos = work / "photos"
    made = stages.make_jpegs(photos, args.files, args.jpeg_side, args.workers)
    size, _, _ = choose_shape(photos)  # the product's choice for these photos
    model_dir = stages.default_model(size, work / f"model-index-{size}")
    decode = stages.decode_only(photos, size, 1024, args.workers)
    index = stages.index_end_to_end(
        photos, model_dir, work / "index", args.workers, args.index_type
    )
    return {
        "files": args.files,
        "jpeg_side": args.jpeg_side,
        "model_size": size,
        "generate_seconds": round(made, 3),
        "decode_only": decode,
        "index": index,
        "index_share_of_decode": round(index["files_per_s"] / decode["files_per_s"], 4),
    }


def encode_stage(args: argparse.Namespace, work: Path) -> list[dict]:
    import gpu_check_stages as stages

    rows = []
    for size in args.sizes:
        model_dir = stages.default_model(size, work / f"model-{size}")
        rows += stages.encode_sweep(model_dir, size, args.images, args.policies, args.batches)
    return rows


def goals(report: dict) -> dict:
    """The issue's goals, judged from this run's figures (None where not measured)."""
    bf16 = [
        r["images_per_s"]
        for r in report.get("encode", [])
        if r["size"] == 32 and r["policy"] == "mixed_bfloat16"
    ]
    share = report.get("index", {}).get("index_share_of_decode")
    return {
        "encode_32px_bf16_best": max(bf16) if bf16 else None,
        "encode_goal": GOAL_ENCODE,
        "encode_met": bool(bf16) and max(bf16) >= GOAL_ENCODE,
        "index_share": share,
        "index_share_goal": GOAL_INDEX_SHARE,
        "index_met": share is not None and share >= GOAL_INDEX_SHARE,
    }


def print_table(report: dict) -> None:
    env = report["environment"]
    print(f"\nbackend {env['keras_backend']}, GPUs {env['gpus'] or 'none'}, {env['cpus']} CPUs")
    print(f"{'size':>5} {'policy':<15} {'batch':>6} {'images':>9} {'img/s':>12}")
    for r in report.get("encode", []):
        row = f"{r['size']:>5} {r['policy']:<15} {r['batch']:>6} {r['images']:>9}"
        print(f"{row} {r['images_per_s']:>12,.0f}")
    if "index" in report:
        i = report["index"]
        print(
            f"\n{i['files']} JPEGs of {i['jpeg_side']} px, {i['model_size']} px model: "
            f"decode only {i['decode_only']['files_per_s']:,.0f} files/s, "
            f"latentsearch index {i['index']['files_per_s']:,.0f} files/s "
            f"({i['index']['wall_files_per_s']:,.0f} with start-up), "
            f"{i['index_share_of_decode']:.0%} of decode"
        )
    if "search" in report:
        s = report["search"]
        print(
            f"\nexact top-{s['k']} of {s['queries']} queries over {s['codes']} codes: "
            f"FAISS CPU {s['faiss_cpu']['queries_per_s']:,.0f} q/s, backend top-k "
            f"{s['backend_topk']['queries_per_s']:,.0f} q/s "
            f"(agreement {s['backend_topk']['agreement']:.3f})"
        )
    print(f"\ngoals: {report['goals']}")


def run(args: argparse.Namespace, work: Path) -> dict:
    import gpu_check_stages as stages

    settings = {k: sorted(v) if isinstance(v, set) else v for k, v in vars(args).items()}
    report = {
        "environment": environment(),
        "settings": json.loads(json.dumps(settings, default=str)),
    }
    started = time.perf_counter()
    if "index" not in args.skip:  # first: its own process then has the GPU to itself
        report["index"] = index_stage(args, work)
    if "encode" not in args.skip:
        report["encode"] = encode_stage(args, work)
    if "search" not in args.skip:
        report["search"] = stages.search_pair(args.codes, args.queries, 128, args.k, args.chunk)
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["goals"] = goals(report)
    return report


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    # JAX takes 75% of the GPU at start-up; the index subprocess needs its share too
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # gpu_check_stages
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        use_this_checkout(Path(scratch) / "path")
        work = args.workdir or Path(scratch) / "work"
        report = run(args, work)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The measurements of ``gpu_check.py``, each through the product's own code.

Encoding: the default model, built by the product's builders (untrained: throughput does
not depend on the weights), run by ``inference.encode_images`` under each Keras dtype
policy (``devices.with_policy``). Indexing: ``latentsearch index`` in its own process
against ``folders.read_batches`` alone (the same decode, thumbnail and hash). Search: the
product's exact FAISS index against the backend's matmul + ``keras.ops.top_k``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

CLASSES = 10  # sub-folders of the generated photos, so every file gets a label
POOL = 4096  # distinct images behind the in-memory set (the contents do not change speed)


def default_model(size: int, out: Path, seed: int = 0) -> Path:
    """The default model for ``size``-px photos, untrained, saved as ``train`` saves it:
    the mirror-max PCA search code that photos get (fitted on random images)."""
    from latentsearch.encoder.adaptive import filters_for
    from latentsearch.encoder.config import ModelConfig, TrainConfig
    from latentsearch.encoder.search_code import search_parts
    from latentsearch.encoder.training import save_model
    from latentsearch.encoder.variants import build_autoencoder

    config = ModelConfig(image_size=size, filters=filters_for(size))
    sample = np.random.default_rng(seed).random((1024, size, size, 3), dtype=np.float32)
    model = build_autoencoder(config, seed=seed)
    parts, train = search_parts(model, config, TrainConfig(mirror=True, seed=seed), sample)
    return save_model(model, config, train, {}, out, parts=parts)


def images_in_memory(count: int, size: int, seed: int = 0) -> np.ndarray:
    """``count`` images (N, size, size, 3) float32 in [0, 1], tiled from a random pool."""
    pool = np.random.default_rng(seed).random((min(POOL, count), size, size, 3), np.float32)
    images = np.empty((count, size, size, 3), np.float32)
    for start in range(0, count, len(pool)):
        part = images[start : start + len(pool)]
        part[...] = pool[: len(part)]
    return images


def encode_rate(encoder, images: np.ndarray, batch: int) -> dict:
    """Images/s of ``encode_images`` at ``batch``, after one call that compiles."""
    from latentsearch.encoder.inference import encode_images

    started = time.perf_counter()
    encode_images(encoder, images[:batch], batch)
    compiled = time.perf_counter() - started
    count = len(images) - len(images) % batch  # whole batches: one compiled shape
    started = time.perf_counter()
    codes = encode_images(encoder, images[:count], batch)
    seconds = time.perf_counter() - started
    if not np.isfinite(codes).all():
        raise RuntimeError(f"non-finite codes at batch {batch}")
    return {
        "batch": batch,
        "images": count,
        "seconds": round(seconds, 4),
        "images_per_s": round(count / seconds, 1),
        "first_call_s": round(compiled, 3),
    }


def encode_sweep(model_dir: Path, size: int, count: int, policies, batches) -> list[dict]:
    """One row per (policy, batch size): the default encoder over ``count`` images."""
    from latentsearch.encoder.devices import with_policy
    from latentsearch.encoder.training import load_model

    model = load_model(model_dir, with_decoder=False)
    images = images_in_memory(count, size)
    rows = []
    for policy in policies:
        encoder = with_policy(model.encoder, policy)
        for batch in batches:
            row = encode_rate(encoder, images, min(batch, count))
            rows.append({"size": size, "policy": policy, **row})
            print(
                f"  encode {size}px {policy} batch {row['batch']}: "
                f"{row['images_per_s']:,.0f} img/s",
                flush=True,
            )
    return rows


def _write_jpegs(job: tuple[Path, int, int, int, int]) -> int:
    """Write files ``start`` to ``stop``: smooth random colour fields with some noise."""
    from PIL import Image

    folder, start, stop, side, seed = job
    rng = np.random.default_rng(seed + start)
    for i in range(start, stop):
        coarse = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8), "RGB")
        smooth = np.asarray(coarse.resize((side, side), Image.BICUBIC), np.int16)
        noisy = np.clip(smooth + rng.integers(-12, 13, smooth.shape), 0, 255).astype(np.uint8)
        path = folder / f"class_{i % CLASSES}" / f"{i:07d}.jpg"
        Image.fromarray(noisy, "RGB").save(path, quality=90)
    return stop - start


def make_jpegs(folder: Path, count: int, side: int, workers: int, seed: int = 0) -> float:
    """``count`` JPEG files of ``side`` px under ``folder``; the seconds it took."""
    for label in range(CLASSES):
        (folder / f"class_{label}").mkdir(parents=True, exist_ok=True)
    step = max(1, -(-count // (workers * 8)))
    jobs = [(folder, s, min(s + step, count), side, seed) for s in range(0, count, step)]
    started = time.perf_counter()
    # spawned, not forked: a fork of a process that started JAX's threads may deadlock
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
        written = sum(pool.map(_write_jpegs, jobs))
    if written != count:
        raise RuntimeError(f"wrote {written} of {count} JPEG files")
    return time.perf_counter() - started


def decode_only(folder: Path, size: int, batch: int, workers: int) -> dict:
    """Files/s of the index build's own reading (decode, resize, thumbnail, hash), alone."""
    from latentsearch.indexer.files.folders import FolderScan, read_batches

    started = time.perf_counter()
    scan = FolderScan.of(folder)
    count = sum(len(b.paths) for b in read_batches(scan, size, 3, batch, workers, "decoding"))
    seconds = time.perf_counter() - started
    return {
        "files": count,
        "skipped": len(scan.skipped),
        "seconds": round(seconds, 3),
        "files_per_s": round(count / seconds, 1),
    }


def index_end_to_end(folder: Path, model_dir: Path, out: Path, workers: int, kind: str) -> dict:
    """``latentsearch index`` in its own process: wall time, and the build's own time."""
    command = [
        sys.executable,
        "-m",
        "latentsearch.indexer.cli.parser",
        "index",
        "--data",
        str(folder),
        "--model",
        str(model_dir),
        "--out",
        str(out),
        "--workers",
        str(workers),
        "--index-type",
        kind,
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"latentsearch index failed:\n{done.stderr[-3000:]}")
    manifest = json.loads(_manifest(out))
    build = manifest["build_seconds"]
    return {
        "files": manifest["count"],
        "skipped": len(manifest["skipped"]),
        "index_type": manifest["index_type"],
        "wall_seconds": round(wall, 3),
        "build_seconds": round(build, 3),
        "files_per_s": round(manifest["count"] / build, 1),
        "wall_files_per_s": round(manifest["count"] / wall, 1),
        "versions": manifest["versions"],
    }


def _manifest(out: Path) -> str:
    from latentsearch.encoder.versioned_dir import current_build
    from latentsearch.indexer.store.manifest import MANIFEST_FILE

    return (current_build(out) / MANIFEST_FILE).read_text()


def faiss_search(codes: np.ndarray, queries: np.ndarray, k: int) -> tuple[dict, np.ndarray]:
    """The product's exact cosine index (``new_index("Flat")``): add, then search."""
    from latentsearch.indexer.indexes.faiss_helpers import new_index, prepare_vectors

    index = new_index("Flat", codes.shape[1], "cosine")
    started = time.perf_counter()
    index.add_with_ids(prepare_vectors(codes, "cosine"), np.arange(len(codes)))
    added = time.perf_counter() - started
    started = time.perf_counter()
    _, ids = index.search(prepare_vectors(queries, "cosine"), k)
    seconds = time.perf_counter() - started
    return {
        "add_seconds": round(added, 4),
        "seconds": round(seconds, 4),
        "queries_per_s": round(len(queries) / seconds, 1),
    }, ids


def backend_topk(
    codes: np.ndarray, queries: np.ndarray, k: int, chunk: int
) -> tuple[dict, np.ndarray]:
    """The same search as one matmul and ``keras.ops.top_k`` per ``chunk`` queries, on the
    backend's device (the GPU where it has one); upload of the codes timed apart."""
    from keras import ops

    from latentsearch.indexer.indexes.faiss_helpers import prepare_vectors

    started = time.perf_counter()
    base = ops.convert_to_tensor(prepare_vectors(codes, "cosine"))
    ops.convert_to_numpy(base[:1])  # waits for the copy
    uploaded = time.perf_counter() - started
    prepared = prepare_vectors(queries, "cosine")

    def top(rows: np.ndarray) -> np.ndarray:
        _, ids = ops.top_k(ops.matmul(ops.convert_to_tensor(rows), ops.transpose(base)), k)
        return ops.convert_to_numpy(ids)

    top(prepared[:chunk])  # compiles
    started = time.perf_counter()
    ids = np.concatenate([top(prepared[i : i + chunk]) for i in range(0, len(prepared), chunk)])
    seconds = time.perf_counter() - started
    return {
        "upload_seconds": round(uploaded, 4),
        "seconds": round(seconds, 4),
        "chunk": chunk,
        "queries_per_s": round(len(queries) / seconds, 1),
    }, ids


def search_pair(count: int, queries: int, dim: int, k: int, chunk: int) -> dict:
    """FAISS on the CPU and the backend's top-k over the same random codes, and how often
    their top-k ids agree (float32 sums in another order, or TF32 on a GPU, may swap ties)."""
    rng = np.random.default_rng(1)
    codes = rng.standard_normal((count, dim), np.float32)
    asked = rng.standard_normal((queries, dim), np.float32)
    faiss_row, faiss_ids = faiss_search(codes, asked, k)
    topk_row, topk_ids = backend_topk(codes, asked, k, chunk)
    agree = np.mean([len(set(a) & set(b)) / k for a, b in zip(faiss_ids, topk_ids, strict=True)])
    return {
        "codes": count,
        "queries": queries,
        "dim": dim,
        "k": k,
        "faiss_cpu": faiss_row,
        "backend_topk": {**topk_row, "agreement": round(float(agree), 4)},
    }

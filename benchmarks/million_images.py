"""Distinct JPEG photos for the scale benchmark, made from a folder of source photos.

Image ``i`` is source photo ``i % len(sources)`` under a seeded random crop, mirror, colour
gain and offset, and a small solid rectangle pasted somewhere (seed ``(seed, i)``), so
every file differs from every other while still looking like a photo of its source.
Files go into folders of ``PER_FOLDER``; a folder is written whole, then marked done, so a
second call only makes what is missing (a cache that survives an interrupted run).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from latentsearch.indexer.files.listing import list_images

PER_FOLDER = 1000
SIDE = 32
QUALITY = 90
DONE = ".done"


def image_path(root: Path, i: int) -> Path:
    return root / f"{i // PER_FOLDER:05d}" / f"{i:07d}.jpg"


def variant(source: Image.Image, rng: np.random.Generator) -> Image.Image:
    """One seeded crop, mirror, colour shift and pasted rectangle of ``source``."""
    width, height = source.size
    scale = rng.uniform(0.7, 1.0)
    w, h = max(4, round(width * scale)), max(4, round(height * scale))
    left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    image = source.crop((left, top, left + w, top + h)).resize((SIDE, SIDE), Image.BILINEAR)
    if rng.random() < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    pixels = np.asarray(image, np.float32) * rng.uniform(0.8, 1.2, 3) + rng.uniform(-20, 20, 3)
    box = rng.integers(2, 8, 2)
    x, y = rng.integers(0, SIDE - box + 1)
    pixels[y : y + box[1], x : x + box[0]] = rng.integers(0, 256, 3)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def make_folder(sources: list[str], root: Path, ids: range, seed: int) -> int:
    """Write images ``ids`` (all in one folder) unless a finished run already did."""
    target = image_path(root, ids[0]).parent
    marker = target / f"{DONE}-{ids.start}-{ids.stop}"
    if marker.is_file():
        return 0
    target.mkdir(parents=True, exist_ok=True)
    for i in ids:
        with Image.open(sources[i % len(sources)]) as source:
            photo = variant(source.convert("RGB"), np.random.default_rng([seed, i]))
        photo.save(image_path(root, i), quality=QUALITY)
    marker.write_text("complete\n")
    return len(ids)


def make_images(source_dir: Path, root: Path, ids: range, seed: int = 0, workers: int = 2) -> int:
    """Images ``ids`` under ``root``; returns how many were written this call."""
    sources = [str(path) for path in list_images(source_dir)]
    if not sources:
        raise SystemExit(f"no photos under {source_dir}")
    edges = [ids.start, *range((ids.start // PER_FOLDER + 1) * PER_FOLDER, ids.stop, PER_FOLDER)]
    parts = [range(a, b) for a, b in zip(edges, [*edges[1:], ids.stop], strict=True)]
    with ProcessPoolExecutor(workers) as pool:
        jobs = [pool.submit(make_folder, sources, root, part, seed) for part in parts]
        return sum(job.result() for job in jobs)


def folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.jpg"))

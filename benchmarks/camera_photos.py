"""Camera-size JPEGs for the throughput benchmark, made from real photos.

    python benchmarks/camera_photos.py --source CIFAR_TEST_DIR --out DIR [--count 2000]
        [--width 4000 --height 3000 --quality 90]

Each photo is a grid of real photos (a different run of the source folder per photo),
scaled up to the requested size, with seeded sensor-like noise so it compresses like a
camera photo rather than a smooth upscale; one in four carries an EXIF "rotate 90°" tag, as
phone photos often do. Encoding a 12-megapixel JPEG takes about a second here, so each of
``count / copies`` photos is written ``--copies`` times, the copies told apart by a JPEG
comment: every file has its own bytes and hash, and decodes like the photo it holds.
Files already there are kept, so a second run only tops the folder up.
"""

from __future__ import annotations

import argparse
import io
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from latentsearch.indexer.files.listing import list_images

TILE = 250  # px per source photo in the grid
NOISE_SIGMA = 6.0  # grey levels; camera photos at base ISO show a few
ROTATED_EXIF = 6  # EXIF orientation "rotate 90° clockwise to show"


def make_photo(sources: list[Path], width: int, height: int, seed: int) -> Image.Image:
    """A width x height RGB photo: a grid of ``sources`` scaled up, plus noise."""
    rng = np.random.default_rng(seed)
    canvas = Image.new("RGB", (width, height))
    columns, rows = -(-width // TILE), -(-height // TILE)
    for i in range(columns * rows):
        with Image.open(sources[i % len(sources)]) as tile:
            tile = tile.convert("RGB").resize((TILE, TILE), Image.Resampling.BICUBIC)
        canvas.paste(tile, ((i % columns) * TILE, (i // columns) * TILE))
    pixels = np.asarray(canvas, dtype=np.int16)
    noise = rng.normal(0.0, NOISE_SIGMA, size=pixels.shape[:2] + (1,)).astype(np.int16)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


def with_comment(jpeg: bytes, text: str) -> bytes:
    """``jpeg`` with a comment (COM) segment right after its start-of-image marker."""
    body = text.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]


def write_photo(job: tuple[list[Path], list[Path], int, int, int, int]) -> int:
    sources, paths, width, height, quality, seed = job
    photo = make_photo(sources, width, height, seed)
    exif = Image.Exif()
    if seed % 4 == 0:
        exif[0x0112] = ROTATED_EXIF
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=quality, exif=exif)
    for copy, path in enumerate(paths):
        partial = path.with_suffix(".part")
        partial.write_bytes(with_comment(buffer.getvalue(), f"copy {copy} of photo {seed}"))
        os.replace(partial, path)  # a half-written file never looks like a photo
    return len(buffer.getvalue()) * len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", required=True, help="folder of real photos to tile")
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--quality", type=int, default=90)
    parser.add_argument("--copies", type=int, default=10, help="files per photo encoded")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    sources = list_images(args.source)
    per_photo = -(-args.width // TILE) * -(-args.height // TILE)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    for photo in range(-(-args.count // args.copies)):
        numbers = range(photo * args.copies, min(args.count, (photo + 1) * args.copies))
        paths = [out / f"photo-{n:05d}.jpg" for n in numbers]
        if not all(path.exists() for path in paths):
            start = (photo * per_photo) % max(1, len(sources) - per_photo)
            picked = sources[start : start + per_photo]
            jobs.append((picked, paths, args.width, args.height, args.quality, photo))
    with ProcessPoolExecutor(args.workers) as pool:
        written = sum(pool.map(write_photo, jobs))
    total = sum(p.stat().st_size for p in out.glob("photo-*.jpg"))
    print(f"wrote {len(jobs)} photos ({written / 2**20:.0f} MiB)")
    print(f"{out} holds {total / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()

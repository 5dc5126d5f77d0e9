"""Reading a folder of images in batches, decoding in parallel threads ahead of the model."""

from __future__ import annotations

import hashlib
import logging
import os
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from latentsearch.encoder.errors import UserError
from latentsearch.indexer.files.images import (
    ImageReadError,
    IndexedImage,
    as_model_input,
    read_for_index,
)
from latentsearch.indexer.files.listing import label_for, list_image_files

log = logging.getLogger(__name__)
DEFAULT_WORKERS = min(8, os.cpu_count() or 1)
# Files per thread task: a future per small file cost more, in the GIL, than its decode.
FILES_PER_TASK = 32


class NothingReadableError(UserError, RuntimeError):
    """Every image file of a folder (or of the sample read from it) failed to read."""


@dataclass(frozen=True)
class Skipped:
    """A file that could not be read, and why."""

    path: str
    reason: str


@dataclass
class ImageBatch:
    """Decoded images of one batch, with what maps each back to its file."""

    images: np.ndarray  # (n, size, size, channels) float32 in [0, 1]
    paths: list[str]
    labels: list[str | None]
    thumbnails: list[bytes]
    hashes: list[str] = field(default_factory=list)  # sha256 of each file's bytes
    signatures: list[tuple[int, int, int]] = field(default_factory=list)  # file_signature


@dataclass
class FolderScan:
    """The image files under a folder, and those that failed to read so far."""

    root: Path
    paths: list[Path]
    skipped: list[Skipped] = field(default_factory=list)

    @classmethod
    def of(cls, root: str | Path) -> FolderScan:
        root = Path(root).resolve()
        return cls(root=root, paths=[Path(path) for path in image_files(root)])


def image_files(root: Path) -> list[str]:
    """The image files under ``root`` as strings (``list_image_files``); raises
    ``FileNotFoundError`` when there are none."""
    paths = list_image_files(root)
    if not paths:
        raise FileNotFoundError(f"no image files found under {root}")
    return paths


def nothing_readable(root: Path, listed: int, skipped: Sequence[Skipped]) -> NothingReadableError:
    """The one error for ``listed`` image files under ``root`` that all failed to read."""
    first = f"; first failure: {skipped[0].path}: {skipped[0].reason}" if skipped else ""
    return NothingReadableError(
        f"none of the {listed} image files under {root} could be read{first}"
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_files(paths: Sequence[Path], workers: int = DEFAULT_WORKERS) -> list[str]:
    """sha256 of each file, in order; one contiguous slice per thread (file reads and
    hashlib release the GIL), as one future per small file would cost more than its hash."""
    workers = max(1, min(workers, len(paths)))
    size = -(-len(paths) // workers) if paths else 1
    slices = [paths[i : i + size] for i in range(0, len(paths), size)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = pool.map(lambda part: [file_sha256(p) for p in part], slices)
        return [digest for part in parts for digest in part]


def read_or_reason(path: Path, size: int, channels: int) -> IndexedImage | str:
    """The file read for the index (pixels, thumbnail, hash), or why it could not be: the
    one read both the local and the Ray build use."""
    try:
        return read_for_index(path, size, channels)
    except ImageReadError as err:
        return err.reason


def _read_slice(paths: Sequence[Path], size: int, channels: int) -> list[IndexedImage | str]:
    return [read_or_reason(path, size, channels) for path in paths]


def _collect(scan: FolderScan, chunk: Sequence[Path], futures: list[Future]) -> ImageBatch:
    batch = ImageBatch(images=np.empty(0), paths=[], labels=[], thumbnails=[])
    results = [result for future in futures for result in future.result()]
    pixels = []
    for path, image in zip(chunk, results, strict=True):
        if isinstance(image, str):
            scan.skipped.append(Skipped(str(path), image))
            log.warning("skipped %s: %s", path, image)
            continue
        pixels.append(image.pixels)
        batch.paths.append(str(path))
        batch.labels.append(label_for(path, scan.root))
        batch.thumbnails.append(image.thumbnail)
        batch.hashes.append(image.sha256)
        batch.signatures.append(image.signature)
    if pixels:
        batch.images = as_model_input(np.stack(pixels))
    return batch


def read_batches(
    scan: FolderScan,
    size: int,
    channels: int,
    batch_size: int = 256,
    workers: int = DEFAULT_WORKERS,
    description: str = "reading",
) -> Generator[ImageBatch, None, None]:
    """Yield batches of decoded images; unreadable files are recorded in ``scan.skipped``.

    Two batches are decoded ahead of the one being consumed, so the model never waits on
    decoding and memory stays bounded by the batch size, not the folder.
    """
    pending: deque[tuple[Sequence[Path], list[Future]]] = deque()
    # closed however the batches end: a consumer's error (``contextlib.closing``) clears
    # the bar before the error is printed, not after it at exit
    with (
        tqdm(total=len(scan.paths), desc=description, unit="img", leave=False) as progress,
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
    ):
        for start in range(0, len(scan.paths), batch_size):
            chunk = scan.paths[start : start + batch_size]
            slices = [chunk[i : i + FILES_PER_TASK] for i in range(0, len(chunk), FILES_PER_TASK)]
            futures = [pool.submit(_read_slice, part, size, channels) for part in slices]
            pending.append((chunk, futures))
            if len(pending) > 2:
                yield from _ready(scan, pending, progress)
        while pending:
            yield from _ready(scan, pending, progress)


def _ready(scan: FolderScan, pending: deque, progress: tqdm) -> Iterator[ImageBatch]:
    chunk, futures = pending.popleft()
    batch = _collect(scan, chunk, futures)
    progress.update(len(chunk))
    if batch.paths:
        yield batch


def read_folder_array(
    root: str | Path, size: int, channels: int, workers: int = DEFAULT_WORKERS
) -> tuple[np.ndarray, list[str | None], FolderScan]:
    """Every readable image under ``root`` as one array (for training)."""
    scan = FolderScan.of(root)
    images = np.empty((len(scan.paths), size, size, channels), dtype=np.float32)
    labels: list[str | None] = []
    filled = 0
    for batch in read_batches(scan, size, channels, workers=workers, description="loading"):
        images[filled : filled + len(batch.paths)] = batch.images
        labels.extend(batch.labels)
        filled += len(batch.paths)
    if filled == 0:
        raise nothing_readable(scan.root, len(scan.paths), scan.skipped)
    return images[:filled], labels, scan

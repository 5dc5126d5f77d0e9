"""The image files of a folder, and the label each one's sub-folder gives it."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
)


def list_images(root: str | Path) -> list[Path]:
    """Return image files under ``root`` (recursive, sorted, hidden entries skipped)."""
    return [Path(path) for path in list_image_files(root)]


def list_image_files(root: str | Path) -> list[str]:
    """``list_images`` as strings: a million ``Path`` objects take seconds to make."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"image folder does not exist: {root}")
    if not root.is_dir():
        raise NotADirectoryError(f"image folder is a file, not a folder: {root}")

    return list(_sorted_walk(str(root)))


def _sorted_walk(folder: str) -> Iterator[str]:
    """Image files under ``folder`` in the order Paths sort (part by part): each folder's
    entries by name, a sub-folder's files where its name falls. Sorting a million full
    paths by their parts afterwards took seconds. Like ``os.walk``, links to folders are
    not followed and an unreadable folder is skipped with a warning."""
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as error:
        log.warning("skipping unreadable folder %s: %s", folder, error.strerror)
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if not entry.is_symlink():
                yield from _sorted_walk(entry.path)
        elif os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS:
            yield entry.path


def label_for(path: Path, root: Path) -> str | None:
    """Name of the top-level sub-folder of ``root`` holding ``path``; None if directly in root."""
    try:
        parts = Path(path).relative_to(root).parts
    except ValueError:
        raise ValueError(f"{path} is not inside {root}") from None
    return parts[0] if len(parts) > 1 else None


def file_signature(path: str | os.PathLike) -> tuple[int, int, int]:
    """(size, modification time, now) in bytes and ns; (0, 0, 0) when it cannot be read."""
    try:
        status = os.stat(path)
    except OSError:
        return (0, 0, 0)
    return (status.st_size, status.st_mtime_ns, time.time_ns())


def sizes_and_times(paths: list[str]) -> np.ndarray:
    """(n, 2) int64: each file's size and modification time in ns; -1s where it cannot be
    read. One array for the lot: an update compares a million of them with its records."""
    sizes, times = [], []  # gathered as lists: a numpy row assignment per file cost 0.5 s
    for path in paths:
        try:
            status = os.stat(path)
        except OSError:
            sizes.append(-1)
            times.append(-1)
            continue
        sizes.append(status.st_size)
        times.append(status.st_mtime_ns)
    return np.array([sizes, times], dtype=np.int64).T.reshape(len(paths), 2)

"""The image files of a folder, and the label each one's sub-folder gives it."""

from __future__ import annotations

import logging
import os
import time
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

    def warn(error: OSError) -> None:
        log.warning("skipping unreadable folder %s: %s", error.filename, error.strerror)

    found = []
    for folder, dirs, files in os.walk(root, onerror=warn):
        dirs[:] = [name for name in dirs if not name.startswith(".")]  # prunes the walk
        for name in files:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                found.append(os.path.join(folder, name))
    # sorted as Paths sort (part by part), on strings: a million Path comparisons take seconds
    return sorted(found, key=lambda path: path.split(os.sep))


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
    found = np.full((len(paths), 2), -1, dtype=np.int64)
    for row, path in enumerate(paths):
        try:
            status = os.stat(path)
        except OSError:
            continue
        found[row] = status.st_size, status.st_mtime_ns
    return found

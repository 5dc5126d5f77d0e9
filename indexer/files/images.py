"""Read images "in the wild" for indexing, training and queries.

Any failure to read or decode a file surfaces as :class:`ImageReadError`, so callers
can skip a bad file and carry on.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from latentsearch.encoder.errors import UserError
from latentsearch.indexer.files.listing import file_signature

log = logging.getLogger(__name__)

THUMBNAIL_QUALITY = 85
THUMBNAIL_SIDE = 96
# A small JPEG up to this size is kept as its own thumbnail (CIFAR-10's are about 1.5 KB)
OWN_THUMBNAIL_BYTES = 16 * 1024
# Modes to_mode can turn into L/RGB; open_image rejects the rest (e.g. LAB) up front.
_SUPPORTED_MODES = frozenset(
    {"1", "L", "P", "RGB", "RGBA", "RGBa", "LA", "PA", "CMYK", "YCbCr", "HSV", "I", "F"}
)

# EXIF orientations other than 1 (as stored): mirrored and/or rotated
_ROTATIONS = frozenset(range(2, 9))

ImageSource = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO


class ImageReadError(UserError):
    """An image could not be read; ``.path`` (str or None) and ``.reason`` say why."""

    def __init__(self, reason: str, path: str | os.PathLike | None = None) -> None:
        # Both values go into args so the error survives pickling across processes.
        self.reason = reason
        self.path = None if path is None else os.fspath(path)
        super().__init__(reason, self.path)

    def __str__(self) -> str:
        where = f" {self.path}" if self.path else ""
        return f"cannot read image{where}: {self.reason}"


def open_image(source: ImageSource, draft_size: int | None = None) -> Image.Image:
    """Open and fully decode an image: first frame, EXIF orientation applied.

    With ``draft_size``, JPEGs decode at a power-of-two reduced scale whose sides
    stay ``>= draft_size``, which is much faster for large photos.
    """
    path, data = _read_source(source)
    return _decode(data, path, draft_size)[0]


def _decode(data: bytes, path: str | None, draft_size: int | None) -> tuple[Image.Image, bool]:
    """``open_image`` on bytes already read; also says whether the result is the file's
    own pixels as stored (no draft scaling, no EXIF rotation)."""
    try:
        # As an error, the "too many pixels" warning stops a bomb before it decodes.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                stored_size, pixels = img.size, img.width * img.height
                limit = Image.MAX_IMAGE_PIXELS
                if limit is not None and pixels > limit:  # in case a thread reset the filters
                    raise Image.DecompressionBombError(f"{pixels} pixels exceed limit {limit}")
                if draft_size and img.format in ("JPEG", "MPO"):
                    img.draft("RGB", (draft_size, draft_size))
                img.load()  # frame 0 is current after open, so animations give their first
                upright = _exif_upright(img, path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(too_many_pixels(), path) from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError("not an image, or an unsupported format", path) from exc
    except (OSError, EOFError, SyntaxError) as exc:
        raise ImageReadError(f"truncated or corrupt image data ({exc})", path) from exc
    except Exception as exc:  # decoders raise many types on hostile data
        reason = f"could not decode image ({type(exc).__name__}: {exc})"
        raise ImageReadError(reason, path) from exc
    if upright.mode not in _SUPPORTED_MODES and not upright.mode.startswith("I;16"):
        raise ImageReadError(f"unsupported image mode {upright.mode!r}", path)
    return upright, upright is img and img.size == stored_size


def shorter_side(path: str | os.PathLike) -> int:
    """The shorter side in pixels of an image file, from its header (no decoding)."""
    try:
        with Image.open(path) as img:
            return min(img.size)
    except (OSError, SyntaxError, ValueError) as exc:  # UnidentifiedImageError is an OSError
        raise ImageReadError(f"cannot read the image size ({exc})", path) from exc


def too_many_pixels() -> str:
    """Why an image past Pillow's pixel limit is not decoded, in plain words."""
    limit = Image.MAX_IMAGE_PIXELS or 0
    return (
        f"image is too large: over {limit / 1e6:.0f} megapixels, more than is decoded "
        "safely (it could be a decompression bomb)"
    )


def read_file(path: str | os.PathLike) -> bytes:
    """The bytes of an image file; a missing, unreadable or empty one is an ImageReadError."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise ImageReadError("file not found", path) from None
    except OSError as exc:
        raise ImageReadError(f"cannot open file ({exc.strerror or exc})", path) from exc
    if not data:
        raise ImageReadError("file is empty", path)
    return data


def _read_source(source: ImageSource) -> tuple[str | None, bytes]:
    """Buffer any accepted source in memory, rejecting missing and empty ones."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source), read_file(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        path, data = None, bytes(source)
    else:
        name = getattr(source, "name", None)  # open files carry their path
        path = name if isinstance(name, str) else None
        data = source.read()  # buffered because Pillow must seek, and pipes cannot
        if not isinstance(data, bytes):
            raise TypeError("open_image needs a binary stream, got text")
    if not data:
        raise ImageReadError("file is empty", path)
    return path, data


def _exif_upright(img: Image.Image, path: str | None) -> Image.Image:
    """Apply EXIF orientation; broken EXIF costs the rotation, not the image."""
    try:
        if img.getexif().get(ExifTags.Base.Orientation, 1) not in _ROTATIONS:
            return img  # as stored: no copy (a loaded image outlives its closed file)
        return ImageOps.exif_transpose(img)
    except Exception as exc:  # malformed EXIF comes in many shapes
        log.warning("ignoring unreadable EXIF orientation in %s: %s", path or "<bytes>", exc)
        return img.copy()


def to_mode(img: Image.Image, channels: int) -> Image.Image:
    """Convert any common Pillow mode to "L" (channels=1) or "RGB" (channels=3).

    Transparency is composited over white; 16/32-bit and float data are
    rescaled to 0..255 rather than clipped.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    target = "L" if channels == 1 else "RGB"
    mode = img.mode
    if mode == target:
        return img
    if mode.startswith("I;16") or mode in ("I", "F"):
        img = _deep_to_l(img)
    elif (mode == "P" and "transparency" in img.info) or mode in ("RGBA", "RGBa", "LA", "PA"):
        rgba = img.convert("RGBA")
        # A plain convert drops alpha and shows whatever colour hid under it (often black).
        img = Image.new("RGB", rgba.size, (255, 255, 255))
        img.paste(rgba, mask=rgba.getchannel("A"))
    try:
        return img.convert(target)
    except ValueError as exc:
        raise ImageReadError(f"unsupported image mode {mode!r} ({exc})") from exc


def _deep_to_l(img: Image.Image) -> Image.Image:
    """16/32-bit integer or float grey to 8-bit "L", scaled by the data's nominal range.

    Pillow's own convert clips to 0..255, turning most 16-bit photos white. I;16 is
    0..65535; "I"/"F" use the first of 255, 65535 (or 1.0) that holds the peak,
    else the peak itself.
    """
    values = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    full_scale = 65535.0
    if not img.mode.startswith("I;16"):
        peak = float(values.max()) if values.size else 0.0
        ceilings = (1.0,) if img.mode == "F" else (255.0, 65535.0)
        full_scale = next((ceiling for ceiling in ceilings if peak <= ceiling), peak)
    scaled = np.clip(values * (255.0 / full_scale), 0, 255)
    return Image.fromarray(np.rint(scaled).astype(np.uint8))


def fit_square(img: Image.Image, size: int) -> Image.Image:
    """The central square (the whole short side) scaled to ``size`` x ``size`` (``img``
    itself if it already is that size)."""
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    width, height = img.size
    if (width, height) == (size, size):
        return img
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    # crop(), not resize(box=...): the box form's filter reads pixels outside the box,
    # bleeding the cut-off sides into the edges. reducing_gap speeds up big shrinks.
    square = img.crop((left, top, left + side, top + side))
    return square.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)


def load_image(source: ImageSource, size: int, channels: int) -> np.ndarray:
    """Read ``source`` as a float32 array of shape (size, size, channels) in [0, 1]."""
    img = open_image(source, draft_size=draft_side(size))
    return as_model_input(_model_pixels(img, size, channels))


def draft_side(size: int) -> int:
    """The side JPEGs are draft-decoded to for a model of input ``size``."""
    # Queries and indexed files must decode at the same JPEG draft scale, or an indexed
    # photo would not find itself at distance 0; thumbnails need at least THUMBNAIL_SIDE.
    return max(size, THUMBNAIL_SIDE)


def _model_pixels(img: Image.Image, size: int, channels: int) -> np.ndarray:
    square = fit_square(to_mode(img, channels), size)
    return np.asarray(square, dtype=np.uint8).reshape(size, size, channels)


def as_model_input(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels (one image or a stack) as the model's float32 input in [0, 1]."""
    return np.asarray(pixels, dtype=np.float32) / 255.0


def make_thumbnail(
    source_or_image: ImageSource | Image.Image,
    max_side: int = THUMBNAIL_SIDE,
    in_place: bool = False,
) -> bytes:
    """JPEG bytes of an RGB thumbnail whose longest side is at most ``max_side``.

    ``in_place``: the caller is done with the image, which may then be shrunk instead of
    copied first (a 49-megapixel upload: 147 MB less at the peak).
    """
    if max_side < 1:
        raise ValueError(f"max_side must be positive, got {max_side}")
    if isinstance(source_or_image, Image.Image):
        img = source_or_image
    else:
        img, in_place = open_image(source_or_image, draft_size=max_side), True
    thumb = to_mode(img, 3)
    if thumb is img and not in_place:
        thumb = img.copy()  # thumbnail() works in place; never alter the caller's image
    thumb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    thumb.save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY)
    return buffer.getvalue()


@dataclass(frozen=True)
class IndexedImage:
    """What a build keeps of one file, from a single read of its bytes."""

    pixels: np.ndarray  # (size, size, channels) uint8: ``as_model_input`` gives load_image's
    thumbnail: bytes  # JPEG
    sha256: str  # of the file's bytes
    # (size, mtime_ns, when it was seen in ns): lets `index --update` skip re-hashing it
    signature: tuple[int, int, int] = (0, 0, 0)


def read_for_index(
    path: Path,
    size: int,
    channels: int,
    thumb_side: int = THUMBNAIL_SIDE,
) -> IndexedImage:
    """Read ``path`` once and decode it once: model pixels, thumbnail and content hash.

    The thumbnail shows the whole upright photo, not the model's square crop. A small RGB
    JPEG shown as stored is its own thumbnail: encoding it again would only lose quality.
    """
    signature = file_signature(path)  # before the read: a later change gets a new one
    data = read_file(path)
    img, as_stored = _decode(data, os.fspath(path), draft_side(size))
    pixels = _model_pixels(img, size, channels)
    own_thumbnail = (
        as_stored
        and img.format == "JPEG"
        and img.mode == "RGB"
        and max(img.size) <= thumb_side
        and len(data) <= OWN_THUMBNAIL_BYTES
    )
    thumbnail = data if own_thumbnail else make_thumbnail(img, thumb_side, in_place=True)
    return IndexedImage(pixels, thumbnail, hashlib.sha256(data).hexdigest(), signature)


def read_with_preview(data: bytes, size: int, channels: int, preview_side: int):
    """An upload's model input (as ``load_image`` gives) and a JPEG preview of up to
    ``preview_side`` px, decoding the bytes once unless a JPEG's draft scale for the model
    left it smaller than the preview (a 12-MP photo drafted to 500 px is decoded once)."""
    path, data = _read_source(data)
    img, as_stored = _decode(data, path, draft_side(size))
    model_input = as_model_input(_model_pixels(img, size, channels))
    too_small = not as_stored and max(img.size) < preview_side
    return model_input, make_thumbnail(data if too_small else img, preview_side, in_place=True)

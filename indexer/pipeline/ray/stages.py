"""The work Ray runs for ``index --engine ray``: list, decode, encode, one batch at a time.

Kept apart from the driver (``engine``) and free of TensorFlow at import time: every
Ray worker imports this module, and only the encoder actors need a model.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from latentsearch.indexer.files.folders import read_or_reason
from latentsearch.indexer.files.images import as_model_input
from latentsearch.indexer.files.listing import IMAGE_EXTENSIONS, label_for, list_images

log = logging.getLogger(__name__)

# One row per listed file; ``reason`` is "" for a readable file, else why it was skipped.
# Pixels are the model input as bytes (exactly k/255 floats, so one byte each loses nothing).
DECODED = pa.schema(
    [
        ("path", pa.string()),
        ("label", pa.string()),  # "" = directly in the root, as in metadata.h5
        ("sha256", pa.string()),
        ("reason", pa.string()),
        ("pixels", pa.binary()),
        ("thumbnail", pa.binary()),
    ]
)
# What the encoder actors add: the code (float32 bytes) and a sampled reconstruction error.
SHARD = DECODED.append(pa.field("code", pa.binary())).append(pa.field("error", pa.float32()))


def top_entries(root: Path) -> list[dict[str, str]]:
    """The root's image files and sub-folders, sorted, as ``list_images`` would walk them.

    Each becomes one listing task, so a cluster lists sub-folders in parallel; listing
    them in name order keeps the whole listing in ``list_images``' sorted order.
    """
    entries = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):  # os.walk does not follow links either
            entries.append({"entry": entry.path})
        elif entry.is_file() and Path(entry.name).suffix.lower() in IMAGE_EXTENSIONS:
            entries.append({"entry": entry.path})
    return entries


def list_entry(row: dict[str, str]) -> list[dict[str, str]]:
    """The image files of one top-level entry (a sub-folder's, or the file itself)."""
    entry = Path(row["entry"])
    if entry.is_dir():
        return [{"path": str(path)} for path in list_images(entry)]
    return [{"path": str(entry)}]


def _decode_one(path: Path, root: Path, size: int, channels: int) -> dict[str, object]:
    row: dict[str, object] = {"path": str(path), "label": label_for(path, root) or ""}
    image = read_or_reason(path, size, channels)
    if isinstance(image, str):
        log.warning("skipped %s: %s", path, image)
        return {**row, "sha256": "", "reason": image, "pixels": b"", "thumbnail": b""}
    decoded = {"pixels": image.pixels.tobytes(), "thumbnail": image.thumbnail}
    return {**row, "sha256": image.sha256, "reason": "", **decoded}


def decode_batch(batch: pa.Table, root: str, size: int, channels: int) -> pa.Table:
    """Decode (and hash) each file; an unreadable one becomes a row with its ``reason``."""
    rows = [_decode_one(Path(p), Path(root), size, channels) for p in batch["path"].to_pylist()]
    return pa.Table.from_pylist(rows, schema=DECODED)


def error_sample(hashes: list[str]) -> np.ndarray:
    """Numbers standing for the rows in ``outliers.collection_errors``: from the content hash.

    The local build samples ids; an actor does not know the ids (they are
    given when the shards are joined), so it samples by something it does know.
    """
    return np.array([int(h[:8], 16) if h else 1 for h in hashes], dtype=np.int64)


class EncodeActor:
    """Loads the model once, then encodes batch after batch (a Ray Data actor pool member)."""

    def __init__(self, model_dir: str, batch_size: int | None, error_stride: int) -> None:
        from latentsearch.encoder.devices import for_indexing
        from latentsearch.encoder.training import load_model

        self.model, plan = for_indexing(load_model(model_dir), batch_size)
        self.batch_size = plan.batch_size
        self.error_stride = error_stride  # outliers.error_stride of the collection's size

    def __call__(self, batch: pa.Table) -> pa.Table:
        from latentsearch.encoder.inference import encode_images
        from latentsearch.indexer.serve.outliers import collection_errors

        config = self.model.config
        readable = np.array([r == "" for r in batch["reason"].to_pylist()], dtype=bool)
        shape = (config.image_size, config.image_size, config.channels)
        pixels = [p for p, ok in zip(batch["pixels"].to_pylist(), readable, strict=True) if ok]
        images = as_model_input(np.frombuffer(b"".join(pixels), np.uint8).reshape(-1, *shape))
        codes = np.empty((0, config.latent_dim), np.float32)
        errors = np.full(len(batch), np.nan, np.float32)
        if len(images):
            codes = encode_images(self.model.encoder, images, self.batch_size)
            hashes = [h for h, ok in zip(batch["sha256"].to_pylist(), readable, strict=True) if ok]
            rows = error_sample(hashes)
            errors[readable] = collection_errors(self.model, images, codes, rows, self.error_stride)
        code_bytes = iter(code.tobytes() for code in codes)
        column = [next(code_bytes) if ok else b"" for ok in readable]
        batch = batch.append_column(SHARD.field("code"), pa.array(column, pa.binary()))
        return batch.append_column(SHARD.field("error"), pa.array(errors, pa.float32()))

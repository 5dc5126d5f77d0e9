"""Embedding shards (Parquet files the Ray engine writes) joined into one index build.

A shard holds, row-aligned, each file's path, label, hash, thumbnail, model-input pixels
and latent code (see ``stages.SHARD``); an unreadable file is a row with a ``reason``.
Shards are read one at a time, so the process joining them never holds every image.
Ids are given in shard order, readable rows only, as the local build gives them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import pyarrow.parquet as pq
from tqdm import tqdm

from latentsearch.encoder.errors import LatentSearchError
from latentsearch.indexer.files.folders import ImageBatch, Skipped
from latentsearch.indexer.indexes.faiss_helpers import add_vectors, prepare_vectors
from latentsearch.indexer.pipeline.writer import IndexWriter

log = logging.getLogger(__name__)


class ShardError(LatentSearchError, RuntimeError):
    """The shards do not hold exactly the files that were listed."""


@dataclass
class Shard:
    """The readable rows of one shard as arrays, and its skipped files."""

    paths: list[str]
    labels: list[str | None]
    hashes: list[str]
    thumbnails: list[bytes]
    codes: np.ndarray  # (n, latent_dim) float32
    pixels: np.ndarray  # (n, raw_dim) float32 in [0, 1]
    errors: np.ndarray  # (n,) float32, NaN where not sampled
    skipped: list[Skipped]


def shard_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.parquet"))


def _readable(table) -> np.ndarray:
    return np.array([r == "" for r in table["reason"].to_pylist()], dtype=bool)


def _rows(column: list[bytes], dtype: type, width: int) -> np.ndarray:
    return np.frombuffer(b"".join(column), dtype).reshape(-1, width)


def read_shard(path: Path, latent_dim: int, raw_dim: int) -> Shard:
    table = pq.read_table(path)
    ok = _readable(table)
    column = {name: table[name].to_pylist() for name in table.column_names}

    def kept(name: str) -> list:
        return [value for value, keep in zip(column[name], ok, strict=True) if keep]

    skipped = [
        Skipped(p, r)
        for p, r, keep in zip(column["path"], column["reason"], ok, strict=True)
        if not keep
    ]
    return Shard(
        paths=kept("path"),
        labels=[label or None for label in kept("label")],
        hashes=kept("sha256"),
        thumbnails=kept("thumbnail"),
        codes=_rows(kept("code"), np.float32, latent_dim),
        pixels=_rows(kept("pixels"), np.uint8, raw_dim).astype(np.float32) / 255.0,
        errors=np.asarray(column["error"], dtype=np.float32)[ok],
        skipped=skipped,
    )


def readable_counts(files: list[Path]) -> list[int]:
    """Readable rows per shard (only the ``reason`` column is read)."""
    return [int(_readable(pq.read_table(f, columns=["reason"])).sum()) for f in files]


def check_rows(files: list[Path], listed: int) -> None:
    """Every listed file in exactly one row: a retried task must not add or lose any."""
    rows = sum(pq.read_metadata(f).num_rows for f in files)
    if rows != listed:
        raise ShardError(f"{listed} files were listed but the shards hold {rows} rows")


def readable_codes(file: str | Path) -> list[bytes]:
    """The code bytes of a shard's readable rows."""
    table = pq.read_table(file, columns=["reason", "code"])
    return [c for c, ok in zip(table["code"].to_pylist(), _readable(table), strict=True) if ok]


def sample_codes(files: list[Path], counts: list[int], size: int, seed: int) -> np.ndarray:
    """Codes of ``size`` readable rows picked at random over all shards (IVF training)."""
    starts = np.cumsum([0, *counts])
    picked = np.sort(np.random.default_rng(seed).choice(starts[-1], size=size, replace=False))
    codes = []
    for file, start, end in zip(files, starts[:-1], starts[1:], strict=True):
        mine = picked[(picked >= start) & (picked < end)] - start
        if len(mine):
            rows = readable_codes(file)
            codes.append(np.stack([np.frombuffer(rows[i], np.float32) for i in mine]))
    return np.concatenate(codes)


def ivf_part(template: np.ndarray, file: str, first_id: int, metric: str) -> np.ndarray:
    """One shard's codes added to a copy of the trained IVF index (serialised both ways)."""
    index = faiss.deserialize_index(template)
    rows = readable_codes(file)
    if rows:
        codes = _rows(rows, np.float32, index.d)
        ids = np.arange(first_id, first_id + len(codes), dtype=np.int64)
        add_vectors(index, prepare_vectors(codes, metric), ids)
    return faiss.serialize_index(index)


def ivf_template(index: faiss.Index) -> np.ndarray:
    """The trained, empty IVF index the parts copy; FAISS merges only without a direct map."""
    faiss.extract_index_ivf(index).set_direct_map_type(faiss.DirectMap.NoMap)
    return faiss.serialize_index(index)


def merge_parts(index: faiss.Index, parts: Iterator[np.ndarray]) -> None:
    """Move every part's inverted lists into ``index`` (``IndexIVF.merge_from``), then
    restore the id-to-entry map updates and ``reconstruct`` rely on."""
    ivf = faiss.extract_index_ivf(index)
    for serialised in parts:
        part = faiss.deserialize_index(serialised)  # kept alive while its lists are moved
        ivf.merge_from(faiss.extract_index_ivf(part), 0)
    index.ntotal = ivf.ntotal
    ivf.set_direct_map_type(faiss.DirectMap.Hashtable)


def join_shards(files: list[Path], writer: IndexWriter, with_latent: bool) -> list[Skipped]:
    """Add every shard's rows to the writer's raw index and metadata (and its latent index
    unless the IVF parts carry the codes); the skipped files, in listing order."""
    config = writer.model.config
    skipped: list[Skipped] = []
    for file in tqdm(files, desc="joining shards", unit="shard", leave=False):
        shard = read_shard(file, config.latent_dim, config.raw_dim)
        for skip in shard.skipped:
            log.warning("skipped %s: %s", skip.path, skip.reason)
        skipped.extend(shard.skipped)
        if not shard.paths:  # every file of this shard was unreadable
            continue
        batch = ImageBatch(shard.pixels, shard.paths, shard.labels, shard.thumbnails, shard.hashes)
        writer.add_encoded(batch, shard.codes if with_latent else None, shard.errors)
    return skipped

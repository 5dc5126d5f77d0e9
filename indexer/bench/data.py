"""The benchmark's query / database split of a labelled folder, and reading it into memory."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latentsearch.encoder.errors import UserError
from latentsearch.indexer.files.folders import (
    DEFAULT_WORKERS,
    FolderScan,
    file_sha256,
    hash_files,
    nothing_readable,
    read_batches,
)
from latentsearch.indexer.files.listing import label_for

log = logging.getLogger(__name__)


class BenchmarkError(UserError, ValueError):
    """A benchmark that cannot be run as asked (no labels, no queries, mismatched models)."""


@dataclass
class Split:
    """Which files are queries and which the database; how the queries were chosen."""

    queries: FolderScan
    database: FolderScan
    query_source: str
    unlabelled: int = 0  # files directly in a root folder: no label, left out of both
    query_copies_removed: int = 0  # database files identical to a query of the query folder


@dataclass
class PixelSet:
    """Decoded images of one side of the split, flattened to rows of raw pixels."""

    pixels: np.ndarray  # (n, size * size * channels) float32 in [0, 1]
    labels: list[str]
    paths: list[str]
    read_seconds: float
    skipped: list[dict] = field(default_factory=list)


def labelled_files(scan: FolderScan) -> tuple[dict[str, list[Path]], int]:
    """Files by label (first sub-folder), and how many had no label."""
    by_label: dict[str, list[Path]] = defaultdict(list)
    unlabelled = 0
    for path in scan.paths:
        label = label_for(path, scan.root)
        if label is None:
            unlabelled += 1
        else:
            by_label[label].append(path)
    if not by_label:
        raise BenchmarkError(
            f"no labelled images under {scan.root}: put each class in its own sub-folder"
        )
    return dict(sorted(by_label.items())), unlabelled


def sample_per_class(
    by_label: dict[str, list[Path]], per_class: int, seed: int, leave_one: bool
) -> list[Path]:
    """``per_class`` files of each label, drawn with ``seed``; ``leave_one`` keeps one back."""
    if per_class < 1:
        raise BenchmarkError(f"queries per class must be at least 1, got {per_class}")
    rng = np.random.default_rng(seed)
    chosen: list[Path] = []
    for label, paths in by_label.items():
        take = min(per_class, len(paths) - 1 if leave_one else len(paths))
        if take < per_class:
            log.warning("class %r has %d images: taking %d queries", label, len(paths), take)
        picks = rng.choice(len(paths), size=max(take, 0), replace=False)
        chosen.extend(paths[i] for i in sorted(picks))
    return chosen


def _sampled_from_data(
    database: FolderScan, db_files: dict[str, list[Path]], per_class: int | None, seed: int
) -> tuple[FolderScan, str]:
    per_class = per_class or 100
    chosen = sample_per_class(db_files, per_class, seed, leave_one=True)
    source = f"{per_class} per class sampled from the data folder (seed {seed})"
    return FolderScan(root=database.root, paths=sorted(chosen)), source


def _from_query_folder(
    data: Path, query_data: Path, per_class: int | None, seed: int
) -> tuple[FolderScan, str, int]:
    """Queries of the query folder, the source line, and how many files there had no label."""
    if query_data.resolve() == data.resolve():
        raise BenchmarkError(
            f"--query-data is the --data folder ({data.resolve()}): every query would find "
            "itself; leave out --query-data to sample queries from --data and remove them "
            "from the database"
        )
    queries = FolderScan.of(query_data)
    query_files, unlabelled = labelled_files(queries)
    if per_class is None:
        queries.paths = [p for paths in query_files.values() for p in paths]
        return queries, "every labelled image of the query folder", unlabelled
    queries.paths = sample_per_class(query_files, per_class, seed, leave_one=False)
    source = f"{per_class} per class sampled from the query folder (seed {seed})"
    return queries, source, unlabelled


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _sha256s(paths: list[Path], workers: int) -> list[str | None]:
    """sha256 of each file; None for one that cannot be read (the reader skips it later)."""
    try:
        return list(hash_files(paths, workers))
    except OSError:  # rare: find which, one file at a time
        digests: list[str | None] = []
        for path in paths:
            try:
                digests.append(file_sha256(path))
            except OSError:
                digests.append(None)
        return digests


def query_copies(database: list[Path], queries: list[Path], workers: int) -> set[Path]:
    """Database files that are a query: the same file (nested or linked folders) or the same
    bytes. Only files with a query's size are hashed, so a large database is mostly stat'ed."""
    query_paths = {p.resolve() for p in queries}
    same_file = {p for p in database if p.resolve() in query_paths}
    sizes = {_size(p) for p in queries}
    candidates = [p for p in database if p not in same_file and _size(p) in sizes]
    if not candidates:
        return same_file
    query_hashes = set(_sha256s(queries, workers)) - {None}
    digests = _sha256s(candidates, workers)
    return same_file | {p for p, h in zip(candidates, digests, strict=True) if h in query_hashes}


def split_queries(
    data: Path,
    query_data: Path | None,
    queries_per_class: int | None,
    seed: int,
    workers: int = DEFAULT_WORKERS,
) -> Split:
    """Queries from ``query_data`` (all, or ``queries_per_class`` of each class) or from ``data``.

    Queries never stay in the database: those sampled from ``data`` leave it, and database
    files identical to a query of ``query_data`` are removed (the same folder is refused).
    """
    database = FolderScan.of(data)
    db_files, unlabelled = labelled_files(database)
    copies: set[Path] = set()
    if query_data is None:
        queries, source = _sampled_from_data(database, db_files, queries_per_class, seed)
        removed = set(queries.paths)
    else:
        queries, source, query_unlabelled = _from_query_folder(
            data, query_data, queries_per_class, seed
        )
        unlabelled += query_unlabelled
        every = [p for paths in db_files.values() for p in paths]
        removed = copies = query_copies(every, queries.paths, workers)
        if copies:
            log.warning(
                "removed %d database images identical to a query (same file or same bytes): "
                "each would be found by its own query",
                len(copies),
            )
    database.paths = sorted(p for paths in db_files.values() for p in paths if p not in removed)
    if not queries.paths or not database.paths:
        also = f" ({len(copies)} database images are also queries)" if copies else ""
        raise BenchmarkError(f"the split leaves no queries or no database images{also}")
    return Split(
        queries=queries,
        database=database,
        query_source=source,
        unlabelled=unlabelled,
        query_copies_removed=len(copies),
    )


def read_pixels(
    scan: FolderScan,
    size: int,
    channels: int,
    batch_size: int = 256,
    workers: int = DEFAULT_WORKERS,
    description: str = "reading",
) -> PixelSet:
    """Decode every file of ``scan`` into one array of raw-pixel rows; time the whole read."""
    started = time.perf_counter()
    pixels = np.empty((len(scan.paths), size * size * channels), dtype=np.float32)
    labels: list[str] = []
    paths: list[str] = []
    batches = read_batches(scan, size, channels, batch_size, workers, description=description)
    for batch in batches:
        pixels[len(paths) : len(paths) + len(batch.paths)] = batch.images.reshape(
            len(batch.paths), -1
        )
        labels.extend(label or "" for label in batch.labels)  # labelled files only
        paths.extend(batch.paths)
    if not paths:
        raise nothing_readable(scan.root, len(scan.paths), scan.skipped)
    return PixelSet(
        pixels=pixels[: len(paths)],
        labels=labels,
        paths=paths,
        read_seconds=time.perf_counter() - started,
        skipped=[{"path": s.path, "reason": s.reason} for s in scan.skipped],
    )

"""The benchmark's query / database split of a labelled folder, and reading it into memory."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latentsearch.indexer.images import label_for
from latentsearch.indexer.reading import DEFAULT_WORKERS, FolderScan, read_batches

log = logging.getLogger(__name__)


class BenchmarkError(ValueError):
    """A benchmark that cannot be run as asked (no labels, no queries, mismatched models)."""


@dataclass
class Split:
    """Which files are queries and which the database; how the queries were chosen."""

    queries: FolderScan
    database: FolderScan
    query_source: str
    unlabelled: int = 0  # files directly in a root folder: no label, left out of both


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


def split_queries(
    data: Path, query_data: Path | None, queries_per_class: int | None, seed: int
) -> Split:
    """Queries from ``query_data`` (all, or ``queries_per_class`` of each class) or from ``data``.

    Queries sampled from ``data`` are removed from the database.
    """
    database = FolderScan.of(data)
    db_files, unlabelled = labelled_files(database)
    if query_data is None:
        per_class = queries_per_class or 100
        chosen = set(sample_per_class(db_files, per_class, seed, leave_one=True))
        kept = [p for paths in db_files.values() for p in paths if p not in chosen]
        queries = FolderScan(root=database.root, paths=sorted(chosen))
        source = f"{per_class} per class sampled from the data folder (seed {seed})"
    else:
        kept = [p for paths in db_files.values() for p in paths]
        queries = FolderScan.of(query_data)
        query_files, query_unlabelled = labelled_files(queries)
        unlabelled += query_unlabelled
        if queries_per_class is None:
            queries.paths = [p for paths in query_files.values() for p in paths]
            source = "every labelled image of the query folder"
        else:
            picked = sample_per_class(query_files, queries_per_class, seed, leave_one=False)
            queries.paths = picked
            source = f"{queries_per_class} per class sampled from the query folder (seed {seed})"
    database.paths = sorted(kept)
    if not queries.paths or not database.paths:
        raise BenchmarkError("the split leaves no queries or no database images")
    return Split(queries=queries, database=database, query_source=source, unlabelled=unlabelled)


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
        labels.extend(batch.labels)
        paths.extend(batch.paths)
    if not paths:
        raise BenchmarkError(f"none of the {len(scan.paths)} files under {scan.root} is readable")
    return PixelSet(
        pixels=pixels[: len(paths)],
        labels=labels,
        paths=paths,
        read_seconds=time.perf_counter() - started,
        skipped=[{"path": s.path, "reason": s.reason} for s in scan.skipped],
    )

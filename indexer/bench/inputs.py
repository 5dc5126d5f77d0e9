"""What every method of a benchmark shares: the models, the split, and both sides read once."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentsearch.encoder.training import TrainedModel, load_model
from latentsearch.indexer.bench.config import BenchConfig
from latentsearch.indexer.bench.data import (
    BenchmarkError,
    PixelSet,
    Split,
    read_pixels,
    split_queries,
)
from latentsearch.indexer.files.corpus import resolve_data

log = logging.getLogger(__name__)


def model_names(paths: tuple[str, ...]) -> list[str]:
    """Short names for the models: the folder name, with its parent when names clash."""
    folders = [Path(p).expanduser().resolve() for p in paths]
    names = [folder.name for folder in folders]
    clashes = {n for n, count in Counter(names).items() if count > 1}
    names = [
        f"{folder.parent.name}/{n}" if n in clashes else n
        for folder, n in zip(folders, names, strict=True)
    ]
    seen: Counter[str] = Counter()
    unique = []
    for name in names:  # the same folder given twice still needs two keys
        seen[name] += 1
        unique.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return unique


def load_models(paths: tuple[str, ...]) -> list[tuple[str, TrainedModel]]:
    """Load every model; they must take images of one size, so they all see the same pixels."""
    names = model_names(paths)
    models = [(n, load_model(p, with_decoder=False)) for n, p in zip(names, paths, strict=True)]
    shapes = {m.config.input_shape for _, m in models}
    if len(shapes) > 1:
        raise BenchmarkError(f"the models take different image shapes {sorted(shapes)}")
    return models


@dataclass
class BenchInputs:
    """Everything read once and shared by all methods."""

    models: list[tuple[str, TrainedModel]]
    split: Split
    database: PixelSet
    queries: PixelSet
    database_codes: np.ndarray  # integer class of each database image
    query_codes: np.ndarray
    ks: tuple[int, ...]  # the configured ks, capped at the database size

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.models[0][1].config.input_shape


def prepare_inputs(config: BenchConfig) -> BenchInputs:
    """Load the models, split the folder(s) and read both sides into memory."""
    models = load_models(config.models)
    size, _, channels = models[0][1].config.input_shape
    query_root = None if config.query_data is None else resolve_data(config.query_data)
    data_root = resolve_data(config.data)
    split = split_queries(
        data_root, query_root, config.queries_per_class, config.seed, config.workers
    )
    read = (size, channels, config.batch_size, config.workers)
    database = read_pixels(split.database, *read, description="reading database")
    all_queries = read_pixels(split.queries, *read, description="reading queries")
    classes, queries = keep_known_classes(database, all_queries)
    return BenchInputs(
        models=models,
        split=split,
        database=database,
        queries=queries,
        database_codes=label_codes(database.labels, classes),
        query_codes=label_codes(queries.labels, classes),
        ks=tuple(sorted({min(k, len(database.labels)) for k in config.ks})),
    )


def keep_known_classes(database: PixelSet, queries: PixelSet) -> tuple[list[str], PixelSet]:
    """Class names, and the queries whose class the database holds (others have no answer)."""
    classes = sorted(set(database.labels))
    known = np.array([label in set(classes) for label in queries.labels])
    if not known.all():
        log.warning("dropping %d queries whose class the database lacks", int((~known).sum()))
    if not known.any():
        raise BenchmarkError("no query has a class that the database holds")
    kept = PixelSet(
        pixels=queries.pixels[known],
        labels=[lab for lab, keep in zip(queries.labels, known, strict=True) if keep],
        paths=[p for p, keep in zip(queries.paths, known, strict=True) if keep],
        read_seconds=queries.read_seconds,
        skipped=queries.skipped,
    )
    return classes, kept


def label_codes(labels: list[str], classes: list[str]) -> np.ndarray:
    code = {name: i for i, name in enumerate(classes)}
    return np.array([code[label] for label in labels], dtype=np.int64)


def data_summary(inputs: BenchInputs) -> dict:
    database, queries, split = inputs.database, inputs.queries, inputs.split
    return {
        "database_root": str(split.database.root),
        "query_root": str(split.queries.root),
        "query_source": split.query_source,
        "database_size": len(database.labels),
        "queries": len(queries.labels),
        "database_per_class": dict(sorted(Counter(database.labels).items())),
        "queries_per_class": dict(sorted(Counter(queries.labels).items())),
        "unlabelled_left_out": split.unlabelled,
        "database_duplicates_of_queries_removed": split.query_copies_removed,
        "skipped": database.skipped + queries.skipped,
        "image_shape": list(inputs.image_shape),
        "read_seconds": {"database": database.read_seconds, "queries": queries.read_seconds},
    }

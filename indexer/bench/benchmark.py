"""``latentsearch bench``: retrieval quality and speed of latent codes vs raw pixels vs PCA.

``BenchConfig`` and ``model_names`` are re-exported here: this is the module to call.

The database and the queries are read from disk once; every method (each model's codes,
raw pixels, PCA with each model's code size) embeds those same arrays, is scored by exact
search over the whole database, and is timed on a FAISS Flat index.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np

from latentsearch.encoder.versioned_dir import NotOurDirectoryError
from latentsearch.indexer.bench.approx import (
    APPROX_DEFINITION,
    approximate_figures,
    approximate_key,
)
from latentsearch.indexer.bench.config import BenchConfig
from latentsearch.indexer.bench.inputs import (
    BenchInputs,
    data_summary,
    model_names,
    prepare_inputs,
)
from latentsearch.indexer.bench.methods import (
    Method,
    latent_method,
    pca_method,
    raw_method,
    with_metric,
)
from latentsearch.indexer.bench.metrics import DEFINITIONS
from latentsearch.indexer.bench.report import REPORT_FORMAT, foreign_files, write_report
from latentsearch.indexer.bench.scoring import Quality, evaluate
from latentsearch.indexer.bench.speed import SPEED_DEFINITIONS, measure_speed
from latentsearch.indexer.indexes.faiss_helpers import DEFAULT_METRIC
from latentsearch.indexer.store.manifest import library_versions

__all__ = ["BenchConfig", "bench_folder", "model_names", "pick_examples", "run_benchmark"]
log = logging.getLogger(__name__)
EXAMPLE_HITS = 6  # results shown per method in the example grid


def pick_examples(query_labels: np.ndarray, count: int, seed: int) -> list[int]:
    """Up to ``count`` query rows, one class after another, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(np.flatnonzero(query_labels == c)) for c in np.unique(query_labels)]
    rounds = max(len(rows) for rows in by_class)
    order = [int(rows[r]) for r in range(rounds) for rows in by_class if r < len(rows)]
    return order[:count]


def methods(inputs: BenchInputs, metric: str = DEFAULT_METRIC) -> Iterator[Method]:
    """Each model's codes, raw pixels, then PCA at each code size: one at a time, to save memory."""
    database, queries = inputs.database, inputs.queries
    for name, model in inputs.models:
        yield with_metric(latent_method(model, name, database, queries), metric)
    yield with_metric(raw_method(database, queries), metric)
    for dim in sorted({m.config.latent_dim for _, m in inputs.models}):
        if dim >= min(database.pixels.shape):
            log.warning("skipping PCA-%d: needs more images and pixels than %d", dim, dim)
            continue
        yield with_metric(pca_method(dim, database, queries), metric)


def example_hits(quality: Quality, rows: list[int], inputs: BenchInputs) -> list[list[dict]]:
    """The top results of the example queries, each marked relevant or not."""
    database, codes = inputs.database, inputs.database_codes
    return [
        [
            {
                "path": database.paths[i],
                "label": database.labels[i],
                "relevant": bool(codes[i] == inputs.query_codes[row]),
            }
            for i in quality.top_ids[row, :EXAMPLE_HITS]
        ]
        for row in rows
    ]


def score_method(method: Method, inputs: BenchInputs, config: BenchConfig) -> tuple[dict, Quality]:
    """Quality and speed of one method, as its report entry."""
    log.info("scoring %s", method.label)
    started = time.perf_counter()
    quality = evaluate(
        method.database,
        inputs.database_codes,
        method.queries,
        inputs.query_codes,
        inputs.ks,
        config.knn_k,
        keep=max(EXAMPLE_HITS, *inputs.ks),
        description=f"ranking ({method.key})",
    )
    scored = time.perf_counter()
    speed = measure_speed(
        method.embed,
        method.database,
        inputs.queries.pixels,
        method.encode_seconds,
        k=inputs.ks[0],
        latency_queries=config.latency_queries,
    )
    entry = {"key": method.key, "kind": method.kind, "label": method.label, "dim": method.dim}
    entry |= {"details": method.details, "quality": quality.to_json(), "speed": speed.to_json()}
    entry["seconds"] = {"scoring": scored - started, "speed": time.perf_counter() - scored}
    if config.index_type != "flat":
        entry["approximate"] = approximate_entry(method, quality, inputs, config)
    return entry, quality


def approximate_entry(method: Method, quality: Quality, inputs: BenchInputs, config: BenchConfig):
    """Figures of the ``--index-type`` index for this method; None when it is Flat anyway."""
    key = approximate_key(config.index_type, len(method.database), method.dim)
    if key == "Flat":
        log.info("%s: index type %s is Flat here, exact already", method.key, config.index_type)
        return None
    log.info("%s: building %s to compare with exact search", method.key, key)
    return approximate_figures(
        key, method.database, method.queries, quality.top_ids, inputs.ks, config.latency_queries
    )


def score_methods(inputs: BenchInputs, config: BenchConfig) -> tuple[list[dict], list[dict]]:
    """Report entries of every method, and the example queries with latent and raw results."""
    rows = pick_examples(inputs.query_codes, config.examples, config.seed)
    entries, shown = [], {}
    for method in methods(inputs, config.metric):
        entry, quality = score_method(method, inputs, config)
        entries.append(entry)
        if method.kind in ("latent", "raw"):
            shown[method.key] = example_hits(quality, rows, inputs)
    examples = [
        {
            "query": inputs.queries.paths[row],
            "label": inputs.queries.labels[row],
            "results": {key: hits[n] for key, hits in shown.items()},
        }
        for n, row in enumerate(rows)
    ]
    return entries, examples


def run_benchmark(config: BenchConfig) -> dict:
    """Split, read, embed, score and time; return the whole report as a JSON-able dict."""
    started = time.perf_counter()
    inputs = prepare_inputs(config)
    entries, examples = score_methods(inputs, config)
    return {
        "format": REPORT_FORMAT,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": asdict(config),
        "data": data_summary(inputs),
        "ks": list(inputs.ks),
        "knn_k": config.knn_k,
        "definitions": {**DEFINITIONS, **SPEED_DEFINITIONS, **APPROX_DEFINITION},
        "methods": entries,
        "examples": examples,
        "versions": library_versions(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "wall_seconds": round(time.perf_counter() - started, 3),
    }


def bench_folder(config: BenchConfig, out_dir: str | Path) -> dict:
    """Run the benchmark and write report.json, report.md and the plots into ``out_dir``.

    A folder holding anything but an earlier report is refused before any work starts.
    """
    out_dir = Path(out_dir)
    strangers = foreign_files(out_dir)
    if strangers:
        raise NotOurDirectoryError(
            f"{out_dir} already holds files a benchmark did not write "
            f"(e.g. {strangers[0]!r}); choose an empty or new directory"
        )
    report = run_benchmark(config)
    write_report(report, out_dir)
    return report

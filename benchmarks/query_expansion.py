"""Search-time re-ranking measured on the bench protocol: alpha query expansion (alpha-QE)
and database-side augmentation (DBA), for each model's codes and raw pixels, P@10.

    python benchmarks/query_expansion.py DATA MODEL_DIR ['{"queries_per_class": 50}']

The third argument is extra BenchConfig fields as JSON (the quality suite's split: 50 per
class for the sign photos, 100 for MNIST). Cosine throughout: rows are unit length,
optionally centred on the database mean first. DBA k: each database row becomes the
similarity^3-weighted mean of its k nearest rows (itself included); alpha-QE n: the query
plus the similarity^3-weighted sum of its n nearest results, searched again.
"""

import json
import sys

import faiss
import numpy as np

from latentsearch.indexer.bench.benchmark import methods
from latentsearch.indexer.bench.config import BenchConfig
from latentsearch.indexer.bench.inputs import prepare_inputs

ALPHA = 3


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def search(db: np.ndarray, q: np.ndarray, k: int):
    index = faiss.IndexFlatIP(db.shape[1])
    index.add(db)
    return index.search(q, k)


def weighted_neighbours(db: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    similarity, ids = search(db, q, k)
    return (np.maximum(similarity, 0)[:, :, None] ** ALPHA * db[ids]).sum(1)


def p10(db, db_labels, q, q_labels) -> float:
    _, ids = search(db, q, 10)
    return float((db_labels[ids] == q_labels[:, None]).mean())


def main() -> None:
    extra = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    inputs = prepare_inputs(BenchConfig(data=sys.argv[1], models=(sys.argv[2],), **extra))
    labels = inputs.database_codes, inputs.query_codes
    for method in methods(inputs, "cosine"):
        if method.kind == "pca":
            continue
        for centre in (False, True):
            mean = method.database.mean(0) if centre else 0
            db, q = unit(method.database - mean), unit(method.queries - mean)
            row = []
            for dba in (0, 3):
                d = unit(weighted_neighbours(db, db, dba)) if dba else db
                for qe in (0, 3):
                    expanded = unit(q + weighted_neighbours(d, q, qe)) if qe else q
                    row.append(f"DBA {dba} aQE {qe}: {p10(d, labels[0], expanded, labels[1]):.3f}")
            print(method.kind, "centred" if centre else "plain", " | ".join(row), flush=True)


if __name__ == "__main__":
    main()

"""What does not belong in a collection: the images the model rebuilds worst, and the files
whose label folder disagrees with their nearest neighbours' labels.

The images come back from the raw-pixel index (one byte per value, lossless), so no file
is read again; each is encoded and rebuilt once, in batches.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from latentsearch.encoder.inference import encode_images, errors_of
from latentsearch.indexer.indexes.faiss_helpers import stored_neighbours, stored_vectors
from latentsearch.indexer.serve.outliers import rebuild
from latentsearch.indexer.serve.report_file import write_report
from latentsearch.indexer.store.bundle import IndexBundle

BATCH = 512
NEIGHBOURS = 10
MAJORITY = 0.6  # share of the neighbours that must agree on another label to flag a file


@dataclass(frozen=True)
class Outlier:
    row: int
    path: str
    error: float
    percentile: float  # share of the collection rebuilt better, 0-100


@dataclass(frozen=True)
class LabelDoubt:
    row: int
    path: str
    label: str
    neighbours_say: str
    share: float  # of the neighbours holding ``neighbours_say``


def all_errors(bundle: IndexBundle) -> tuple[np.ndarray, np.ndarray]:
    """Live rows and the reconstruction error of each, from the stored pixels."""
    rows = np.array(bundle.metadata.live_rows(), dtype=np.int64)
    shape = bundle.model.config.input_shape
    errors = np.empty(len(rows), np.float32)
    for start in tqdm(range(0, len(rows), BATCH), desc="rebuilding", leave=False):
        part = rows[start : start + BATCH]
        images = stored_vectors(bundle.raw, part).reshape(len(part), *shape).astype(np.float32)
        codes = encode_images(bundle.model.encoder, images, len(part))
        errors[start : start + len(part)] = errors_of(images, rebuild(bundle.model, images, codes))
    return rows, errors


def worst_of(rows: np.ndarray, errors: np.ndarray, paths: list[str], count: int) -> list[Outlier]:
    """The ``count`` rows with the largest ``errors``, worst first, with their rank."""
    order = np.argsort(-errors, kind="stable")[:count]
    ranks = np.argsort(np.argsort(errors, kind="stable"), kind="stable")
    return [
        Outlier(int(rows[i]), paths[rows[i]], float(errors[i]), 100.0 * ranks[i] / len(rows))
        for i in order
    ]


def worst_rebuilt(bundle: IndexBundle, count: int) -> list[Outlier]:
    """The ``count`` images with the largest reconstruction errors, worst first."""
    return worst_of(*all_errors(bundle), bundle.metadata.paths, count)


def label_doubts(bundle: IndexBundle, k: int = NEIGHBOURS) -> list[LabelDoubt]:
    """Files whose label is not the one at least ``MAJORITY`` of their ``k`` nearest
    neighbours (latent codes) carry, most agreed first; none for an unlabelled collection."""
    meta = bundle.metadata
    rows = np.array([r for r in meta.live_rows() if meta.labels[r] is not None], np.int64)
    if len(rows) < 2:
        return []
    doubts = []
    for row, _, near in stored_neighbours(bundle.latent, rows, k):
        labels = [meta.labels[n] for n in near if n >= 0]
        if not labels:
            continue
        said, votes = Counter(labels).most_common(1)[0]
        share, own = votes / len(labels), meta.labels[row]
        if said is not None and own is not None and said != own and share >= MAJORITY:
            doubts.append(LabelDoubt(row, meta.paths[row], own, said, share))
    return sorted(doubts, key=lambda d: (-d.share, d.row))


def write_outliers(outliers: list[Outlier], doubts: list[LabelDoubt], out: str | Path) -> Path:
    """Both lists as JSON, or as CSV rows of (kind, path, score, detail), by ``out``'s suffix."""
    rows: list[list] = [["kind", "path", "score", "detail"]]
    rows += [
        ["outlier", o.path, f"{o.error:.6g}", f"percentile {o.percentile:.1f}"] for o in outliers
    ]
    rows += [
        ["label", d.path, f"{d.share:.2f}", f"{d.label} -> {d.neighbours_say}"] for d in doubts
    ]
    data = {"outliers": [asdict(o) for o in outliers], "label_doubts": [asdict(d) for d in doubts]}
    return write_report(out, data, rows)

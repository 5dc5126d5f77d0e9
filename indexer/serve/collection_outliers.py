"""What does not belong in a collection: the most unusual images, and the files whose label
folder disagrees with their nearest neighbours' labels.

An image is unusual in any of three ways, each ranked among the collection (0 to 1), and
its score is the highest of its three ranks: the model rebuilds it badly (noise, garbled
files); badly for the little detail it has (flat, featureless pictures, which are the
easiest of all to rebuild); or its code lies where the collection's codes do not
(Mahalanobis distance: a kind of picture the model rebuilds well but has seen little of).
Measured on injected foreign images in docs/applications.md.

The images come back from the raw-pixel index (one byte per value, lossless), so no file
is read again; each is encoded and rebuilt once, in batches. Where the index keeps the
baseline on a shrunken grid (large collections, ``indexes.pixel_grid``) that cannot be
done, and ``NoMapError`` says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from latentsearch.encoder.inference import encode_images, errors_of
from latentsearch.indexer.indexes.faiss_helpers import stored_neighbours
from latentsearch.indexer.serve.collection_map import stored_inputs
from latentsearch.indexer.serve.outliers import code_rarity, flat_errors, rebuild
from latentsearch.indexer.serve.report_file import write_report
from latentsearch.indexer.store.bundle import IndexBundle

BATCH = 512
NEIGHBOURS = 10
MAJORITY = 0.6  # share of the neighbours that must agree on another label to flag a file
REASONS = ("rebuilt badly", "rebuilt badly for its detail", "a code unlike the others'")


@dataclass(frozen=True)
class Outlier:
    row: int
    path: str
    error: float  # reconstruction error
    percentile: float  # share of the collection less unusual, 0-100
    reason: str  # which of REASONS ranks it highest


@dataclass(frozen=True)
class UnusualScores:
    """Per live row, the three measures of how unlike the rest of the collection it is."""

    rows: np.ndarray
    errors: np.ndarray  # mean squared reconstruction error
    relative: np.ndarray  # that error over the error of a flat image of its mean colour
    rarity: np.ndarray  # squared Mahalanobis distance of its code from the collection's

    def ranks(self) -> np.ndarray:
        """(3, N): each measure's rank among the collection, 0 to 1, in REASONS' order."""
        return np.stack([ranks_of(m) for m in (self.errors, self.relative, self.rarity)])

    def combined(self) -> np.ndarray:
        """Each image's score: the highest of its three ranks."""
        return self.ranks().max(axis=0)


def ranks_of(values: np.ndarray) -> np.ndarray:
    """Each value's rank among all of ``values``, 0 (lowest) to 1 (highest)."""
    order = np.argsort(np.argsort(values, kind="stable"), kind="stable")
    return order / max(1, len(values) - 1)


@dataclass(frozen=True)
class LabelDoubt:
    row: int
    path: str
    label: str
    neighbours_say: str
    share: float  # of the neighbours holding ``neighbours_say``


def unusual_scores(bundle: IndexBundle) -> UnusualScores:
    """Every live row's three measures, from its stored pixels."""
    rows = np.array(bundle.metadata.live_rows(), dtype=np.int64)
    errors, flat = np.empty(len(rows), np.float32), np.empty(len(rows), np.float32)
    codes = []
    for start in tqdm(range(0, len(rows), BATCH), desc="rebuilding", leave=False):
        part, at = rows[start : start + BATCH], slice(start, start + BATCH)
        images = stored_inputs(bundle, part)
        codes.append(encode_images(bundle.model.encoder, images, len(part)))
        errors[at] = errors_of(images, rebuild(bundle.model, images, codes[-1]))
        flat[at] = flat_errors(images)
    rarity = code_rarity(np.concatenate(codes)) if codes else np.empty(0, np.float32)
    return UnusualScores(rows, errors, errors / np.maximum(flat, 1e-6), rarity)


def most_unusual(scores: UnusualScores, paths: list[str], count: int) -> list[Outlier]:
    """The ``count`` rows with the highest combined score, most unusual first (ties: the
    higher sum of ranks), each with its percentile and the measure that put it there."""
    ranks = scores.ranks()
    order = np.lexsort((-ranks.sum(axis=0), -ranks.max(axis=0)))
    total = len(order)
    return [
        Outlier(
            int(scores.rows[i]),
            paths[scores.rows[i]],
            float(scores.errors[i]),
            100.0 * (total - 1 - at) / total,  # more unusual than that many others
            REASONS[int(np.argmax(ranks[:, i]))],
        )
        for at, i in enumerate(order[:count])
    ]


def most_unusual_of(bundle: IndexBundle, count: int) -> list[Outlier]:
    """The ``count`` most unusual images of the collection, most unusual first."""
    return most_unusual(unusual_scores(bundle), bundle.metadata.paths, count)


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
        ["outlier", o.path, f"{o.error:.6g}", f"percentile {o.percentile:.1f}; {o.reason}"]
        for o in outliers
    ]
    rows += [
        ["label", d.path, f"{d.share:.2f}", f"{d.label} -> {d.neighbours_say}"] for d in doubts
    ]
    data = {"outliers": [asdict(o) for o in outliers], "label_doubts": [asdict(d) for d in doubts]}
    return write_report(out, data, rows)

"""Near-duplicate photos of a collection: images whose codes lie within a threshold of each
other, joined into groups.

The threshold is calibrated on the collection itself, never hand-picked: a sample of its
photos is copied the ways duplicates arise (re-compressed, resized, cropped, brightened,
darkened, optionally mirrored), and the threshold is the distance that reaches
``CATCH_SHARE`` of those copies from their originals.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from latentsearch.encoder.errors import UserError
from latentsearch.encoder.inference import encode_images
from latentsearch.indexer.files.images import ImageReadError, load_image, open_image
from latentsearch.indexer.indexes.faiss_helpers import (
    pair_distances,
    prepare_vectors,
    stored_neighbours,
)
from latentsearch.indexer.serve.report_file import write_report
from latentsearch.indexer.store.bundle import IndexBundle

log = logging.getLogger(__name__)
NEIGHBOURS = 10  # per image; a larger group is still joined through its members' neighbours
CALIBRATION_SAMPLE = 200  # photos copied to calibrate the threshold
CATCH_SHARE = 0.95  # share of the generated copies the threshold reaches

Transform = Callable[[Image.Image], Image.Image]


def _resized(img: Image.Image) -> Image.Image:
    width, height = img.size
    return img.resize((max(8, width * 3 // 5), max(8, height * 3 // 5)), Image.Resampling.BILINEAR)


def _cropped(img: Image.Image) -> Image.Image:
    width, height = img.size
    dx, dy = max(1, width // 25), max(1, height // 25)  # 4% off each side
    return img.crop((dx, dy, width - dx, height - dy))


COPIES: dict[str, Transform] = {
    "re-compressed": lambda img: img,  # saved as a JPEG of quality 60, as every copy is
    "resized": _resized,
    "cropped": _cropped,
    "brighter": lambda img: ImageEnhance.Brightness(img).enhance(1.15),
    "darker": lambda img: ImageEnhance.Brightness(img).enhance(0.85),
}
MIRRORED: dict[str, Transform] = {"mirrored": ImageOps.mirror}


class NoCalibrationError(UserError):
    """The threshold cannot be calibrated: none of the collection's files can be read."""


def copy_bytes(img: Image.Image, transform: Transform, quality: int = 60) -> bytes:
    """``img`` transformed and saved as a JPEG, as a copy of a photo usually is."""
    buffer = io.BytesIO()
    transform(img.convert("RGB")).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@dataclass(frozen=True)
class Calibration:
    """The threshold, and the copies it was measured on."""

    threshold: float
    copies: int
    originals: int
    kinds: tuple[str, ...]
    share: float = CATCH_SHARE


def calibrate(
    embed: Callable[[list[bytes]], np.ndarray],
    files: Sequence[Path],
    metric: str,
    mirrored: bool = False,
) -> Calibration:
    """The distance (as ``search`` measures it) that reaches ``CATCH_SHARE`` of the copies
    of ``files`` from their originals; ``embed`` turns image bytes into stored vectors."""
    kinds = {**COPIES, **(MIRRORED if mirrored else {})}
    originals, copies = [], []
    for path in files:
        try:
            data = Path(path).read_bytes()
            img = open_image(data)
        except (OSError, ImageReadError) as err:
            log.debug("calibration skips %s: %s", path, err)
            continue
        originals.append(data)
        copies.append([copy_bytes(img, transform) for transform in kinds.values()])
    if not originals:
        raise NoCalibrationError(
            f"none of the {len(files)} sampled files can be read to calibrate the threshold; "
            "pass --threshold"
        )
    # one embedding call for all copies: each original's row repeated once per copy
    first = np.repeat(embed(originals), len(kinds), axis=0)
    measured = pair_distances(first, embed([c for row in copies for c in row]), metric)
    threshold = float(np.quantile(measured, CATCH_SHARE))
    return Calibration(threshold, len(measured), len(originals), tuple(kinds))


def close_pairs(
    index, rows: np.ndarray, threshold: float, k: int = NEIGHBOURS
) -> list[tuple[int, int, float]]:
    """Each pair of ``rows`` (once, smaller row first) whose distance is within
    ``threshold``, from every row's ``k`` nearest neighbours in ``index``."""
    pairs: dict[tuple[int, int], float] = {}
    for row, far, near in stored_neighbours(index, rows, k):
        for other, distance in zip(near, far, strict=True):
            if other >= 0 and distance <= threshold:
                key = (min(int(row), int(other)), max(int(row), int(other)))
                pairs[key] = min(float(distance), pairs.get(key, np.inf))
    return [(a, b, d) for (a, b), d in sorted(pairs.items())]


def group_pairs(pairs: Sequence[tuple[int, int, float]]) -> list[list[int]]:
    """Groups in which every two members are a close pair, largest first, each sorted.

    Complete linkage, closest pairs first: a chain a~b~c whose ends are not close stays
    two groups. Joining every connected pair instead chained a 10,977-photo benchmark into
    groups whose pairs were 1.5% duplicates (docs/applications.md).
    """
    close = {(min(a, b), max(a, b)) for a, b, _ in pairs}
    members: dict[int, list[int]] = {}
    group_of: dict[int, int] = {}
    for a, b, _ in sorted(pairs, key=lambda pair: pair[2]):
        first, second = group_of.setdefault(a, a), group_of.setdefault(b, b)
        members.setdefault(first, [first])
        members.setdefault(second, [second])
        if first == second:
            continue
        if all((min(x, y), max(x, y)) in close for x in members[first] for y in members[second]):
            for x in members[second]:
                group_of[x] = first
            members[first] += members.pop(second)
    groups = [sorted(g) for g in members.values() if len(g) > 1]
    return sorted(groups, key=lambda g: (-len(g), g[0]))


@dataclass(frozen=True)
class DuplicateGroup:
    rows: tuple[int, ...]
    paths: tuple[str, ...]
    distance: float  # the largest distance of a pair that joined the group


@dataclass(frozen=True)
class DuplicateReport:
    groups: list[DuplicateGroup]
    threshold: float
    images: int
    calibration: Calibration | None = None
    metric: str = "cosine"
    pairs: list[tuple[int, int, float]] = field(default_factory=list)


def bundle_embedder(
    bundle: IndexBundle, pixels: bool = False
) -> Callable[[list[bytes]], np.ndarray]:
    """Image bytes -> vectors as the bundle's latent (or raw-pixel) index stores them."""
    config, metric = bundle.model.config, bundle.manifest.metric

    def embed(images: list[bytes]) -> np.ndarray:
        read = np.stack([load_image(data, config.image_size, config.channels) for data in images])
        if pixels:
            return bundle.pixel_grid.vectors(read)
        codes = encode_images(bundle.model.encoder, read)
        return prepare_vectors(codes, metric, config.binary_threshold)

    return embed


def find_duplicates(
    bundle: IndexBundle,
    threshold: float | None = None,
    mirrored: bool = False,
    seed: int = 0,
    pixels: bool = False,
) -> DuplicateReport:
    """Groups of near-duplicate images in ``bundle``; the threshold calibrated on copies of a
    sample of its own files when not given. ``pixels``: by the raw-pixel index instead of
    the latent codes (the baseline)."""
    meta = bundle.metadata
    index, metric = (bundle.raw, "l2") if pixels else (bundle.latent, bundle.manifest.metric)
    rows = np.array(meta.live_rows(), dtype=np.int64)
    calibration = None
    if threshold is None:
        picked = np.random.default_rng(seed).choice(
            rows, min(CALIBRATION_SAMPLE, len(rows)), replace=False
        )
        files = [Path(meta.paths[r]) for r in np.sort(picked)]
        calibration = calibrate(bundle_embedder(bundle, pixels), files, metric, mirrored)
        threshold = calibration.threshold
        log.info(
            "threshold %.4g: reaches %.0f%% of %d generated copies",
            threshold,
            100 * CATCH_SHARE,
            calibration.copies,
        )
    pairs = close_pairs(index, rows, threshold)
    largest: dict[int, float] = {}
    groups = group_pairs(pairs)
    member_group = {row: n for n, group in enumerate(groups) for row in group}
    for a, b, distance in pairs:
        n = member_group.get(a)
        if n is not None and n == member_group.get(b):
            largest[n] = max(largest.get(n, 0.0), distance)
    found = [
        DuplicateGroup(tuple(g), tuple(meta.paths[r] for r in g), largest[n])
        for n, g in enumerate(groups)
    ]
    return DuplicateReport(found, threshold, len(rows), calibration, metric, pairs)


def write_duplicates(report: DuplicateReport, out: str | Path) -> Path:
    """The groups as CSV (group, size, path, distance) or JSON, by ``out``'s suffix."""
    rows: list[list] = [["group", "size", "path", "distance"]]
    for n, group in enumerate(report.groups, start=1):
        rows += [[n, len(group.rows), path, f"{group.distance:.6g}"] for path in group.paths]
    return write_report(out, _as_dict(report), rows)


def _as_dict(report: DuplicateReport) -> dict:
    return {
        "images": report.images,
        "metric": report.metric,
        "threshold": report.threshold,
        "calibration": None if report.calibration is None else asdict(report.calibration),
        "groups": [
            {"size": len(g.rows), "distance": g.distance, "paths": list(g.paths)}
            for g in report.groups
        ],
    }

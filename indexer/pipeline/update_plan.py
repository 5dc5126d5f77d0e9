"""What an update must do: whether the current build can be updated, and which files to
encode and which rows to drop.

Imports no Keras: the plan reads the folder, the build's manifest and metadata only, so
it can be made while the process that will run the model is still importing it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latentsearch.encoder.model_files import model_files
from latentsearch.indexer.files.corpus import resolve_data
from latentsearch.indexer.files.folders import hash_files, image_files
from latentsearch.indexer.files.listing import sizes_and_times
from latentsearch.indexer.indexes.choice import index_type_of
from latentsearch.indexer.pipeline.settings import BuildSettings
from latentsearch.indexer.store.manifest import (
    METADATA_FILE,
    IndexLoadError,
    Manifest,
    current_index_build,
    encoder_sha256,
    verify_build,
)
from latentsearch.indexer.store.metadata import Metadata, MetadataError

log = logging.getLogger(__name__)
RACY_NS = 2_000_000_000  # a record taken this soon after the file's last change is re-checked


@dataclass(frozen=True)
class UpdatePlan:
    """What an update does: files to encode, rows to drop, and how many stay as they are."""

    to_encode: list[str]
    stale_rows: list[int]
    unchanged: int
    old_rows: int  # rows in the metadata so far: new files get ids from here on
    deleted_before: list[int] = field(default_factory=list)  # rows blanked by earlier updates


def plan_update(
    old_paths: list[str],
    old_hashes: list[str],
    paths: list[str],
    hashes: list[str],
    rows: np.ndarray | None = None,
) -> UpdatePlan:
    """Compare the indexed files (blank path: an already deleted row) with the folder now;
    ``rows``: each listed file's row (``indexed_rows``), where the caller has them."""
    rows = indexed_rows(old_paths, paths) if rows is None else rows
    pairs = zip(rows.tolist(), hashes, strict=True)
    same = np.fromiter((row >= 0 and old_hashes[row] == sha for row, sha in pairs), bool)
    to_encode = [path for path, keep in zip(paths, same.tolist(), strict=True) if not keep]
    live = np.fromiter(map(bool, old_paths), bool, len(old_paths))
    listed = np.zeros(len(old_paths), bool)
    listed[rows[rows >= 0]] = True
    changed = rows[(rows >= 0) & ~same]  # changed content: a new vector under a new id
    gone = np.flatnonzero(live & ~listed)  # files no longer in the folder
    stale = np.union1d(changed, gone).tolist()
    deleted = np.flatnonzero(~live).tolist()
    return UpdatePlan(to_encode, stale, int(same.sum()), len(old_paths), deleted)


def indexed_rows(old_paths: list[str], paths: list[str]) -> np.ndarray:
    """Each listed file's row among the indexed paths, -1 for a file not indexed."""
    row_of = {path: row for row, path in enumerate(old_paths) if path}
    return np.fromiter((row_of.get(path, -1) for path in paths), np.int64, len(paths))


def rebuild_reason(
    previous: Path, model_hash: str, settings: BuildSettings, verify: bool = True
) -> str | None:
    """Why ``previous`` cannot be updated in place (None: it can); ``verify=False`` leaves
    checking its files to the caller, who must before the build is used."""
    manifest = Manifest.load(previous)
    if verify:
        verify_build(previous, manifest)  # a damaged build is never copied into the next one
    if manifest.model_sha256 != model_hash:
        return (
            f"the model changed (encoder sha256 {manifest.model_sha256[:12]}… -> "
            f"{model_hash[:12]}…): every image must be encoded again"
        )
    if settings.metric not in (None, manifest.metric):
        return f"the metric changed ({manifest.metric} -> {settings.metric})"
    if settings.index_type not in ("auto", index_type_of(manifest.index_type)):
        return f"the index type changed ({manifest.index_type} -> {settings.index_type})"
    if not Metadata.hashes_every_row(previous / METADATA_FILE):
        return "the index predates incremental updates (no content hashes)"
    return None


def unchanged_hashes(
    metadata: Metadata, paths: list[str], rows: np.ndarray | None = None
) -> list[str | None]:
    """Per listed file, its stored hash when its size and modification time are the ones
    recorded (None: hash it again); ``rows`` as for ``plan_update``. A file changed within
    ``RACY_NS`` of being recorded could keep its modification time, so such a record is
    not trusted (as git does)."""
    stored, hashes = metadata.signatures(), metadata.hashes
    if stored is None or hashes is None or len(stored) == 0:
        return [None] * len(paths)
    rows = indexed_rows(metadata.paths, paths) if rows is None else rows
    # compared as arrays: a million files one tuple at a time took 10 s
    recorded = stored[np.maximum(rows, 0)]
    size, mtime, seen = recorded[:, 0], recorded[:, 1], recorded[:, 2]
    now = sizes_and_times(paths)
    trusted = (rows >= 0) & (seen != 0) & (seen - mtime > RACY_NS)
    trusted &= (now[:, 0] == size) & (now[:, 1] == mtime)
    pairs = zip(rows.tolist(), trusted.tolist(), strict=True)
    return [hashes[row] if keep else None for row, keep in pairs]


def load_plan(previous: Path, paths: list[str], settings: BuildSettings) -> UpdatePlan:
    """The plan for ``paths`` (the folder now) against the build ``previous``; only files
    whose size or modification time moved are hashed again."""
    metadata = Metadata.open(previous / METADATA_FILE)
    try:
        rows = indexed_rows(metadata.paths, paths)  # one lookup for both steps
        kept = unchanged_hashes(metadata, paths, rows)
        stale = [Path(p) for p, h in zip(paths, kept, strict=True) if h is None]
        fresh = iter(hash_files(stale, settings.workers))
        hashes = [h if h is not None else next(fresh) for h in kept]
        log.info(
            "update: hashed %d of %d files; the rest kept size and time", len(stale), len(kept)
        )
        known = metadata.hashes or []  # rebuild_reason sent builds without hashes to a full build
        return plan_update(metadata.paths, known, paths, hashes, rows)
    finally:
        metadata.close()


@dataclass(frozen=True)
class PlanRequest:
    """An update as asked for: the folder, model and index directory as given, and how."""

    data: str
    model_dir: str
    out_dir: str
    settings: BuildSettings

    @classmethod
    def of(
        cls, data: str | Path, model_dir: str | Path, out_dir: str | Path, settings: BuildSettings
    ) -> PlanRequest:
        """The request for these arguments, spelled alike wherever it is made: the command
        line's plan made ahead is found by comparing requests."""
        return cls(str(data), str(model_dir), str(out_dir), settings)


@dataclass(frozen=True)
class Planned:
    """``plan_for``'s answer: the plan against the build ``previous``, or why the index
    must be built in full instead (``rebuild``)."""

    folder: Path
    metric: str | None  # the metric the index keeps: the previous build's unless asked
    previous: Path | None = None
    plan: UpdatePlan | None = None
    rebuild: str | None = None


def plan_for(request: PlanRequest, verify: bool = True) -> Planned:
    """Check the current build and plan the update of ``request`` (no model is loaded);
    ``verify`` as for ``rebuild_reason``."""
    folder = resolve_data(request.data)
    model_hash = encoder_sha256(model_files(request.model_dir))
    settings = request.settings
    try:
        previous = current_index_build(request.out_dir)
        reason = rebuild_reason(previous, model_hash, settings, verify)
        metric = settings.metric or Manifest.load(previous).metric
    except (IndexLoadError, MetadataError) as err:
        why = f"there is no usable index to update ({err})"
        return Planned(folder, settings.metric, rebuild=why)
    if reason:
        return Planned(folder, metric, previous, rebuild=reason)
    plan = load_plan(previous, image_files(folder.resolve()), settings)
    return Planned(folder, metric, previous, plan)

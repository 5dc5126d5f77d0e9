"""``latentsearch index --update``: re-encode only new or changed files.

Each metadata row stores its file's sha256, and a vector's id is its metadata row. An
update copies the current build, removes the vectors of deleted or changed files (their
rows are blanked, never reused), and appends new or changed files under fresh ids, so
every untouched file keeps its id and its stored vector bit for bit. The result is a new
build, published atomically like a full one (no build at all when nothing changed).
Anything the update cannot trust (another model, metric or index type, an index without
hashes) makes it a full rebuild instead, with a logged reason.
"""

from __future__ import annotations

import logging
import shutil
import time
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path

import faiss
import numpy as np

from latentsearch.encoder.devices import for_indexing
from latentsearch.encoder.model_files import model_files
from latentsearch.encoder.training import TrainedModel, load_model
from latentsearch.indexer.files.corpus import resolve_data
from latentsearch.indexer.files.folders import FolderScan, hash_files, image_files, read_batches
from latentsearch.indexer.files.listing import sizes_and_times
from latentsearch.indexer.indexes.choice import index_type_of
from latentsearch.indexer.indexes.faiss_helpers import read_index, remove_ids
from latentsearch.indexer.indexes.pixel_segments import (
    CarriedSegments,
    carry_segments,
    write_removed,
)
from latentsearch.indexer.pipeline.build import BuildSettings, NothingToIndexError, build_index
from latentsearch.indexer.pipeline.writer import BuildRecord, IndexWriter, finish_build
from latentsearch.indexer.serve.outliers import error_stride
from latentsearch.indexer.store.disk import staged_build
from latentsearch.indexer.store.manifest import (
    LATENT_FILE,
    METADATA_FILE,
    IndexLoadError,
    Manifest,
    current_index_build,
    encoder_sha256,
    raw_segments,
    verify_build,
)
from latentsearch.indexer.store.metadata import Metadata, MetadataError, MetadataWriter
from latentsearch.indexer.store.thumbnails import carry_thumbnails

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


def rebuild_reason(previous: Path, model_hash: str, settings: BuildSettings) -> str | None:
    """Why ``previous`` cannot be updated in place (None: it can)."""
    manifest = Manifest.load(previous)
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


def update_index(
    data: str | Path,
    model_dir: str | Path,
    out_dir: str | Path,
    settings: BuildSettings = BuildSettings(),
) -> Manifest:
    """Bring the index in ``out_dir`` up to date with ``data``; a full build when it must.

    Returns the manifest of the build now in use; its ``update`` field says what this run
    kept, added and removed. When nothing changed no new build is written at all.
    """
    started = time.perf_counter()
    folder = resolve_data(data)
    model_hash = encoder_sha256(model_files(model_dir))  # no model load yet
    try:
        previous = current_index_build(out_dir)
        reason = rebuild_reason(previous, model_hash, settings)
        settings = replace(settings, metric=settings.metric or Manifest.load(previous).metric)
    except (IndexLoadError, MetadataError) as err:
        reason = f"there is no usable index to update ({err})"
    if reason:
        log.warning("full rebuild: %s", reason)
        return build_index(folder, model_dir, out_dir, settings)
    plan = _load_plan(previous, image_files(folder.resolve()), settings)
    if not plan.to_encode and not plan.stale_rows:
        log.info("%s is up to date: all %d files unchanged", out_dir, plan.unchanged)
        unchanged = {"base": previous.name, "unchanged": plan.unchanged, "added": 0, "removed": 0}
        seconds = round(time.perf_counter() - started, 3)
        return replace(Manifest.load(previous), update=unchanged, build_seconds=seconds)
    model, inference = for_indexing(load_model(model_dir), settings.batch_size)
    settings = replace(settings, batch_size=inference.batch_size)
    return _apply_update(folder, model, Path(model_dir), out_dir, previous, plan, settings)


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


def _load_plan(previous: Path, paths: list[str], settings: BuildSettings) -> UpdatePlan:
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


def _apply_update(
    folder: Path,
    model: TrainedModel,
    model_dir: Path,
    out_dir: str | Path,
    previous: Path,
    plan: UpdatePlan,
    settings: BuildSettings,
) -> Manifest:
    started = time.perf_counter()
    manifest = Manifest.load(previous)
    rows = plan.old_rows
    log.info(
        "update: %d unchanged, %d to encode, %d to remove",
        plan.unchanged,
        len(plan.to_encode),
        len(plan.stale_rows),
    )
    fresh = FolderScan(folder.resolve(), [Path(p) for p in plan.to_encode])
    config = model.config
    with staged_build(out_dir) as staging:
        latent, raw = _carry_build(previous, staging, manifest, plan.stale_rows)
        deleted = np.union1d(plan.deleted_before, plan.stale_rows)
        thumbnails = carry_thumbnails(previous, staging, deleted)
        with MetadataWriter(staging / METADATA_FILE, append=True) as metadata:
            metadata.blank(plan.stale_rows)
            stride = error_stride(plan.unchanged + len(plan.to_encode))
            writer = IndexWriter(model, latent, raw.writer, metadata, manifest.metric, rows, stride)
            batches = read_batches(
                fresh,
                config.image_size,
                config.channels,
                settings.chosen_batch_size,
                settings.workers,
                description="updating",
            )
            with closing(batches):  # a failed write stops the reading at once
                for batch in batches:
                    writer.add(batch)
        if latent.ntotal == 0:
            raise NothingToIndexError(f"after the update no readable image is left in {folder}")
        update = {
            "base": previous.name,
            "unchanged": plan.unchanged,
            "added": writer.next_id - rows,
            "removed": len(plan.stale_rows),
        }
        record = BuildRecord(folder, model_dir, fresh, started, update, probes=manifest.probes)
        sums = manifest.checksums  # verify_build checked them when the update began
        linked = {name: sums[name] for name in raw.linked + thumbnails if name in sums}
        return finish_build(staging, writer, record, manifest.index_type, linked)


def _carry_build(
    previous: Path, staging: Path, manifest: Manifest, stale_rows: list[int]
) -> tuple[faiss.Index, CarriedSegments]:
    """The previous build's metadata, latent index and raw-pixel segments in ``staging``,
    without ``stale_rows``; the metadata rows are blanked by the caller. New rows go on
    the previous build's pixel grid."""
    shutil.copyfile(previous / METADATA_FILE, staging / METADATA_FILE)
    latent = remove_ids(read_index(previous / LATENT_FILE), stale_rows)
    names = raw_segments(previous, manifest)
    grid = manifest.pixel_grid()
    raw = carry_segments(previous, staging, names, np.asarray(stale_rows), grid)
    write_removed(staging, raw.removed)
    return latent, raw

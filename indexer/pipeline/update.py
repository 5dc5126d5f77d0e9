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
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np

from latentsearch.encoder.devices import for_indexing
from latentsearch.encoder.training import TrainedModel, load_model
from latentsearch.indexer.files.folders import FolderScan, read_batches
from latentsearch.indexer.indexes.faiss_helpers import read_index, remove_ids
from latentsearch.indexer.indexes.pixel_segments import (
    CarriedSegments,
    carry_segments,
    write_removed,
)
from latentsearch.indexer.pipeline.build import NothingToIndexError, build_index
from latentsearch.indexer.pipeline.plan_ahead import planned, planning_ahead
from latentsearch.indexer.pipeline.settings import BuildSettings
from latentsearch.indexer.pipeline.update_plan import PlanRequest, UpdatePlan
from latentsearch.indexer.pipeline.writer import BuildRecord, IndexWriter, finish_build
from latentsearch.indexer.serve.outliers import error_stride
from latentsearch.indexer.store.disk import staged_build
from latentsearch.indexer.store.manifest import (
    LATENT_FILE,
    METADATA_FILE,
    Manifest,
    raw_segments,
)
from latentsearch.indexer.store.metadata import MetadataWriter
from latentsearch.indexer.store.thumbnails import carry_thumbnails

log = logging.getLogger(__name__)


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
    request = PlanRequest.of(data, model_dir, out_dir, settings)
    # while the plan is made in a second process, load the model rather than wait for it
    loaded = load_model(model_dir) if planning_ahead(request) else None
    ahead = planned(request)
    folder, settings = ahead.folder, replace(settings, metric=ahead.metric)
    if ahead.rebuild or ahead.plan is None or ahead.previous is None:
        log.warning("full rebuild: %s", ahead.rebuild)
        return build_index(folder, model_dir, out_dir, settings)
    plan, previous = ahead.plan, ahead.previous
    if not plan.to_encode and not plan.stale_rows:
        log.info("%s is up to date: all %d files unchanged", out_dir, plan.unchanged)
        unchanged = {"base": previous.name, "unchanged": plan.unchanged, "added": 0, "removed": 0}
        seconds = round(time.perf_counter() - started, 3)
        return replace(Manifest.load(previous), update=unchanged, build_seconds=seconds)
    model, inference = for_indexing(loaded or load_model(model_dir), settings.batch_size)
    settings = replace(settings, batch_size=inference.batch_size)
    return _apply_update(folder, model, Path(model_dir), out_dir, previous, plan, settings)


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

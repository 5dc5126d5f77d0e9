"""``latentsearch index``: bulk-encode a folder into latent and raw-pixel FAISS indexes."""

from __future__ import annotations

import logging
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np

from latentsearch.encoder.devices import for_indexing
from latentsearch.encoder.inference import encode_images
from latentsearch.encoder.training import TrainedModel, load_model
from latentsearch.encoder.versioned_dir import current_build
from latentsearch.indexer.files.corpus import resolve_data
from latentsearch.indexer.files.folders import (
    FolderScan,
    NothingReadableError,
    nothing_readable,
    read_batches,
)
from latentsearch.indexer.indexes.choice import (
    IndexChoiceError,
    index_key_for,
    training_size,
)
from latentsearch.indexer.indexes.codebook import new_codebook_index
from latentsearch.indexer.indexes.factory import empty_index, train_index
from latentsearch.indexer.indexes.faiss_helpers import (
    BINARY_KEY,
    DEFAULT_METRIC,
    HAMMING,
    prepare_vectors,
)
from latentsearch.indexer.indexes.pixel_grid import PixelGrid, grid_for_budget
from latentsearch.indexer.indexes.pixel_segments import PixelSegmentWriter
from latentsearch.indexer.pipeline.settings import BuildSettings
from latentsearch.indexer.pipeline.writer import BuildRecord, IndexWriter, finish_build
from latentsearch.indexer.serve.outliers import error_stride
from latentsearch.indexer.store.disk import staged_build
from latentsearch.indexer.store.manifest import METADATA_FILE, Manifest
from latentsearch.indexer.store.metadata import MetadataWriter

log = logging.getLogger(__name__)


NothingToIndexError = NothingReadableError  # the name the build's callers know it by


def training_codes(
    scan: FolderScan, model: TrainedModel, size: int, settings: BuildSettings
) -> np.ndarray:
    """Codes of a random sample of ``size`` files (the first pass of a two-pass IVF build).

    A random sample, not the first batches: folders are usually sorted by class, and
    centroids trained on one class would serve the others badly.
    """
    rng = np.random.default_rng(settings.seed)
    picked = np.sort(rng.choice(len(scan.paths), size=size, replace=False))
    sample = FolderScan(scan.root, [scan.paths[i] for i in picked])  # its skips are not kept
    config = model.config
    batches = read_batches(
        sample,
        config.image_size,
        config.channels,
        settings.chosen_batch_size,
        settings.workers,
        description="training sample",
    )
    codes = [encode_images(model.encoder, batch.images) for batch in batches]
    if not codes:
        raise nothing_readable(sample.root, len(sample.paths), sample.skipped)
    return np.concatenate(codes)


def empty_latent_index(
    count: int, model: TrainedModel, settings: BuildSettings
) -> tuple[str, faiss.Index]:
    """The factory key and empty latent index for ``count`` images, not yet trained."""
    dim = model.config.latent_dim
    if model.config.variant == "vqvae":  # the model's codebook is the index's: no training
        return new_codebook_index(model)
    if settings.metric == HAMMING:
        return BINARY_KEY, empty_index(BINARY_KEY, dim, HAMMING)
    key = index_key_for(settings.index_type, count, dim, settings.memory_budget)
    return key, empty_index(key, dim, settings.chosen_metric)


def new_latent_index(
    scan: FolderScan, model: TrainedModel, settings: BuildSettings
) -> tuple[str, faiss.Index]:
    """The factory key and empty latent index ``settings`` ask for, trained if it must be."""
    key, index = empty_latent_index(len(scan.paths), model, settings)
    sample_size = training_size(key, len(scan.paths))
    if sample_size:
        codes = prepare_vectors(
            training_codes(scan, model, sample_size, settings), settings.chosen_metric
        )
        train_index(index, key, codes)
    return key, index


def latent_metric(model: TrainedModel, settings: BuildSettings) -> str:
    """Hamming for a binary-code model (whatever else was asked), L2 for a vqvae (its grid of
    codebook indices, see ``indexes.codebook``), else as asked or cosine."""
    if model.config.variant == "vqvae":
        return _codebook_metric(settings)
    if model.config.binary_bits:
        if settings.index_type not in ("flat", "auto"):
            raise IndexChoiceError(
                f"binary codes are searched exactly by Hamming distance; "
                f"--index-type {settings.index_type} does not apply"
            )
        return HAMMING
    if settings.metric == HAMMING:
        raise IndexChoiceError("the hamming metric needs a model trained with --binary-bits")
    return settings.metric or DEFAULT_METRIC


def _codebook_metric(settings: BuildSettings) -> str:
    if settings.index_type not in ("flat", "auto") or settings.metric not in (None, "l2"):
        raise IndexChoiceError(
            "a vqvae index stores each image as its codebook indices and compares the "
            "quantised grids by L2; leave out --index-type and --metric"
        )
    return "l2"


def baseline_grid(count: int, model: TrainedModel, settings: BuildSettings) -> PixelGrid:
    """The pixel grid of the raw-pixel baseline (exact L2, one byte a value): the model's
    input, shrunk where ``count`` images of it would not fit the memory budget."""
    config = model.config
    grid = grid_for_budget(count, config.image_size, config.channels, settings.memory_budget)
    if grid.shrunk:
        log.info(
            "%d images of %s pixels do not fit the memory budget of %d bytes: the raw-pixel "
            "baseline keeps %s",
            count,
            config.input_shape,
            settings.memory_budget,
            grid.describe(),
        )
    return grid


def build_index(
    data: str | Path,
    model_dir: str | Path,
    out_dir: str | Path,
    settings: BuildSettings = BuildSettings(),
) -> Manifest:
    """Index every image under ``data`` (or the built-in corpus) into ``out_dir``.

    The new index is written beside the old one and replaces it only once complete.
    Unreadable files are skipped and listed in the manifest.
    """
    started = time.perf_counter()
    folder = resolve_data(data)
    model = load_model(model_dir)  # the decoder scores reconstruction errors for outliers
    model, plan = for_indexing(model, settings.batch_size)
    settings = replace(settings, metric=latent_metric(model, settings), batch_size=plan.batch_size)
    config = model.config
    scan = FolderScan.of(folder)
    key, latent = new_latent_index(scan, model, settings)
    with staged_build(out_dir) as staging:
        raw = PixelSegmentWriter(staging, baseline_grid(len(scan.paths), model, settings))
        with MetadataWriter(staging / METADATA_FILE) as metadata:
            stride = error_stride(len(scan.paths))
            writer = IndexWriter(model, latent, raw, metadata, settings.chosen_metric, 0, stride)
            batches = read_batches(
                scan,
                config.image_size,
                config.channels,
                settings.chosen_batch_size,
                settings.workers,
                description="indexing",
            )
            with closing(batches):  # a failed write stops the reading at once
                for batch in batches:
                    writer.add(batch)
        if latent.ntotal == 0:
            raise nothing_readable(scan.root, len(scan.paths), scan.skipped)
        record = BuildRecord(
            folder, Path(model_dir), scan, started, recall_target=settings.recall_target
        )
        manifest = finish_build(staging, writer, record, key)
    log.info(
        "indexed %d images (%d skipped) with %s (%s) into %s in %.1f s",
        manifest.count,
        len(scan.skipped),
        manifest.index_type,
        manifest.metric,
        current_build(out_dir),
        manifest.build_seconds,
    )
    return manifest

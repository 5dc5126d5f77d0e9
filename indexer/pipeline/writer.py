"""Filling one build folder: the batch-by-batch add shared by full builds and updates."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from latentsearch.encoder.inference import encode_images
from latentsearch.encoder.training import TrainedModel
from latentsearch.indexer.files.folders import FolderScan, ImageBatch
from latentsearch.indexer.indexes.faiss_helpers import (
    add_vectors,
    is_ivf,
    prepare_vectors,
    write_index,
)
from latentsearch.indexer.indexes.pixel_segments import PixelSegmentWriter
from latentsearch.indexer.indexes.tuning import tune_probes
from latentsearch.indexer.serve.outliers import MIN_ERROR_STRIDE, collection_errors
from latentsearch.indexer.store.bundle import copy_model
from latentsearch.indexer.store.checksums import tree_checksums
from latentsearch.indexer.store.manifest import LATENT_FILE, MANIFEST_FILE, Manifest, encoder_sha256
from latentsearch.indexer.store.metadata import MetadataWriter

log = logging.getLogger(__name__)


@dataclass
class IndexWriter:
    """The two indexes and the metadata of a build being written; ids are metadata rows."""

    model: TrainedModel
    latent: faiss.Index
    raw: PixelSegmentWriter
    metadata: MetadataWriter
    metric: str
    next_id: int = 0
    error_stride: int = MIN_ERROR_STRIDE  # outliers.error_stride of the collection's size

    def add(self, batch: ImageBatch) -> None:
        """Encode one batch and add it under the next free ids (= its metadata rows)."""
        codes = encode_images(self.model.encoder, batch.images, max(1, len(batch.images)))
        ids = np.arange(self.next_id, self.next_id + len(batch.paths), dtype=np.int64)
        errors = collection_errors(self.model, batch.images, codes, ids, self.error_stride)
        self.add_encoded(batch, codes, errors)

    def add_encoded(self, batch: ImageBatch, codes: np.ndarray | None, errors: np.ndarray) -> None:
        """Add a batch encoded elsewhere (a Ray shard) under the next free ids; ``codes``
        None when the latent index already holds them (merged IVF parts)."""
        ids = np.arange(self.next_id, self.next_id + len(batch.paths), dtype=np.int64)
        if codes is not None:
            vectors = prepare_vectors(codes, self.metric, self.model.config.binary_threshold)
            add_vectors(self.latent, vectors, ids)
        self.raw.add(batch.images, ids)
        self.metadata.append(
            batch.paths, batch.labels, batch.thumbnails, errors, batch.hashes, batch.signatures
        )
        self.next_id += len(batch.paths)


@dataclass(frozen=True)
class BuildRecord:
    """What the manifest says about a build besides the model and the indexes."""

    folder: Path
    model_dir: Path
    scan: FolderScan
    started: float
    update: dict | None = None
    # set: an IVF index's probes are tuned to this recall (tuning.tune_probes); an update
    # keeps the probes of the build it started from, ``probes``
    recall_target: float | None = None
    probes: dict | None = None


def finish_build(
    staging: Path,
    writer: IndexWriter,
    record: BuildRecord,
    index_key: str,
    known_sums: dict[str, str] | None = None,
) -> Manifest:
    """Write the indexes, the model copy and the manifest into ``staging``; ``known_sums``:
    checksums of files linked unchanged from a verified build, not read again."""
    probes = record.probes
    if record.recall_target is not None and is_ivf(writer.latent):
        probes = tune_probes(writer.latent, record.recall_target).as_dict()
    write_index(writer.latent, staging / LATENT_FILE)
    writer.raw.close()
    copy_model(writer.model, staging)
    config = writer.model.config
    manifest = Manifest(
        data_root=str(record.folder.resolve()),
        model_source=str(Path(record.model_dir).resolve()),
        model_config=asdict(config),
        model_sha256=encoder_sha256(writer.model.path),
        latent_dim=config.latent_dim,
        raw_dim=writer.raw.grid.dim,
        count=int(writer.latent.ntotal),
        skipped=[asdict(s) for s in record.scan.skipped],
        metric=writer.metric,
        index_type=index_key,
        build_seconds=round(time.perf_counter() - record.started, 3),
        created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        update=record.update,
        probes=probes,
        checksums=tree_checksums(staging, frozenset({MANIFEST_FILE}), known_sums),
    )
    manifest.save(staging)
    return manifest

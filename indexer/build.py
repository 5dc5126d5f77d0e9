"""``latentsearch index``: bulk-encode a folder into latent and raw-pixel FAISS indexes."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from latentsearch.encoder.inference import encode_images
from latentsearch.encoder.training import ENCODER_FILE, load_model
from latentsearch.encoder.versioned_dir import current_build, new_build
from latentsearch.indexer.bundle import (
    LATENT_FILE,
    METADATA_FILE,
    RAW_FILE,
    Manifest,
    copy_model,
)
from latentsearch.indexer.corpus import resolve_data
from latentsearch.indexer.faiss_helpers import add_vectors, new_flat_index, write_index
from latentsearch.indexer.metadata import MetadataWriter
from latentsearch.indexer.reading import DEFAULT_WORKERS, FolderScan, read_batches

log = logging.getLogger(__name__)


class NothingToIndexError(RuntimeError):
    """Every file in the folder failed to read: there is nothing to index."""


@dataclass(frozen=True)
class BuildSettings:
    batch_size: int = 256
    workers: int = DEFAULT_WORKERS


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    model = load_model(model_dir, with_decoder=False)
    config = model.config
    scan = FolderScan.of(folder)
    latent = new_flat_index(config.latent_dim)
    raw = new_flat_index(config.raw_dim)
    with new_build(out_dir) as staging:
        with MetadataWriter(staging / METADATA_FILE) as metadata:
            batches = read_batches(
                scan,
                config.image_size,
                config.channels,
                settings.batch_size,
                settings.workers,
                description="indexing",
            )
            for batch in batches:
                add_vectors(latent, encode_images(model.encoder, batch.images))
                add_vectors(raw, batch.images)
                metadata.append(batch.paths, batch.labels, batch.thumbnails)
        if latent.ntotal == 0:
            raise NothingToIndexError(
                f"none of the {len(scan.paths)} image files under {folder} could be read; "
                f"first failure: {scan.skipped[0].path}: {scan.skipped[0].reason}"
            )
        write_index(latent, staging / LATENT_FILE)
        write_index(raw, staging / RAW_FILE)
        copy_model(model, staging)
        manifest = Manifest(
            data_root=str(folder.resolve()),
            model_source=str(Path(model_dir).resolve()),
            model_config=asdict(config),
            model_sha256=file_sha256(model.path / ENCODER_FILE),
            latent_dim=config.latent_dim,
            raw_dim=config.raw_dim,
            count=int(latent.ntotal),
            skipped=[asdict(s) for s in scan.skipped],
            build_seconds=round(time.perf_counter() - started, 3),
            created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
        manifest.save(staging)
    log.info(
        "indexed %d images (%d skipped) into %s in %.1f s",
        manifest.count,
        len(scan.skipped),
        current_build(out_dir),
        manifest.build_seconds,
    )
    return manifest

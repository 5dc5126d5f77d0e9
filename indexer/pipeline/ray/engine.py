"""``latentsearch index --engine ray``: the same build, with Ray Data doing the bulk work.

Ray Data lists the folder (a task per top-level entry), decodes in parallel tasks and
encodes with a pool of actors that each load the model once (one GPU each where the
cluster has GPUs). Actors that die are restarted and their batch retried. The results
land as Parquet shards in the staging build; this process then joins them, one shard at
a time, into the usual build (``metadata.h5``, raw-pixel and latent indexes, manifest),
published atomically like a local build. For IVF indexes the quantiser is trained on a
sample of the shards' codes and each shard is added by a Ray task to its own copy; the
copies are merged with ``IndexIVF.merge_from``.

``--update`` is not offered here: incremental updates stay single-machine.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, replace
from itertools import accumulate
from pathlib import Path

from latentsearch.encoder.devices import CPU_BATCH, GPU_BATCH
from latentsearch.encoder.errors import UserError
from latentsearch.encoder.training import TrainedModel, load_model
from latentsearch.indexer.files.corpus import resolve_data
from latentsearch.indexer.files.folders import FolderScan, nothing_readable
from latentsearch.indexer.indexes.choice import training_size
from latentsearch.indexer.indexes.factory import train_index
from latentsearch.indexer.indexes.faiss_helpers import prepare_vectors
from latentsearch.indexer.indexes.pixel_segments import PixelSegmentWriter
from latentsearch.indexer.pipeline.build import (
    baseline_grid,
    empty_latent_index,
    latent_metric,
)
from latentsearch.indexer.pipeline.settings import BuildSettings
from latentsearch.indexer.pipeline.writer import BuildRecord, IndexWriter, finish_build
from latentsearch.indexer.serve.outliers import error_stride
from latentsearch.indexer.store.disk import staged_build
from latentsearch.indexer.store.manifest import METADATA_FILE, Manifest
from latentsearch.indexer.store.metadata import MetadataWriter

log = logging.getLogger(__name__)
SHARD_FOLDER = "shards"  # inside the staging build; removed before it is published
ROWS_PER_SHARD = 8192


class RayEngineError(UserError, RuntimeError):
    """The Ray engine cannot do what was asked."""


class RayNotInstalledError(RayEngineError):
    """``--engine ray`` was asked for but Ray Data is not installed."""


def require_ray():
    """The ``ray`` module, or a clear error saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as err:
        raise RayNotInstalledError(
            f"--engine ray needs Ray Data ({err}); install it with: "
            'pip install "latentsearch[ray]"  (or pip install "ray[data]>=2.40")'
        ) from err
    return ray


@dataclass(frozen=True)
class RaySettings:
    address: str | None = None  # None: the cluster RAY_ADDRESS names, else a local one
    actors: int | None = None  # encoder actors; None: one per GPU, else half the CPUs
    actor_class: type | None = None  # None: ray_stages.EncodeActor; tests swap in one that dies


def _pool(ray, options: RaySettings, batch_size: int | None) -> tuple[int, dict, int]:
    """How many encoder actors, what each asks of the cluster, and images per batch."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return options.actors or gpus, {"num_gpus": 1}, batch_size or GPU_BATCH
    actors = options.actors or max(1, int(resources.get("CPU", 1)) // 2)
    return actors, {"num_cpus": 1}, batch_size or CPU_BATCH


def _one_cpu() -> dict:
    return {"num_cpus": 1}


def encode_to_shards(ray, scan_root: Path, model: TrainedModel, out: Path, build, options):
    """Run list → decode → encode → write on the cluster; how many files were listed."""
    from latentsearch.indexer.pipeline.ray import (
        stages as ray_stages,  # needs pyarrow, as Ray Data does
    )

    config = model.config
    size, actor_args, batch = _pool(ray, options, build.batch_size)
    listing = ray.data.from_items(ray_stages.top_entries(scan_root))
    listing = listing.flat_map(ray_stages.list_entry).materialize()
    listed = listing.count()
    if listed == 0:
        raise FileNotFoundError(f"no image files found under {scan_root}")
    blocks = max(1, -(-listed // batch))
    encoded = (
        listing.repartition(blocks)
        .map_batches(
            ray_stages.decode_batch,
            batch_format="pyarrow",
            # Args from a function keep Ray Data from fusing decoding into the encoder
            # actors: decoding must scale with the CPUs, not with the (GPU) actors.
            ray_remote_args_fn=_one_cpu,
            fn_kwargs={
                "root": str(scan_root),
                "size": config.image_size,
                "channels": config.channels,
            },
        )
        .map_batches(
            options.actor_class or ray_stages.EncodeActor,
            batch_size=batch,
            batch_format="pyarrow",
            fn_constructor_kwargs={
                "model_dir": str(model.path),
                "batch_size": build.batch_size,
                "error_stride": error_stride(listed),
            },
            # Ray Data's actor pools default to max_restarts=-1 and max_task_retries=-1: a dead
            # actor is replaced and its batch retried (tests/indexer/pipeline/test_ray_engine.py)
            concurrency=size,
            **actor_args,
        )
    )
    log.info("encoding %d files with %d actors (%s)", listed, size, actor_args)
    encoded.write_parquet(str(out), min_rows_per_file=ROWS_PER_SHARD)
    return listed


def _latent_index(ray, files, counts, listed: int, model: TrainedModel, build: BuildSettings):
    """The factory key and latent index; for IVF, trained, filled and merged from parts."""
    from latentsearch.indexer.pipeline.ray import shards

    key, index = empty_latent_index(listed, model, build)
    sample = min(training_size(key, listed), sum(counts))
    if not sample:
        return key, index, False
    codes = prepare_vectors(
        shards.sample_codes(files, counts, sample, build.seed), build.chosen_metric
    )
    train_index(index, key, codes)
    template = ray.put(shards.ivf_template(index))
    part = ray.remote(shards.ivf_part)
    starts = accumulate(counts[:-1], initial=0)  # the first id of each shard
    refs = [
        part.remote(template, str(f), s, build.metric) for f, s in zip(files, starts, strict=True)
    ]
    shards.merge_parts(index, (ray.get(ref) for ref in refs))
    return key, index, True


def build_index_ray(
    data: str | Path,
    model_dir: str | Path,
    out_dir: str | Path,
    settings: BuildSettings = BuildSettings(),
    options: RaySettings = RaySettings(),
) -> Manifest:
    """``build.build_index`` on a Ray cluster: the same build, the same files."""
    ray = require_ray()
    # pyarrow comes with Ray Data: imported here, so that a local build runs without either
    from latentsearch.indexer.pipeline.ray import shards

    started = time.perf_counter()
    folder = resolve_data(data).resolve()
    model = load_model(model_dir)
    settings = replace(settings, metric=latent_metric(model, settings))
    if not ray.is_initialized():
        ray.init(address=options.address)
    with staged_build(out_dir) as staging:
        shard_dir = staging / SHARD_FOLDER
        listed = encode_to_shards(ray, folder, model, shard_dir, settings, options)
        files = shards.shard_files(shard_dir)
        log.info("%d shards written in %.1f s", len(files), time.perf_counter() - started)
        shards.check_rows(files, listed)
        counts = shards.readable_counts(files)
        key, latent, filled = _latent_index(ray, files, counts, listed, model, settings)
        raw = PixelSegmentWriter(staging, baseline_grid(listed, model, settings))
        with MetadataWriter(staging / METADATA_FILE) as metadata:
            writer = IndexWriter(model, latent, raw, metadata, settings.chosen_metric)
            skipped = shards.join_shards(files, writer, with_latent=not filled)
        scan = FolderScan(folder, [], skipped)
        if writer.next_id == 0:
            raise nothing_readable(folder, listed, skipped)
        log.info("shards joined after %.1f s", time.perf_counter() - started)
        shutil.rmtree(shard_dir)  # not part of the build
        record = BuildRecord(
            folder, Path(model_dir), scan, started, recall_target=settings.recall_target
        )
        manifest = finish_build(staging, writer, record, key)
    log.info(
        "indexed %d images (%d skipped) with Ray into %s", manifest.count, len(skipped), out_dir
    )
    return manifest

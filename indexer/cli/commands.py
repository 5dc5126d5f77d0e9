"""What each CLI subcommand does: one library call, then printing its result."""

from __future__ import annotations

import argparse
import functools
import json

from latentsearch.encoder.config import LossConfig, ModelConfig, TrainConfig
from latentsearch.encoder.errors import USER_ERRORS
from latentsearch.encoder.sampling import write_sample_grid
from latentsearch.encoder.training import model_input_size
from latentsearch.indexer.bench.benchmark import BenchConfig, bench_folder
from latentsearch.indexer.bench.report import quality_table
from latentsearch.indexer.cli.demo import run_demo as build_demo
from latentsearch.indexer.cli.parser import index_settings
from latentsearch.indexer.files.corpus import BUILTIN, resolve_data
from latentsearch.indexer.files.folders import DEFAULT_WORKERS
from latentsearch.indexer.files.images import load_image
from latentsearch.indexer.pipeline.build import build_index
from latentsearch.indexer.pipeline.ray.engine import RayEngineError, RaySettings, build_index_ray
from latentsearch.indexer.pipeline.settings import BuildSettings
from latentsearch.indexer.pipeline.train import choose_shape, train_on_folder
from latentsearch.indexer.pipeline.update import update_index
from latentsearch.indexer.serve.collection_outliers import (
    label_doubts,
    most_unusual_of,
    write_outliers,
)
from latentsearch.indexer.serve.denoise import denoise_file
from latentsearch.indexer.serve.duplicates import find_duplicates, write_duplicates
from latentsearch.indexer.serve.http_api import make_server, serve_until_interrupted
from latentsearch.indexer.serve.launch import serve
from latentsearch.indexer.serve.search import SearchResult, search_image
from latentsearch.indexer.store.bundle import IndexBundle
from latentsearch.indexer.store.manifest import Manifest

__all__ = [
    "USER_ERRORS",
    "run_api",
    "run_app",
    "run_bench",
    "run_demo",
    "run_denoise",
    "run_duplicates",
    "run_outliers",
    "run_index",
    "run_sample",
    "run_search",
    "run_train",
]


def _latent_dim(args: argparse.Namespace, image_size: int, filters: tuple[int, ...]) -> int:
    if args.variant == "vqvae":  # the flattened grid: grid^2 vectors of codebook_dim
        return max(1, image_size // 2 ** len(filters)) ** 2 * args.codebook_dim
    return args.binary_bits or args.latent_dim


def run_train(args: argparse.Namespace) -> int:
    channels = args.channels or (1 if args.data == BUILTIN else 3)
    image_size, filters, reasons = choose_shape(
        resolve_data(args.data), args.image_size, args.filters
    )
    model_config = ModelConfig(
        image_size=image_size,
        channels=channels,
        latent_dim=_latent_dim(args, image_size, filters),
        filters=filters,
        decoder=args.decoder,
        variant=args.variant,
        binary_bits=args.binary_bits,
        codebook_size=args.codebook_size if args.variant == "vqvae" else 0,
        codebook_dim=args.codebook_dim if args.variant == "vqvae" else 0,
    )
    train_config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        validation_split=args.validation_split,
        seed=args.seed,
        search_code=args.search_code,
        mirror=args.mirror,
        reasons=reasons,
    )
    loss_config = LossConfig(
        noise_std=args.noise_std,
        corruption=args.corruption,
        mask_ratio=args.mask_ratio,
        sparsity=args.sparsity,
        l1_weight=args.l1_weight,
        kl_weight=args.kl_weight,
        sparsity_target=args.sparsity_target,
        contractive_weight=args.contractive_weight,
        beta=args.beta,
        commitment=args.commitment,
        label_dropout=args.label_dropout,
    )
    folder = train_on_folder(args.data, args.out, model_config, train_config, loss_config)
    print(f"model saved to {folder}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    like = None
    if args.like is not None:
        like = load_image(args.like, *model_input_size(args.model))
    out = write_sample_grid(args.model, args.n, args.out, args.seed, args.label, like)
    print(f"wrote generated images to {out}")
    return 0


def run_index(args: argparse.Namespace) -> int:
    settings = index_settings(args)
    if args.engine == "ray":
        manifest = _index_on_ray(args, settings)
    else:
        build = update_index if args.update else build_index
        manifest = build(args.data, args.model, args.out, settings)
    changes = manifest.update or {}
    print(
        f"indexed {manifest.count} images ({manifest.index_type}, {manifest.metric}) into "
        f"{args.out} in {manifest.build_seconds:.1f} s; {len(manifest.skipped)} skipped"
        + (f"; updated: {changes}" if changes else "")
    )
    if manifest.probes:
        probes = manifest.probes
        print(
            f"  searches probe {probes['nprobe']} of {probes['lists']} lists: recall@10 "
            f"{probes['recall_at_10']} against scanning them all ({probes['queries']} codes)"
        )
    grid = manifest.pixel_grid()
    if grid.shrunk:
        print(f"  raw-pixel baseline on a {grid.describe()} grid, to fit the memory budget")
    for skipped in manifest.skipped:
        print(f"  skipped {skipped['path']}: {skipped['reason']}")
    return 0


def _index_on_ray(args: argparse.Namespace, settings: BuildSettings) -> Manifest:
    """``--workers`` counts encoder actors here (default: one per GPU, else CPUs / 2)."""
    if args.update:
        raise RayEngineError("--update runs on the local engine only; leave out --engine ray")
    options = RaySettings(address=args.ray_address, actors=args.workers)
    return build_index_ray(args.data, args.model, args.out, settings, options)


def format_results(result: SearchResult) -> str:
    lines = []
    searched = [("latent codes", result.latent, result.latent_ms)]
    if result.raw is not None and result.raw_ms is not None:
        searched.append(("raw pixels", result.raw, result.raw_ms))
    for name, hits, ms in searched:
        lines.append(f"{name} ({ms:.1f} ms):")
        for hit in hits:
            label = hit.label if hit.label is not None else "-"
            lines.append(f"  {hit.rank:>3}  {hit.distance:>10.4f}  {label:<12} {hit.path}")
    return "\n".join(lines)


def run_search(args: argparse.Namespace) -> int:
    result = search_image(args.index, args.image, args.k)
    print(json.dumps(result.to_json(), indent=2) if args.json else format_results(result))
    return 0


def run_app(args: argparse.Namespace) -> int:
    return _serve_page(args.index, args)


def _serve_page(index_dirs, args: argparse.Namespace) -> int:
    announce = functools.partial(print, flush=True)
    return serve(index_dirs, args.port, args.host, args.token, announce)


def run_api(args: argparse.Namespace) -> int:
    server = make_server(args.index, args.host, args.port, args.token)
    host, port = str(server.server_address[0]), server.server_address[1]
    print(f"serving searches on http://{host}:{port}/search  (Ctrl+C stops)", flush=True)
    serve_until_interrupted(server)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    report = build_demo(args.workdir, epochs=args.epochs)
    print(report.table())
    if args.no_serve:
        print(
            f"index ready in {report.index_dir}; serve it with: latentsearch app --index "
            f"{report.index_dir}"
        )
        return 0
    return _serve_page(report.index_dir, args)


def run_bench(args: argparse.Namespace) -> int:
    config = BenchConfig(
        data=args.data,
        models=tuple(str(m) for m in args.model),
        query_data=args.query_data,
        queries_per_class=args.queries_per_class,
        ks=args.k,
        knn_k=args.knn,
        seed=args.seed,
        batch_size=args.batch_size,
        workers=args.workers or DEFAULT_WORKERS,
        index_type=args.index_type,
        metric=args.metric,
    )
    report = bench_folder(config, args.out)
    print(quality_table(report))
    print(f"\nreport written to {args.out} in {report['wall_seconds']:.0f} s (report.md)")
    return 0


def run_duplicates(args: argparse.Namespace) -> int:
    bundle = IndexBundle.load(args.index)
    report = find_duplicates(bundle, args.threshold, args.mirrored, pixels=args.pixels)
    in_groups = sum(len(group.rows) for group in report.groups)
    how = "given"
    if report.calibration is not None:
        c = report.calibration
        how = f"reaches {c.share:.0%} of {c.copies} copies made of {c.originals} of the photos"
    print(
        f"{len(report.groups)} groups of near-duplicates hold {in_groups} of {report.images} "
        f"images (threshold {report.threshold:.4g} {report.metric} distance: {how})"
    )
    for n, group in enumerate(report.groups[: args.show], start=1):
        print(f"group {n}: {len(group.rows)} images, distance up to {group.distance:.4g}")
        for path in group.paths:
            print(f"  {path}")
    if args.out is not None:
        print(f"wrote {write_duplicates(report, args.out)}")
    return 0


def run_outliers(args: argparse.Namespace) -> int:
    bundle = IndexBundle.load(args.index)
    outliers, doubts = most_unusual_of(bundle, args.n), label_doubts(bundle)
    print(f"the {len(outliers)} most unusual of {len(bundle)} images:")
    for o in outliers:
        print(f"  {o.percentile:.1f}% ({o.reason}; reconstruction error {o.error:.4g})  {o.path}")
    print(f"{len(doubts)} files whose label disagrees with their nearest neighbours':")
    for d in doubts[: args.n]:
        print(f"  {d.label} -> {d.neighbours_say} ({d.share:.0%} of neighbours)  {d.path}")
    if args.out is not None:
        print(f"wrote {write_outliers(outliers, doubts, args.out)}")
    return 0


def run_denoise(args: argparse.Namespace) -> int:
    print(f"wrote the cleaned photo to {denoise_file(args.model, args.image, args.out)}")
    return 0

"""What each CLI subcommand does: one library call, then printing its result."""

from __future__ import annotations

import argparse
import json

from latentsearch.encoder.config import ModelConfig, TrainConfig
from latentsearch.indexer.build import BuildSettings, build_index
from latentsearch.indexer.corpus import BUILTIN
from latentsearch.indexer.demo import run_demo as build_demo
from latentsearch.indexer.errors import USER_ERRORS
from latentsearch.indexer.reading import DEFAULT_WORKERS
from latentsearch.indexer.search import SearchResult, search_image
from latentsearch.indexer.serve import serve
from latentsearch.indexer.train import train_on_folder

__all__ = ["USER_ERRORS", "run_app", "run_demo", "run_index", "run_search", "run_train"]


def run_train(args: argparse.Namespace) -> int:
    channels = args.channels or (1 if args.data == BUILTIN else 3)
    model_config = ModelConfig(
        image_size=args.image_size,
        channels=channels,
        latent_dim=args.latent_dim,
        filters=args.filters,
        decoder=args.decoder,
    )
    train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    folder = train_on_folder(args.data, args.out, model_config, train_config)
    print(f"model saved to {folder}")
    return 0


def run_index(args: argparse.Namespace) -> int:
    settings = BuildSettings(batch_size=args.batch_size, workers=args.workers or DEFAULT_WORKERS)
    manifest = build_index(args.data, args.model, args.out, settings)
    print(
        f"indexed {manifest.count} images into {args.out} in {manifest.build_seconds:.1f} s; "
        f"{len(manifest.skipped)} skipped"
    )
    for skipped in manifest.skipped:
        print(f"  skipped {skipped['path']}: {skipped['reason']}")
    return 0


def format_results(result: SearchResult) -> str:
    lines = []
    for name, hits, ms in (
        ("latent codes", result.latent, result.latent_ms),
        ("raw pixels", result.raw, result.raw_ms),
    ):
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
    return serve(args.index, args.port)


def run_demo(args: argparse.Namespace) -> int:
    report = build_demo(args.workdir, epochs=args.epochs)
    print(report.table())
    if args.no_serve:
        print(
            f"index ready in {report.index_dir}; serve it with: latentsearch app --index "
            f"{report.index_dir}"
        )
        return 0
    print(f"serving the search page on http://localhost:{args.port}  (Ctrl+C stops)")
    return serve(report.index_dir, args.port)

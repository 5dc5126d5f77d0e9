"""What each CLI subcommand does: one library call, then printing its result."""

from __future__ import annotations

import argparse
import json

from latentsearch.encoder.config import ConfigError, ModelConfig, TrainConfig
from latentsearch.encoder.training import ModelLoadError
from latentsearch.encoder.versioned_dir import NoBuildError, NotOurDirectoryError
from latentsearch.indexer.build import BuildSettings, NothingToIndexError, build_index
from latentsearch.indexer.bundle import IndexLoadError
from latentsearch.indexer.corpus import BUILTIN
from latentsearch.indexer.demo import run_demo as build_demo
from latentsearch.indexer.evaluation import NoLabelsError
from latentsearch.indexer.faiss_helpers import IndexFileError
from latentsearch.indexer.images import ImageReadError
from latentsearch.indexer.metadata import MetadataError
from latentsearch.indexer.reading import DEFAULT_WORKERS
from latentsearch.indexer.search import SearchResult, search_image
from latentsearch.indexer.serve import serve
from latentsearch.indexer.train import train_on_folder

# Errors that mean "the user asked for something that cannot be done": a message, no traceback.
USER_ERRORS = (
    ConfigError,
    FileNotFoundError,
    NotADirectoryError,
    ImageReadError,
    IndexFileError,
    IndexLoadError,
    MetadataError,
    ModelLoadError,
    NoBuildError,
    NoLabelsError,
    NotOurDirectoryError,
    NothingToIndexError,
)


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
        print(f"index ready in {report.index_dir}; serve it with: latentsearch app --index "
              f"{report.index_dir}")
        return 0
    print(f"serving the search page on http://localhost:{args.port}  (Ctrl+C stops)")
    return serve(report.index_dir, args.port)

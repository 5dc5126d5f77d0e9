"""The ``latentsearch`` command line: each subcommand is one library call."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from latentsearch.encoder.config import (
    CORRUPTIONS,
    DECODERS,
    SEARCH_CODES,
    SPARSITY_PENALTIES,
    VARIANTS,
    LossConfig,
    ModelConfig,
    TrainConfig,
)
from latentsearch.indexer.indexes.choice import RECALL_TARGET

if TYPE_CHECKING:
    from latentsearch.indexer.pipeline.settings import BuildSettings

# TensorFlow's C++ start-up chatter drowns the CLI's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

log = logging.getLogger("latentsearch")
# the defaults every training flag shows and passes on (the configs load no Keras)
MODEL, TRAIN, LOSS = ModelConfig(), TrainConfig(), LossConfig()
TRUST_ENV = "LATENTSEARCH_TRUST_UNVERIFIED"  # as latentsearch.indexer.store.manifest.TRUST_ENV


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError as err:
        message = f"expected comma-separated integers, got {text!r}"
        raise argparse.ArgumentTypeError(message) from err


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train an autoencoder on a folder of images")
    p.add_argument("--data", required=True, help="image folder, or 'builtin' (MNIST 5k)")
    p.add_argument("--out", required=True, type=Path, help="model directory to write")
    p.add_argument("--decoder", choices=DECODERS, default=MODEL.decoder)
    p.add_argument("--latent-dim", type=_positive_int, default=MODEL.latent_dim)
    p.add_argument("--epochs", type=_positive_int, help="default: auto, about 800 optimiser steps")
    p.add_argument(
        "--image-size", type=_positive_int, help="default: auto, 64 for photos of 64 px up, else 32"
    )
    p.add_argument("--channels", type=int, choices=[1, 3], help="default: 1 for builtin, else 3")
    p.add_argument(
        "--filters", type=_int_list, help="e.g. 32,64,128 (default: by input size, 4x4 grid)"
    )
    p.add_argument(
        "--batch-size", type=_positive_int, help="default: auto, 32-128 by collection size"
    )
    p.add_argument("--learning-rate", type=float, default=TRAIN.learning_rate)
    p.add_argument("--validation-split", type=float, default=TRAIN.validation_split)
    p.add_argument("--seed", type=int, default=TRAIN.seed, help="makes a run repeatable")
    p.add_argument(
        "--search-code",
        choices=SEARCH_CODES,
        default=TRAIN.search_code,
        help="what search uses: the bottleneck, or a PCA of the features feeding it "
        "(auto: chosen from the variant and the collection, docs/quality.md)",
    )
    mirror = p.add_mutually_exclusive_group()
    mirror.add_argument(
        "--mirror",
        dest="mirror",
        action="store_true",
        default=None,
        help="projected search code: give a photo and its mirror image the same code "
        "(default: auto, when the collection looks the same mirrored)",
    )
    mirror.add_argument(
        "--no-mirror",
        dest="mirror",
        action="store_false",
        help="projected search code: keep a photo and its mirror image apart "
        "(for digits, text, or anything where left and right differ in meaning)",
    )
    _add_variant_options(p)


def _add_variant_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("variant", "which autoencoder, and the weights of its loss terms")
    g.add_argument("--variant", choices=VARIANTS, default=MODEL.variant)
    g.add_argument(
        "--binary-bits", type=int, default=MODEL.binary_bits, help="16/32/64: a binary hash code"
    )
    g.add_argument("--noise-std", type=float, default=LOSS.noise_std, help="denoising: noise")
    g.add_argument("--corruption", choices=CORRUPTIONS, default=LOSS.corruption)
    g.add_argument("--mask-ratio", type=float, default=LOSS.mask_ratio, help="patches: masked")
    g.add_argument("--sparsity", choices=SPARSITY_PENALTIES, default=LOSS.sparsity)
    g.add_argument("--l1-weight", type=float, default=LOSS.l1_weight)
    g.add_argument("--kl-weight", type=float, default=LOSS.kl_weight)
    g.add_argument(
        "--sparsity-target",
        "--rho",
        type=float,
        default=LOSS.sparsity_target,
        help="sparse kl: target mean activation (rho)",
    )
    g.add_argument("--contractive-weight", type=float, default=LOSS.contractive_weight)
    g.add_argument("--beta", type=float, default=LOSS.beta, help="vae, cvae: weight of the KL")
    # the model config leaves the codebook at 0 (no vqvae); these are the vqvae's defaults
    g.add_argument("--codebook-size", type=int, default=512, help="vqvae: codebook entries K")
    g.add_argument(
        "--codebook-dim", type=int, default=16, help="vqvae: length of each codebook vector"
    )
    g.add_argument("--commitment", type=float, default=LOSS.commitment, help="vqvae: commitment")
    g.add_argument(
        "--label-dropout", type=float, default=LOSS.label_dropout, help="cvae: share unlabelled"
    )


def _add_sample(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="write a grid of images generated by a VAE or cvae")
    p.add_argument("--model", required=True, type=Path)
    p.add_argument(
        "-n", type=_positive_int, default=16, help="number of images (cvae: per label row)"
    )
    p.add_argument("--label", help="cvae: generate this label (default: one row per label)")
    p.add_argument("--like", type=Path, help="an image: draw variations of it (posterior)")
    p.add_argument("--out", required=True, type=Path, help="PNG file to write")
    p.add_argument("--seed", type=int, default=0)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _memory_budget(text: str) -> int:
    from latentsearch.indexer.indexes.choice import IndexChoiceError, parse_memory_budget

    try:
        return parse_memory_budget(text)
    except IndexChoiceError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _add_index(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="encode a folder into latent and raw-pixel indexes")
    p.add_argument("--data", required=True, help="image folder, or 'builtin'")
    p.add_argument("--model", required=True, type=Path, help="model directory from `train`")
    p.add_argument("--out", required=True, type=Path, help="index directory to write")
    p.add_argument("--batch-size", type=_positive_int, help="default: 256, 1024 on a GPU")
    p.add_argument("--workers", type=_positive_int, help="decode threads (default: up to 8)")
    p.add_argument("--index-type", choices=["flat", "hnsw", "ivf", "ivfpq", "auto"], default="auto")
    p.add_argument("--metric", choices=["l2", "cosine"], help="latent index (default: cosine)")
    p.add_argument("--memory-budget", type=_memory_budget, default="2G", help="e.g. 2G, 512M")
    p.add_argument(
        "--recall-target",
        type=_recall,
        default=RECALL_TARGET,
        help=f"recall@10 an IVF index's probes are tuned to (default {RECALL_TARGET})",
    )
    p.add_argument("--update", action="store_true", help="encode only new or changed files")
    p.add_argument("--engine", choices=["local", "ray"], default="local", help="docs/scaling.md")
    p.add_argument("--ray-address", help="--engine ray: cluster (default: $RAY_ADDRESS or local)")


def _recall(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a recall above 0 and at most 1, got {text!r}")
    return value


def _add_search(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="find the images most like IMAGE")
    p.add_argument("image", type=Path)
    p.add_argument("--index", required=True, type=Path)
    p.add_argument("-k", type=_positive_int, default=10)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _add_trust(p)


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a number of 0 or more, got {text!r}")
    return value


def _csv_or_json(text: str) -> Path:
    from latentsearch.encoder.errors import UserError
    from latentsearch.indexer.serve.report_file import check_format

    try:
        return check_format(text)
    except UserError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _add_duplicates(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("duplicates", help="group the near-duplicate photos of an index")
    p.add_argument("--index", required=True, type=Path)
    p.add_argument(
        "--threshold",
        type=_non_negative_float,
        help="largest code distance of a duplicate, as search reports it "
        "(default: calibrated on copies of the collection's own photos)",
    )
    p.add_argument(
        "--mirrored", action="store_true", help="count a mirror image as a duplicate too"
    )
    p.add_argument(
        "--pixels", action="store_true", help="by raw pixels instead of latent codes (baseline)"
    )
    p.add_argument("--out", type=_csv_or_json, help="write the groups to FILE.csv or FILE.json")
    p.add_argument("--show", type=_positive_int, default=10, help="groups printed (default 10)")
    _add_trust(p)


def _add_denoise(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("denoise", help="clean a photo with a model trained --variant denoising")
    p.add_argument("image", type=Path)
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path, help="PNG file to write")


def _add_outliers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "outliers", help="the most unusual images, and files whose label looks wrong"
    )
    p.add_argument("--index", required=True, type=Path)
    p.add_argument("-n", type=_positive_int, default=20, help="images listed (default 20)")
    p.add_argument("--out", type=_csv_or_json, help="write both lists to FILE.csv or FILE.json")
    _add_trust(p)


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="retrieval quality and speed: latent vs raw pixels vs PCA")
    p.add_argument("--data", required=True, help="labelled folder (class = first sub-folder)")
    p.add_argument(
        "--model", required=True, type=Path, action="append", help="repeat to compare models"
    )
    p.add_argument("--query-data", help="query folder (default: sampled from --data)")
    p.add_argument(
        "--queries-per-class",
        type=_positive_int,
        help="sample N per class (default 100 from --data)",
    )
    p.add_argument("--k", type=_int_list, default=(10, 100, 1000), help="e.g. 10,100,1000")
    p.add_argument(
        "--knn", type=_positive_int, default=10, help="neighbours voting in k-NN accuracy"
    )
    p.add_argument("--out", type=Path, default=Path("latentsearch-bench"), help="report folder")
    p.add_argument("--seed", type=int, default=0, help="query sampling and example choice")
    p.add_argument(
        "--metric",
        choices=["cosine", "l2"],
        default="cosine",
        help="for every method (default cosine, as index builds)",
    )
    p.add_argument(
        "--index-type",
        choices=["flat", "hnsw", "ivf", "ivfpq", "auto"],
        default="flat",
        help="also build this index and report its recall@k against exact search",
    )
    p.add_argument("--batch-size", type=_positive_int, default=256)
    p.add_argument("--workers", type=_positive_int, help="decode threads (default: up to 8)")


def _add_trust(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust-unverified",
        action="store_true",
        help="load an index whose manifest has no checksums (damage goes undetected)",
    )


def _add_exposure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: loopback only)"
    )
    p.add_argument(
        "--token",
        default=os.environ.get("LATENTSEARCH_TOKEN"),
        help="ask every visitor for this access token (default: $LATENTSEARCH_TOKEN; "
        "the page takes it as ?token=..., the API as 'Authorization: Bearer ...')",
    )


def _add_app_and_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("app", help="serve the search page (Streamlit, headless)")
    p.add_argument(
        "--index", required=True, type=Path, action="append", help="repeat to offer a choice"
    )
    p.add_argument("--port", type=int, default=8501)
    _add_exposure(p)
    _add_trust(p)
    p = sub.add_parser("api", help="answer searches over HTTP with JSON (POST /search)")
    p.add_argument("--index", required=True, type=Path)
    p.add_argument("--port", type=int, default=8600, help="0: any free port")
    _add_exposure(p)
    _add_trust(p)
    p = sub.add_parser("demo", help="train + index the built-in corpus, report, serve")
    p.add_argument("--no-serve", action="store_true", help="stop after the quality table")
    p.add_argument("--workdir", type=Path, default=Path("latentsearch-demo"))
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--epochs", type=_positive_int, help="override the demo's training epochs")
    _add_exposure(p)


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line, as every other user error is."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="latentsearch", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    adders = (_add_train, _add_index, _add_search, _add_duplicates, _add_outliers)
    for add in (*adders, _add_denoise, _add_app_and_demo, _add_sample, _add_bench):
        add(sub)
    return parser


def index_settings(args: argparse.Namespace) -> BuildSettings:
    """``latentsearch index``'s flags as the build's settings."""
    # imported here: `--help` and the flag checks stay free of the image libraries
    from latentsearch.indexer.files.folders import DEFAULT_WORKERS
    from latentsearch.indexer.pipeline.settings import BuildSettings

    return BuildSettings(
        batch_size=args.batch_size,
        workers=args.workers or DEFAULT_WORKERS,
        index_type=args.index_type,
        metric=args.metric,
        memory_budget=args.memory_budget,
        recall_target=args.recall_target,
    )


def _plan_update_ahead(args: argparse.Namespace) -> None:
    """Start ``index --update``'s plan in a second process before Keras is imported."""
    if args.command == "index" and args.update and args.engine == "local":
        from latentsearch.indexer.pipeline.plan_ahead import plan_ahead
        from latentsearch.indexer.pipeline.update_plan import PlanRequest

        plan_ahead(PlanRequest.of(args.data, args.model, args.out, index_settings(args)))


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` (default: the command line's words); its exit status."""
    return dispatch(build_parser().parse_args(argv))


def run() -> NoReturn:
    """The ``latentsearch`` command: ``main``, then the process ends."""
    args = build_parser().parse_args()
    code = dispatch(args)
    if args.command == "index" and args.engine == "local":
        # Python's own teardown with TensorFlow loaded takes over a second (1.3 s measured)
        # and frees only what the system frees anyway: the build is closed and published
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    sys.exit(code)


def dispatch(args: argparse.Namespace) -> int:
    """Run the parsed command ``args``; its exit status."""
    # Our own progress messages at INFO; other libraries' (faiss, absl) only when they warn.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if getattr(args, "trust_unverified", False):  # read where builds load, page included
        os.environ[TRUST_ENV] = "1"
    _plan_update_ahead(args)
    from latentsearch.indexer.cli.native_stderr import native_stderr_silenced

    # heavy imports only after argument checks; the backend's native start-up lines hidden
    # (--verbose shows them), its device probe made here so that it is hidden too
    with native_stderr_silenced(not args.verbose):
        from latentsearch.encoder.backend import visible_gpus
        from latentsearch.indexer.cli import commands

        visible_gpus()

    try:
        return getattr(commands, f"run_{args.command}")(args)
    except commands.USER_ERRORS as err:
        print(f"latentsearch {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    run()

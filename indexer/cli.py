"""The ``latentsearch`` command line: each subcommand is one library call."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

# TensorFlow's C++ start-up chatter drowns the CLI's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

log = logging.getLogger("latentsearch")


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
    p.add_argument("--decoder", choices=["transpose", "bilinear"], default="transpose")
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--channels", type=int, choices=[1, 3], help="default: 1 for builtin, else 3")
    p.add_argument("--filters", type=_int_list, default=(32, 64, 128), help="e.g. 32,64,128")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)


def _add_index(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="encode a folder into latent and raw-pixel indexes")
    p.add_argument("--data", required=True, help="image folder, or 'builtin'")
    p.add_argument("--model", required=True, type=Path, help="model directory from `train`")
    p.add_argument("--out", required=True, type=Path, help="index directory to write")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--workers", type=int, help="decode threads (default: up to 8)")


def _add_search(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="find the images most like IMAGE")
    p.add_argument("image", type=Path)
    p.add_argument("--index", required=True, type=Path)
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _add_app_and_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("app", help="serve the search page (Streamlit, headless)")
    p.add_argument("--index", required=True, type=Path)
    p.add_argument("--port", type=int, default=8501)
    p = sub.add_parser("demo", help="train + index the built-in corpus, report, serve")
    p.add_argument("--no-serve", action="store_true", help="stop after the quality table")
    p.add_argument("--workdir", type=Path, default=Path("latentsearch-demo"))
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--epochs", type=int, help="override the demo's training epochs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="latentsearch", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_train, _add_index, _add_search, _add_app_and_demo):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Our own progress messages at INFO; other libraries' (faiss, absl) only when they warn.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    from latentsearch.indexer import commands  # heavy imports only after argument checks

    try:
        return getattr(commands, f"run_{args.command}")(args)
    except commands.USER_ERRORS as err:
        print(f"latentsearch {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

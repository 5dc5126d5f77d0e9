"""``latentsearch demo``: train, index and evaluate on the embedded corpus, then serve."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

from latentsearch.encoder.config import ModelConfig, TrainConfig
from latentsearch.indexer.bench.leave_one_out import PrecisionReport, leave_one_out_precision
from latentsearch.indexer.files.corpus import BUILTIN
from latentsearch.indexer.pipeline.build import build_index
from latentsearch.indexer.pipeline.train import train_on_folder
from latentsearch.indexer.store.bundle import IndexBundle

log = logging.getLogger(__name__)
# the defaults a user gets from `latentsearch train --data builtin` (grey digits); training
# length, batch size and search code are chosen from the corpus (encoder.adaptive)
DEMO_MODEL = ModelConfig(channels=1)
DEMO_TRAINING = TrainConfig()


@dataclass(frozen=True)
class DemoReport:
    workdir: Path
    index_dir: Path
    images: int
    train_seconds: float
    index_seconds: float
    precision: PrecisionReport

    def table(self) -> str:
        p = self.precision
        rows = [
            f"Built-in corpus: {self.images} MNIST digits; "
            f"trained in {self.train_seconds:.0f} s, indexed in {self.index_seconds:.0f} s",
            f"Retrieval quality, {p.queries} indexed images as queries (themselves left out):",
            f"  {'search':<14}{'dims':>6}{f'precision@{p.k}':>16}",
            f"  {'latent codes':<14}{DEMO_MODEL.latent_dim:>6}{p.latent:>16.3f}",
            f"  {'raw pixels':<14}{DEMO_MODEL.raw_dim:>6}{p.raw:>16.3f}",
        ]
        return "\n".join(rows)


def run_demo(workdir: str | Path, epochs: int | None = None) -> DemoReport:
    """Build everything the demo page needs under ``workdir``; return the quality table."""
    workdir = Path(workdir)
    training = DEMO_TRAINING if epochs is None else replace(DEMO_TRAINING, epochs=epochs)
    started = time.perf_counter()
    train_on_folder(BUILTIN, workdir / "model", DEMO_MODEL, training)
    trained = time.perf_counter()
    manifest = build_index(BUILTIN, workdir / "model", workdir / "index")
    indexed = time.perf_counter()
    precision = leave_one_out_precision(IndexBundle.load(workdir / "index"), k=10)
    return DemoReport(
        workdir=workdir,
        index_dir=workdir / "index",
        images=manifest.count,
        train_seconds=trained - started,
        index_seconds=indexed - trained,
        precision=precision,
    )

"""Imagined queries: images a generative model makes, to search the collection with.

"Find real photos like this imagined one": a cvae draws images of a chosen label, a VAE
draws variations of the current query; either can then be searched like an upload.
"""

from __future__ import annotations

import numpy as np

from latentsearch.encoder.config import GENERATIVE, ModelConfig
from latentsearch.encoder.sampling import generate
from latentsearch.encoder.training import TrainedModel
from latentsearch.indexer.files.pictures import png_bytes
from latentsearch.indexer.serve.queries import PREVIEW_SIDE, QueryImage


def can_generate(config: ModelConfig) -> bool:
    """Whether the model has a prior to draw from (vae, cvae)."""
    return config.variant in GENERATIVE


def imagine(
    model: TrainedModel,
    count: int,
    seed: int = 0,
    label: str | None = None,
    like: np.ndarray | None = None,
) -> np.ndarray:
    """``count`` images (N, H, W, C) in [0, 1]: variations of ``like``, else prior samples
    (of ``label`` for a cvae)."""
    drawn = generate(model, count, seed, label, like)
    return np.clip(drawn, 0.0, 1.0).astype(np.float32)


def imagined_query(image: np.ndarray, name: str, label: str | None = None) -> QueryImage:
    """A generated image as a query; its label (a cvae's choice) lets the page show
    how many results carry it."""
    image = np.asarray(image, np.float32)
    return QueryImage(image=image, name=name, preview=png_bytes(image, PREVIEW_SIDE), label=label)

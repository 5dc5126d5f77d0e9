"""The search methods a benchmark compares: latent codes of each model, raw pixels, and PCA.

Every method turns raw-pixel rows into vectors; the database and the queries are read from
disk once and each method embeds those same arrays.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm import tqdm

from latentsearch.encoder.inference import encode_images
from latentsearch.encoder.training import TrainedModel
from latentsearch.indexer.bench.data import PixelSet
from latentsearch.indexer.bench.speed import Embed
from latentsearch.indexer.indexes.faiss_helpers import as_float32
from latentsearch.indexer.indexes.pca import fit_kind, fit_pca

log = logging.getLogger(__name__)
ENCODE_CHUNK = 2048  # images per progress-bar step when encoding the database


@dataclass
class Method:
    """One way of turning images into vectors, with the vectors of both sides of the split."""

    key: str
    kind: str  # "latent", "raw" or "pca"
    label: str
    embed: Embed
    database: np.ndarray
    queries: np.ndarray
    encode_seconds: float  # database files -> vectors: the read plus this method's own work
    details: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.database.shape[1])


def model_encoder(model: TrainedModel) -> Embed:
    """Pixels -> codes; a binary-code model gives its bits as 0/1 floats, whose squared L2
    distance is the Hamming distance, so exact L2 ranking is Hamming ranking."""
    shape, config = model.config.input_shape, model.config

    def embed(pixels: np.ndarray) -> np.ndarray:
        codes = encode_images(model.encoder, pixels.reshape(len(pixels), *shape))
        if config.binary_bits:
            return (codes > config.binary_threshold).astype(np.float32)
        return codes

    return embed


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = as_float32(vectors)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def with_metric(method: Method, metric: str) -> Method:
    """The method ranked by ``metric``: cosine is L2 on unit-length rows. Binary codes keep
    Hamming distance whatever the metric."""
    if metric == "l2" or method.details.get("binary_bits"):
        return method
    embed = method.embed
    method.embed = lambda pixels: _unit_rows(embed(pixels))
    method.database, method.queries = _unit_rows(method.database), _unit_rows(method.queries)
    method.label += f", {metric}"
    return method


def _embed_in_steps(embed: Embed, pixels: np.ndarray, description: str) -> np.ndarray:
    steps = range(0, len(pixels), ENCODE_CHUNK)
    progress = tqdm(steps, desc=description, leave=False)
    parts = [embed(pixels[i : i + ENCODE_CHUNK]) for i in progress]
    return np.concatenate(parts)


def latent_method(model: TrainedModel, name: str, database: PixelSet, queries: PixelSet) -> Method:
    """Search on the model's bottleneck codes (a VAE's mean)."""
    embed = model_encoder(model)
    started = time.perf_counter()
    codes = _embed_in_steps(embed, database.pixels, f"encoding ({name})")
    encode_s = time.perf_counter() - started
    dim = codes.shape[1]
    bits = model.config.binary_bits
    return Method(
        key=f"latent:{name}",
        kind="latent",
        label=f"binary codes, {name} ({bits} bits)" if bits else f"latent codes, {name} ({dim}-d)",
        embed=embed,
        database=codes,
        queries=embed(queries.pixels),
        encode_seconds=database.read_seconds + encode_s,
        details={
            "model": str(model.path),
            "model_config": asdict(model.config),
            "model_seconds": encode_s,
            "binary_bits": bits,
        },
    )


def raw_method(database: PixelSet, queries: PixelSet) -> Method:
    """Search on the resized image's pixels, as the index's raw column does."""
    dim = database.pixels.shape[1]
    return Method(
        key="raw",
        kind="raw",
        label=f"raw pixels ({dim}-d)",
        embed=as_float32,
        database=database.pixels,
        queries=queries.pixels,
        encode_seconds=database.read_seconds,
    )


def pca_method(dim: int, database: PixelSet, queries: PixelSet) -> Method:
    """Search on the top ``dim`` principal components of the pixels, fitted on the database."""
    started = time.perf_counter()
    pca = fit_pca(database.pixels, dim)
    fitted = time.perf_counter()
    projected = pca.apply(database.pixels)
    project_s = time.perf_counter() - fitted
    return Method(
        key=f"pca:{dim}",
        kind="pca",
        label=f"PCA of pixels ({dim}-d)",
        embed=pca.apply,
        database=projected,
        queries=pca.apply(queries.pixels),
        encode_seconds=database.read_seconds + project_s,
        details={
            "fit": fit_kind(database.pixels.shape[1]),
            "fit_seconds": fitted - started,
            "project_seconds": project_s,
            "explained_variance_share": pca.explained_share,
        },
    )

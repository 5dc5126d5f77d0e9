"""Text and pictures shown on the search page, kept apart from Streamlit calls to test easily."""

from __future__ import annotations

import re
import string
from pathlib import Path

import numpy as np
from PIL import Image

from latentsearch.encoder.config import ModelConfig, TrainConfig, from_dict
from latentsearch.indexer.indexes.codebook import code_bytes, index_bits
from latentsearch.indexer.indexes.pixel_grid import PixelGrid
from latentsearch.indexer.serve.explorer import precision
from latentsearch.indexer.serve.outliers import OUTLIER_PERCENTILE, WEAK_FIT, OutlierScore
from latentsearch.indexer.serve.queries import MAX_UPLOAD_MB, MAX_UPLOAD_PIXELS
from latentsearch.indexer.serve.search import Hit
from latentsearch.indexer.store.manifest import Manifest

ACCEPTED_TEXT = "JPEG, PNG, WebP, BMP or GIF"
DISPLAY_SIDE = 160  # pixels: the model's 32x32 input and its reconstruction, enlarged


_MARKDOWN_ESCAPES = {ord(c): "\\" + c for c in string.punctuation} | {ord(c): " " for c in "\r\n\t"}


# GFM turns www.x, http(s):// and a@b.c into links even when escaped; an invisible word
# joiner before them means they no longer start a word, which such links must
_AUTOLINK_START = re.compile(r"(www|https?|@)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def literal(text: object) -> str:
    """``text`` as Markdown that shows exactly those characters, on one line.

    Streamlit renders Markdown in captions, messages and labels, so a file named
    ``[prize](x.html)`` or ``![t](x.png)`` would become a live link or an image every
    visitor's browser fetches. Every ASCII punctuation character is backslash-escaped
    (CommonMark shows it as itself, and no Streamlit directive starts).
    """
    unlinked = _AUTOLINK_START.sub(WORD_JOINER + r"\1", str(text))
    return unlinked.translate(_MARKDOWN_ESCAPES)


def short_names(folders: list[str]) -> dict[str, str]:
    """Each folder by its last path parts, as few as tell them apart (not the full path)."""
    parts = [Path(folder).parts for folder in folders]
    for count in range(1, max(map(len, parts), default=0) + 1):
        names = ["/".join(part[-count:]) for part in parts]
        if len(set(names)) == len(names):
            return dict(zip(folders, names, strict=True))
    return {folder: folder for folder in folders}


def hit_caption(hit: Hit) -> str:
    label = f"{literal(hit.label)} · " if hit.label else ""
    return f"#{hit.rank} {label}{literal(Path(hit.path).name)} · d={hit.distance:.3f}"


def column_caption(hits: list[Hit], millis: float, label: str | None) -> str:
    """Result count and search time, and precision when the query's label is known."""
    text = f"{len(hits)} results in {millis:.1f} ms"
    share = precision(hits, label)
    if share is not None:
        same = sum(hit.label == label for hit in hits)
        text += f" · precision {share:.0%} ({same} of {len(hits)} are {literal(label)})"
    return text


def model_summary(config: dict) -> str:
    variant = config.get("variant", "undercomplete")
    size = f"{config['image_size']}×{config['image_size']}×{config['channels']}"
    return f"{variant} autoencoder, {size} input, {config['decoder']} decoder"


def code_summary(manifest: Manifest) -> str:
    """How big each image's code is; a vqvae's as its grid of codebook indices."""
    model = from_dict(ModelConfig, manifest.model_config)
    if model.variant != "vqvae":  # raw: the model's input, whatever grid the baseline keeps
        ratio = model.raw_dim / manifest.latent_dim
        return f"{manifest.latent_dim} floats vs {model.raw_dim} raw ({ratio:.0f}× smaller)"
    bits, size = index_bits(model.codebook_size), code_bytes(model)
    return (
        f"{model.grid}×{model.grid} codebook indices of {bits} bits ({size} bytes) vs "
        f"{model.raw_dim} raw bytes"
    )


def raw_column_title(grid: PixelGrid) -> str:
    """The baseline column's heading: it says when the pixels were shrunk to fit."""
    return f"Raw pixels, {grid.side}×{grid.side}" if grid.shrunk else "Raw pixels"


def collection_summary(manifest: Manifest) -> str:
    config = manifest.model_config
    lines = [
        f"- **{manifest.count:,}** images from {literal(Path(manifest.data_root).name)}",
        f"- model: {model_summary(config)}",
        f"- code: {code_summary(manifest)}",
        f"- index: {manifest.index_type}, metric {manifest.metric}",
        f"- raw-pixel baseline: {manifest.pixel_grid().describe()}",
        f"- built: {manifest.created_at or 'unknown'} in {manifest.build_seconds:.0f} s",
    ]
    if manifest.skipped:
        lines.append(f"- {len(manifest.skipped)} unreadable files skipped")
    return "\n".join(lines)


def training_summary(config: TrainConfig) -> str:
    """How the model was trained: settings chosen from the collection, with the reason."""
    lines = [f"- {name.replace('_', ' ')}: {reason}" for name, reason in config.reasons.items()]
    if not lines:  # a model trained with every setting given, or before choices were kept
        lines = [f"- {config.epochs} epochs of batch {config.batch_size}, as set"]
    return "\n".join(lines)


def outlier_text(score: OutlierScore) -> str:
    return (
        f"Reconstruction error {score.error:.4f} is higher than for {score.percentile:.0f}% "
        f"of the indexed images (their median: {score.collection_median:.4f})."
    )


def outlier_warning(score: OutlierScore) -> str | None:
    """A plain warning when the query is rebuilt worse than nearly all the collection."""
    if not score.is_outlier:
        return None
    return (
        "This photo looks unlike anything in the collection: the model rebuilds it worse "
        f"than {OUTLIER_PERCENTILE:.0f}% of the indexed images, so even the closest "
        "matches may not look much like it."
    )


def weak_model_caveat(ratio: float | None) -> str | None:
    """A plain caveat when the model rebuilds the collection hardly better than flat colour."""
    if ratio is None or ratio <= WEAK_FIT:
        return None
    return (
        f"This model's reconstructions of the collection's own photos are {ratio:.0%} as "
        "far off as flat patches of their average colour would be (trained models: "
        "5-20%), so its reconstruction and this score say little about any photo. Train "
        "it longer, or on more photos."
    )


def matches_label(shown: int, total: int) -> str:
    if total == 1:
        return "1 match"
    return f"{total:,} matches" if shown == total else f"first {shown} of {total:,} matches"


def upload_error(name: str, reason: str) -> str:
    return f"Could not read **{literal(name)}**: {literal(reason)}. Try a {ACCEPTED_TEXT} photo."


def too_large_error(name: str, reason: str) -> str:
    limits = f"at most {MAX_UPLOAD_MB} MB and {MAX_UPLOAD_PIXELS // 1_000_000} megapixels"
    return f"**{literal(name)}** is too large: {literal(reason)}. Try a smaller photo ({limits})."


def enlarge(image: np.ndarray, side: int = DISPLAY_SIDE) -> np.ndarray:
    """A model-sized image (H, W, C) in [0, 1] scaled up with visible pixels, as uint8 RGB."""
    pixels = np.clip(np.asarray(image) * 255.0, 0, 255).round().astype(np.uint8)
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    scaled = Image.fromarray(pixels, "RGB").resize((side, side), Image.Resampling.NEAREST)
    return np.asarray(scaled)

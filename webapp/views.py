"""Text shown on the search page, kept apart from Streamlit calls so it is easy to test."""

from __future__ import annotations

from pathlib import Path

from latentsearch.indexer.bundle import Manifest
from latentsearch.indexer.search import Hit


def hit_caption(hit: Hit) -> str:
    label = f"{hit.label} · " if hit.label else ""
    return f"#{hit.rank} {label}{Path(hit.path).name} · d={hit.distance:.3f}"


def collection_summary(manifest: Manifest) -> str:
    config = manifest.model_config
    ratio = manifest.raw_dim / manifest.latent_dim
    lines = [
        f"- **{manifest.count:,}** images from `{manifest.data_root}`",
        f"- model: {config['image_size']}×{config['image_size']}×{config['channels']}, "
        f"{config['decoder']} decoder",
        f"- code: {manifest.latent_dim} floats vs {manifest.raw_dim} raw ({ratio:.0f}× smaller)",
        f"- index: {manifest.index_type}, metric {manifest.metric}",
        f"- built: {manifest.created_at}",
    ]
    if manifest.skipped:
        lines.append(f"- {len(manifest.skipped)} unreadable files skipped")
    return "\n".join(lines)

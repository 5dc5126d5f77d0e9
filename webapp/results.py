"""Latent-code and raw-pixel results side by side, each with a "more like this" button."""

from __future__ import annotations

import streamlit as st

from latentsearch.indexer.explore import Explorer
from latentsearch.indexer.query import QueryImage
from latentsearch.indexer.search import Hit, SearchResult
from latentsearch.webapp.query_input import use_row
from latentsearch.webapp.views import column_caption, hit_caption

PER_ROW = 3
LATENT_HELP = (
    "Nearest neighbours by the autoencoder's code: a few dozen numbers that summarise the "
    "picture's shapes and colours."
)
RAW_HELP = (
    "Nearest neighbours by the raw pixel values, the baseline: only photos that match "
    "pixel for pixel come close."
)


def _hit_cell(explorer: Explorer, hit: Hit, column_key: str) -> None:
    st.image(explorer.bundle.metadata.thumbnail(hit.id), caption=hit_caption(hit), width="stretch")
    st.button(
        "More like this",
        key=f"more-{column_key}-{hit.id}",
        on_click=use_row,
        args=(hit.id,),
        width="stretch",
    )


def _column(explorer: Explorer, title: str, help_text: str, hits: list[Hit], millis: float,
            label: str | None) -> None:  # fmt: skip
    st.subheader(title, help=help_text)
    st.caption(column_caption(hits, millis, label))
    key = title.split()[0].lower()
    for start in range(0, len(hits), PER_ROW):
        for cell, hit in zip(st.columns(PER_ROW), hits[start : start + PER_ROW], strict=False):
            with cell:
                _hit_cell(explorer, hit, key)


def show_results(explorer: Explorer, query: QueryImage, result: SearchResult) -> None:
    label = query.label if explorer.has_labels else None
    latent_col, raw_col = st.columns(2, gap="large", border=True)
    with latent_col:
        _column(explorer, "Latent codes", LATENT_HELP, result.latent, result.latent_ms, label)
    with raw_col:
        _column(explorer, "Raw pixels", RAW_HELP, result.raw, result.raw_ms, label)

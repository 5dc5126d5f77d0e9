"""Latent-code and raw-pixel results side by side, each with a "more like this" button."""

from __future__ import annotations

import streamlit as st

from latentsearch.indexer.serve.explorer import Explorer
from latentsearch.indexer.serve.queries import QueryImage
from latentsearch.indexer.serve.search import Hit, SearchResult
from latentsearch.webapp.query_input import SCROLL_TO_QUERY, use_row
from latentsearch.webapp.views import column_caption, hit_caption, raw_column_title

PER_ROW = 3
LATENT_HELP = (
    "Nearest neighbours by the autoencoder's code: a few dozen numbers that summarise the "
    "picture's shapes and colours."
)
RAW_HELP = (
    "Nearest neighbours by the raw pixel values, the baseline: only photos that match "
    "pixel for pixel come close. On a large collection the pixels are shrunk (2x2 blocks "
    "averaged) until the baseline fits the index's memory budget."
)


def more_like_this(row: int) -> None:
    """Callback: search with a result, and bring the new query into view (the button may
    be far down the page)."""
    use_row(row)
    st.session_state[SCROLL_TO_QUERY] = True


def _hit_cell(explorer: Explorer, hit: Hit, column_key: str) -> None:
    st.image(explorer.bundle.metadata.thumbnail(hit.id), caption=hit_caption(hit), width="stretch")
    st.button(
        "More like this",
        key=f"more-{column_key}-{hit.id}",
        on_click=more_like_this,
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


# Streamlit stacks columns on screens under 640 px, which on a phone puts every latent
# hit above every raw one and loses the comparison. These two columns stay side by side
# (each then lists its hits one under another, so hit n sits beside hit n).
SIDE_BY_SIDE_CSS = """<style>
@media (max-width: 640px) {
  .st-key-results [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"]
      [data-testid="stHorizontalBlock"]) {
    flex-direction: row !important; flex-wrap: nowrap !important; gap: 0.5rem !important;
  }
  .st-key-results [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"]
      [data-testid="stHorizontalBlock"]) > [data-testid="stColumn"] {
    min-width: 0 !important; width: 50% !important; flex: 1 1 0 !important;
  }
}
</style>"""


def show_results(explorer: Explorer, query: QueryImage, result: SearchResult) -> None:
    label = query.label if explorer.has_labels else None
    st.html(SIDE_BY_SIDE_CSS)
    with st.container(key="results"):
        latent_col, raw_col = st.columns(2, gap="large", border=True)
        with latent_col:
            _column(explorer, "Latent codes", LATENT_HELP, result.latent, result.latent_ms, label)
        with raw_col:  # the page always asks for both searches
            if result.raw is not None and result.raw_ms is not None:
                title = raw_column_title(explorer.bundle.pixel_grid)
                _column(explorer, title, RAW_HELP, result.raw, result.raw_ms, label)

"""The "generate" panel: imagine images with the index's model, then search with one.

Shown only when the model can generate: a cvae draws images of a chosen label, a VAE
draws variations of the current query. The images are kept in
``st.session_state[GENERATED]``; "Search with this" makes one the query.
"""

from __future__ import annotations

import streamlit as st

from latentsearch.indexer.serve.explorer import Explorer
from latentsearch.indexer.serve.imagine import can_generate, imagine
from latentsearch.indexer.serve.queries import QueryImage
from latentsearch.webapp.query_input import GENERATED, use_generated
from latentsearch.webapp.views import enlarge, literal

COUNT = 6
PER_ROW = 6
SEED = "generate_seed"
HELP = (
    "The model can draw new pictures from what it learned. Pick one to find the real "
    "photos in the collection that look most like it."
)


def _generate(explorer: Explorer, label: str | None, query: QueryImage | None) -> None:
    """Callback: draw ``COUNT`` new images (a fresh seed on each click)."""
    seed = st.session_state.get(SEED, 0) + 1
    st.session_state[SEED] = seed
    like = None if query is None else query.image
    images = imagine(explorer.bundle.model, COUNT, seed, label=label, like=like)
    source = f"imagined {label}" if label else f"variation of {query.name}" if query else "imagined"
    st.session_state[GENERATED] = {"images": list(images), "label": label, "source": source}


def _controls(explorer: Explorer, query: QueryImage | None) -> None:
    labels = explorer.bundle.model.config.labels
    if labels:
        label = st.selectbox("Label", labels, key="generate_label")
        st.button("Generate", key="generate", on_click=_generate, args=(explorer, label, None))
        return
    st.button(
        "Variations of the query",
        key="generate",
        disabled=query is None,
        help=None if query else "Choose a query first",
        on_click=_generate,
        args=(explorer, None, query),
    )


def _gallery() -> None:
    shown = st.session_state.get(GENERATED)
    if not shown:
        return
    images = shown["images"]
    for start in range(0, len(images), PER_ROW):
        for n, cell in enumerate(st.columns(PER_ROW), start=start):
            if n >= len(images):
                break
            with cell:
                name = f"{shown['source']} #{n + 1}"
                st.image(enlarge(images[n]), caption=literal(name), width="stretch")
                st.button(
                    "Search with this",
                    key=f"search-generated-{n}",
                    on_click=use_generated,
                    args=(images[n], name, shown["label"]),
                    width="stretch",
                )


def generate_panel(explorer: Explorer, query: QueryImage | None) -> None:
    """The panel, when the index's model can generate; nothing otherwise."""
    if not can_generate(explorer.bundle.model.config):
        return
    with st.container(border=True):
        st.subheader("Generate", help=HELP)
        _controls(explorer, query)
        _gallery()

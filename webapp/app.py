"""The search page: query by upload or from the collection, see latent-code and raw-pixel
results side by side, what the model made of the query, and a map of the collection.

Run with ``latentsearch app --index DIR [--index DIR2 ...]`` (or ``streamlit run app.py --
--index DIR``); the index directories may also come from the ``LATENTSEARCH_INDEX``
environment variable, comma-separated.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import logging
import os
import sys
from pathlib import Path

import streamlit as st

from latentsearch.encoder.errors import USER_ERRORS
from latentsearch.indexer.serve.collection_map import NoMapError
from latentsearch.indexer.serve.explorer import Explorer
from latentsearch.indexer.serve.launch import TOKEN_ENV
from latentsearch.indexer.store.manifest import current_index_build
from latentsearch.webapp.collection_views import show_duplicates, show_outliers
from latentsearch.webapp.generate import generate_panel
from latentsearch.webapp.insight import show_map, show_model_view
from latentsearch.webapp.query_input import current_query, forget_collection_query, query_controls
from latentsearch.webapp.results import show_results
from latentsearch.webapp.views import (
    collection_summary,
    literal,
    short_names,
    training_summary,
)

INDEX_ENV = "LATENTSEARCH_INDEX"
SEARCH, DUPLICATES, OUTLIERS = VIEWS = ("Search", "Duplicates", "Outliers")
AUTHORISED = "authorised"
INTRO = (
    "Find the pictures in a collection that look most like yours. An autoencoder boils "
    "every image down to a short code; images with close codes come back first, next to a "
    "plain pixel-by-pixel search so you can see what the model adds."
)
log = logging.getLogger(__name__)


def index_dirs_setting() -> list[str]:
    """Every ``--index`` after ``--`` on the streamlit command line, else the environment."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--index", action="append")
    known, _ = parser.parse_known_args(sys.argv[1:])
    if known.index:
        return known.index
    return [part.strip() for part in os.environ.get(INDEX_ENV, "").split(",") if part.strip()]


@st.cache_resource(max_entries=4, show_spinner="Loading the index and model…")
def load_explorer(build_folder: str) -> Explorer:
    # Keyed by the build folder, so a rebuild that swaps in a new build is picked up
    # on the next query while the old one keeps answering until then.
    explorer = Explorer.open_build(Path(build_folder))
    with contextlib.suppress(NoMapError):  # computed here, under the spinner, not on a query
        explorer.collection_map()
    return explorer


def choose_index(index_dirs: list[str]) -> str:
    if len(index_dirs) == 1:
        return index_dirs[0]
    return st.sidebar.selectbox(
        "Index",
        index_dirs,
        format_func=short_names(index_dirs).__getitem__,  # not the server's paths
        key="index_choice",
        on_change=forget_collection_query,
    )


def sidebar(explorer: Explorer) -> tuple[str, int]:
    with st.sidebar:
        view = st.radio("View", VIEWS, horizontal=True, key="view")
        st.header("Collection")
        st.markdown(collection_summary(explorer.bundle.manifest))
        with st.expander("Training: what was chosen, and why"):
            st.markdown(training_summary(explorer.training))
        label = "Results per column" if view == SEARCH else "Images shown"
        return view, st.slider(label, min_value=1, max_value=50, value=12)


def page(index_dir: str) -> None:
    explorer = load_explorer(str(current_index_build(index_dir)))
    shown, k = sidebar(explorer)
    if shown == DUPLICATES:
        show_duplicates(explorer)
        return
    if shown == OUTLIERS:
        show_outliers(explorer, k)
        return
    query_controls(explorer)
    query = current_query(explorer)
    generate_panel(explorer, query)
    if query is None:
        st.info("Upload a photo, or pick one from the collection, to start searching.")
        show_map(explorer, None)
        return
    view = explorer.look(query)
    show_model_view(explorer, query, view)
    show_results(explorer, query, explorer.search(query, k))
    show_map(explorer, view)


def authorised() -> bool:
    """True with no access token set, or once this session has opened the page with it."""
    expected = os.environ.get(TOKEN_ENV)
    if not expected or st.session_state.get(AUTHORISED):
        return True
    given = st.query_params.get("token", "")
    if hmac.compare_digest(given.encode(), expected.encode()):
        st.session_state[AUTHORISED] = True
        return True
    return False


def main() -> None:
    st.set_page_config(page_title="latentsearch", layout="wide")
    st.title("latentsearch")
    if not authorised():
        st.error("This page needs its access token: open it with `?token=...` at the end.")
        return
    st.caption(INTRO)
    index_dirs = index_dirs_setting()
    if not index_dirs:
        st.error("No index configured: start the page with `latentsearch app --index DIR`.")
        return
    index_dir = choose_index(index_dirs)
    try:
        page(index_dir)
    except USER_ERRORS as err:
        st.error(f"Cannot search this index: {literal(err)}")
    except Exception as err:  # the page must never show a traceback
        log.exception("unexpected error on the search page")
        st.error(f"Something went wrong ({type(err).__name__}); the details are in the log.")


main()

"""The search page: upload a photo, see latent-code and raw-pixel results side by side.

Run with ``latentsearch app --index DIR`` (or ``streamlit run app.py -- --index DIR``); the
index directory may also come from the ``LATENTSEARCH_INDEX`` environment variable.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import streamlit as st

from latentsearch.indexer.bundle import current_index_build
from latentsearch.indexer.errors import USER_ERRORS
from latentsearch.indexer.images import ImageReadError, make_thumbnail
from latentsearch.indexer.search import Hit, Searcher, SearchResult
from latentsearch.webapp.views import collection_summary, hit_caption

UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif"]
INDEX_ENV = "LATENTSEARCH_INDEX"
log = logging.getLogger(__name__)


def index_dir_setting() -> str | None:
    """``--index`` after ``--`` on the streamlit command line, else the environment."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--index")
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known.index or os.environ.get(INDEX_ENV)


@st.cache_resource(max_entries=2, show_spinner="Loading the index and model…")
def load_searcher(build_folder: str) -> Searcher:
    # Keyed by the build folder, so a rebuild that swaps in a new build is picked up
    # on the next query while the old one keeps answering until then.
    return Searcher.open_build(Path(build_folder))


def show_results(column, title: str, hits: list[Hit], millis: float, searcher: Searcher) -> None:
    with column:
        st.subheader(title)
        st.caption(f"{len(hits)} results in {millis:.1f} ms")
        thumbs = [searcher.bundle.metadata.thumbnail(hit.id) for hit in hits]
        st.image(thumbs, caption=[hit_caption(hit) for hit in hits], width=120)


def show_query(upload_name: str, data: bytes, searcher: Searcher, k: int) -> SearchResult | None:
    try:
        result = searcher.search(data, k)
        preview = make_thumbnail(data, max_side=256)
    except ImageReadError as err:
        st.error(f"Could not read **{upload_name}**: {err.reason}. Try a JPEG, PNG, WebP, "
                 "BMP or GIF photo.")  # fmt: skip
        return None
    st.image(preview, caption=f"Your query: {upload_name}")
    return result


def page(index_dir: str) -> None:
    searcher = load_searcher(str(current_index_build(index_dir)))
    with st.sidebar:
        st.header("Collection")
        st.markdown(collection_summary(searcher.bundle.manifest))
        k = st.slider("Results per column", min_value=1, max_value=50, value=10)
    upload = st.file_uploader("Upload a photo to find similar ones", type=UPLOAD_TYPES)
    if upload is None:
        st.info("Upload a photo (JPEG, PNG, WebP, BMP or GIF) to search the collection.")
        return
    result = show_query(upload.name, upload.getvalue(), searcher, k)
    if result is None:
        return
    latent_col, raw_col = st.columns(2)
    show_results(latent_col, "Latent codes", result.latent, result.latent_ms, searcher)
    show_results(raw_col, "Raw pixels", result.raw, result.raw_ms, searcher)


def main() -> None:
    st.set_page_config(page_title="latentsearch", layout="wide")
    st.title("latentsearch")
    st.caption("Similar images by autoencoder codes, with a raw-pixel search beside them.")
    index_dir = index_dir_setting()
    if not index_dir:
        st.error("No index configured: start the page with `latentsearch app --index DIR`.")
        return
    try:
        page(index_dir)
    except USER_ERRORS as err:
        st.error(f"Cannot search: {err}")
    except Exception as err:  # the page must never show a traceback
        log.exception("unexpected error on the search page")
        st.error(f"Something went wrong ({type(err).__name__}); the details are in the log.")


main()

"""Choosing the query: upload a photo, pick a random or named image, or "more like this".

The latest action wins. It is kept in ``st.session_state[QUERY]`` as ``{"kind": "upload"}``
(the file uploader holds the bytes), ``{"kind": "row", "row": n}`` (a collection image) or
``{"kind": "generated", ...}`` (an image the "generate" panel made, kept with its name).
"""

from __future__ import annotations

import streamlit as st

from latentsearch.indexer.files.images import ImageReadError
from latentsearch.indexer.serve.explorer import Explorer
from latentsearch.indexer.serve.imagine import imagined_query
from latentsearch.indexer.serve.queries import (
    MAX_UPLOAD_MB,
    BusyError,
    QueryError,
    QueryImage,
    UploadTooLargeError,
)
from latentsearch.webapp.views import (
    ACCEPTED_TEXT,
    literal,
    matches_label,
    too_large_error,
    upload_error,
)

UPLOADER_MAX_MB = 4 * MAX_UPLOAD_MB  # larger files are refused by the uploader itself
QUERY = "query"
GENERATED = "generated"  # the generate panel's latest images
SEEN_UPLOAD = "seen_upload"
SCROLL_TO_QUERY = "scroll_to_query"  # set by "More like this", used once by the query view
MATCHES_SHOWN = 50


def use_row(row: int) -> None:
    """Callback: make collection image ``row`` the query (random pick, name, more like this)."""
    st.session_state[QUERY] = {"kind": "row", "row": int(row)}


def use_generated(image, name: str, label: str | None) -> None:
    """Callback: make a generated image the query (kept here: the panel may draw new ones)."""
    st.session_state[QUERY] = {"kind": "generated", "image": image, "name": name, "label": label}


def use_random(explorer: Explorer) -> None:
    use_row(explorer.random_row())


def forget_collection_query() -> None:
    """Callback on switching index: row numbers mean nothing in another index, nor generated
    images to another model (whose input size may differ); uploads stay."""
    st.session_state[GENERATED] = None
    if (st.session_state.get(QUERY) or {}).get("kind") in ("row", "generated"):
        st.session_state[QUERY] = None


def _track_upload(upload) -> None:
    # A new file (not a rerun with the same one) becomes the query; removing it clears it.
    if upload is None:
        st.session_state[SEEN_UPLOAD] = None
        if (st.session_state.get(QUERY) or {}).get("kind") == "upload":
            st.session_state[QUERY] = None
    elif upload.file_id != st.session_state.get(SEEN_UPLOAD):
        st.session_state[SEEN_UPLOAD] = upload.file_id
        st.session_state[QUERY] = {"kind": "upload"}


def _upload_tab() -> None:
    # No file-type filter, and room past the upload limit: the uploader's own refusals
    # show only as a red mark whose reason needs a hover (none on a phone); these files
    # reach check_upload instead, whose reason is shown in the page.
    upload = st.file_uploader(
        f"Drop a photo here ({ACCEPTED_TEXT}, up to {MAX_UPLOAD_MB} MB)",
        key="upload",
        max_upload_size=UPLOADER_MAX_MB,
    )
    _track_upload(upload)


def _pick_tab(explorer: Explorer) -> None:
    st.button(
        "Random image",
        key="random",
        icon=":material/shuffle:",
        on_click=use_random,
        args=(explorer,),
    )
    text = st.text_input(
        "…or find one by name", key="find", placeholder="part of a file name, e.g. cat/0042"
    )
    if not text:
        return
    rows, total = explorer.find(text, MATCHES_SHOWN)
    if not rows:
        st.caption(f"No image name contains “{literal(text)}”.")
        return
    shown = matches_label(len(rows), total)
    row = st.selectbox(shown, rows, format_func=explorer.names.__getitem__, key="match")
    st.button("Search with this image", key="use-match", on_click=use_row, args=(row,))


def query_controls(explorer: Explorer) -> None:
    upload_tab, pick_tab = st.tabs(["Upload a photo", "Pick from the collection"])
    with upload_tab:
        _upload_tab()
    with pick_tab:
        _pick_tab(explorer)


def current_query(explorer: Explorer) -> QueryImage | None:
    """The query chosen last, read; a bad one gets its message here and gives None."""
    state = st.session_state.get(QUERY)
    if not state:
        return None
    if state["kind"] == "generated":
        return imagined_query(state["image"], state["name"], state["label"])
    if state["kind"] == "row":
        try:
            return explorer.pick(state["row"])
        except QueryError as err:
            st.error(f"Cannot use that image: {literal(err)}.")
            return None
    upload = st.session_state.get("upload")
    if upload is None:
        return None
    try:
        return explorer.upload(upload.name, upload.getvalue())
    except UploadTooLargeError as err:
        st.error(too_large_error(upload.name, str(err)))
    except ImageReadError as err:
        st.error(upload_error(upload.name, err.reason))
    except BusyError as err:
        st.warning(f"The server is busy: {literal(err)}.")
    return None

"""What the model saw of the query, and where the query lands on the map of the collection."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

from latentsearch.indexer.serve.collection_map import NoMapError
from latentsearch.indexer.serve.denoise import png_bytes
from latentsearch.indexer.serve.explorer import Explorer, ModelView
from latentsearch.indexer.serve.queries import QueryError, QueryImage
from latentsearch.webapp.charts import map_chart, map_frame
from latentsearch.webapp.query_input import SCROLL_TO_QUERY
from latentsearch.webapp.views import (
    enlarge,
    literal,
    outlier_text,
    outlier_warning,
    weak_model_caveat,
)

OUTLIER_HELP = (
    "How badly the autoencoder rebuilds this photo, ranked among the errors of every "
    "indexed image. Near 100 means the model has seen nothing like it."
)


def _outlier_panel(view: ModelView, fit_ratio: float | None) -> None:
    caveat = weak_model_caveat(fit_ratio)
    if caveat:
        st.warning(caveat, icon="⚠️")
    if view.error is None:
        st.info("This model has no decoder, so there is no reconstruction or outlier score.")
        return
    if view.outlier is None:
        st.metric("Reconstruction error", f"{view.error:.4f}")
        st.caption(
            "This index was built before outlier scores were stored; rebuild it with "
            "`latentsearch index` to rank this error against the collection."
        )
        return
    st.metric("Outlier score", f"{view.outlier.percentile:.0f} / 100", help=OUTLIER_HELP)
    st.caption(outlier_text(view.outlier))
    warning = outlier_warning(view.outlier)
    if warning:
        st.warning(warning, icon="⚠️")


# Runs in the component's frame, which shares the page's origin; retried while the page
# is still being drawn.
SCROLL_SCRIPT = """<script>
let tries = 0;
const scroll = () => {
  const view = window.parent.document.querySelector(".st-key-query-view");
  if (view) { view.scrollIntoView({block: "start"}); } else if (tries++ < 50) {
    setTimeout(scroll, 100);
  }
};
scroll();
</script>"""


def show_model_view(explorer: Explorer, query: QueryImage, view: ModelView) -> None:
    """The query, the model's input (enlarged), its reconstruction and the outlier score;
    for a collection image, its original file to open."""
    cleans = explorer.bundle.model.config.variant == "denoising"
    with st.container(key="query-view"):
        _model_view_row(query, view, explorer.fit_ratio, cleans)
        if query.row is not None:
            _original_button(explorer, query.row)
    if st.session_state.pop(SCROLL_TO_QUERY, False):
        components.html(SCROLL_SCRIPT, height=0)


def _original_button(explorer: Explorer, row: int) -> None:
    try:
        path = explorer.original(row)
    except QueryError as err:
        st.caption(f"The original file cannot be opened: {literal(err)}.")
        return
    # read only when clicked: an original may be a large camera photo
    st.download_button(
        "Open the original",
        path.read_bytes,
        file_name=path.name,
        key=f"original-{row}",
        icon=":material/download:",
        on_click="ignore",
    )


def _model_view_row(
    query: QueryImage, view: ModelView, fit_ratio: float | None, cleans: bool
) -> None:
    size = view.model_input.shape[0]
    label = f" · label {literal(query.label)}" if query.label else ""
    cells = st.columns([2, 2, 2, 3], vertical_alignment="top")
    with cells[0]:
        st.image(query.preview, caption=f"Query: {literal(query.name)}{label}", width="stretch")
    with cells[1]:
        st.image(enlarge(view.model_input), caption=f"What the model sees ({size}×{size})")
    with cells[2]:
        if view.reconstruction is not None and cleans:  # a denoising model: the cleaned photo
            st.image(enlarge(view.reconstruction), caption="Cleaned by the denoising model")
            st.download_button(
                "Download the cleaned photo",
                png_bytes(view.reconstruction),
                file_name=f"{Path(query.name).stem}-cleaned.png",
                key="cleaned",
                icon=":material/download:",
                on_click="ignore",
            )
        elif view.reconstruction is not None:
            st.image(enlarge(view.reconstruction), caption="Its reconstruction from the code")
    with cells[3]:
        _outlier_panel(view, fit_ratio)


def show_map(explorer: Explorer, view: ModelView | None) -> None:
    st.subheader("Map of the collection", help="Similar codes lie close together.")
    try:
        cmap = explorer.collection_map()
    except NoMapError as err:
        st.info(f"No map for this index: {literal(err)}.")
        return
    labels = [explorer.bundle.metadata.labels[row] for row in cmap.rows]
    names = [explorer.names[row] for row in cmap.rows]
    query = None if view is None else explorer.map_position(view.code)
    st.altair_chart(map_chart(map_frame(cmap.points, labels, names), query), width="stretch")
    first, second = cmap.explained
    marked = " The black cross is your query." if query else ""
    st.caption(
        f"{len(cmap.rows):,} of {len(explorer):,} images, placed by the two main directions "
        f"of their codes (PCA: {first:.0%} and {second:.0%} of the variance).{marked}"
    )

"""The collection map as an Altair chart: sampled codes coloured by label, the query marked."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

UNLABELLED = "(no label)"


def map_frame(points: np.ndarray, labels: list[str | None], names: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": points[:, 0],
            "y": points[:, 1],
            "label": [label or UNLABELLED for label in labels],
            "name": names,
        }
    )


def map_chart(frame: pd.DataFrame, query: tuple[float, float] | None = None) -> alt.LayerChart:
    """Scatter of ``frame`` (x, y, label, name); ``query`` drawn as a large black cross."""
    axis = {"title": None, "labels": False, "ticks": False}
    points = (
        alt.Chart(frame)
        .mark_circle(size=18, opacity=0.6)
        .encode(
            x=alt.X("x:Q", axis=alt.Axis(**axis)),
            y=alt.Y("y:Q", axis=alt.Axis(**axis)),
            color=alt.Color("label:N", legend=alt.Legend(title="label")),
            tooltip=["name:N", "label:N"],
        )
    )
    layers = [points]
    if query is not None:
        marker = pd.DataFrame({"x": [query[0]], "y": [query[1]], "name": ["your query"]})
        layers.append(
            alt.Chart(marker)
            .mark_point(shape="cross", size=400, filled=True, color="black")
            .encode(x="x:Q", y="y:Q", tooltip=["name:N"])
        )
    return alt.layer(*layers).properties(height=420)

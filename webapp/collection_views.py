"""The collection as a whole: its near-duplicate groups, and what does not belong in it."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from latentsearch.indexer.serve.collection_map import NoMapError
from latentsearch.indexer.serve.explorer import Explorer
from latentsearch.webapp.views import enlarge, literal

GROUPS_SHOWN = 30
PER_ROW = 8


def _name(path: str) -> str:
    return f"{Path(path).parent.name}/{Path(path).name}"


def show_duplicates(explorer: Explorer) -> None:
    with st.spinner("Looking for near-duplicates…"):
        report = explorer.duplicates
    how = "given"
    if report.calibration is not None:
        c = report.calibration
        how = f"it reaches {c.share:.0%} of {c.copies} copies made of {c.originals} photos"
    held = sum(len(g.rows) for g in report.groups)
    st.subheader("Near-duplicates")
    st.caption(
        f"{len(report.groups)} groups hold {held} of {report.images} images; every two images "
        f"of a group are within {report.threshold:.3g} ({report.metric} distance: {how})."
    )
    if not report.groups:
        st.info("No near-duplicates in this collection.")
        return
    order = st.radio("Sort groups by", ["size", "closeness"], horizontal=True, key="dup_order")
    groups = report.groups  # largest first
    if order == "closeness":
        groups = sorted(groups, key=lambda g: g.distance)
    meta = explorer.bundle.metadata
    for n, group in enumerate(groups[:GROUPS_SHOWN], start=1):
        st.markdown(f"**Group {n}**: {len(group.rows)} images, distance up to {group.distance:.3g}")
        columns = st.columns(PER_ROW)
        for column, row, path in zip(columns, group.rows, group.paths, strict=False):
            column.image(meta.thumbnail(row), caption=literal(_name(path)))
    if len(groups) > GROUPS_SHOWN:
        st.caption(f"{len(groups) - GROUPS_SHOWN} more groups: `latentsearch duplicates --out`.")


def show_outliers(explorer: Explorer, count: int) -> None:
    st.subheader("The most unusual images")
    if explorer.bundle.model.decoder is None:
        st.info("This index's model has no decoder, so it rebuilds nothing to compare.")
        return
    try:
        with st.spinner("Rebuilding every image…"):
            outliers = explorer.most_unusual(count)
    except NoMapError as err:
        st.info(f"No list of unusual images for this index: {literal(err)}.")
        return
    meta = explorer.bundle.metadata
    for outlier in outliers:
        left, middle, right = st.columns([1, 1, 4])
        left.image(meta.thumbnail(outlier.row), caption="the image")
        rebuilt = explorer.look(explorer.pick(outlier.row)).reconstruction
        if rebuilt is not None:
            middle.image(enlarge(rebuilt, 96), caption="its reconstruction")
        right.markdown(
            f"{literal(_name(outlier.path))}  \n{outlier.reason}: more unusual than "
            f"{outlier.percentile:.1f}% of the collection (reconstruction error "
            f"{outlier.error:.4g})"
        )
    doubts = explorer.doubted_labels
    st.subheader("Labels the nearest neighbours disagree with")
    if not doubts:
        st.info("No file's label disagrees with most of its nearest neighbours'.")
        return
    st.dataframe(
        [
            {"file": _name(d.path), "label": d.label, "neighbours say": d.neighbours_say,
             "share": round(d.share, 2)}
            for d in doubts[:count]
        ],
        hide_index=True,
    )  # fmt: skip

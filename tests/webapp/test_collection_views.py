"""The page's collection views: near-duplicate groups, and what does not belong."""

from __future__ import annotations

from page_text import shown

N_IMAGES = 37  # tests/conftest.py: 3 labels x 12 images + 1 at the root


def switch_to(page, view: str):
    page.sidebar.radio(key="view").set_value(view).run()
    assert not page.exception and not page.error, page.exception
    return page


def test_the_duplicates_view_shows_groups_as_rows_of_thumbnails(open_page, built_index_dir):
    page = switch_to(open_page(built_index_dir), "Duplicates")
    assert "Near-duplicates" in [h.value for h in page.subheader]
    captions = [c.value for c in page.caption]
    assert any("groups hold" in c and f"of {N_IMAGES} images" in c for c in captions), captions
    groups = [m.value for m in page.markdown if m.value.startswith("**Group ")]
    assert groups, "no group shown"
    sizes = [int(shown(g).split(": ")[1].split(" images")[0]) for g in groups]
    assert sizes == sorted(sizes, reverse=True) and min(sizes) >= 2
    assert not result_area(page)


def test_duplicate_groups_can_be_sorted_by_closeness(open_page, built_index_dir):
    page = switch_to(open_page(built_index_dir), "Duplicates")
    page.radio(key="dup_order").set_value("closeness").run()
    groups = [m.value for m in page.markdown if m.value.startswith("**Group ")]
    distances = [float(g.rsplit("up to ", 1)[1]) for g in groups]
    assert distances == sorted(distances)


def test_the_outliers_view_lists_the_most_unusual_with_their_reconstruction(
    open_page, built_index_dir
):
    page = switch_to(open_page(built_index_dir), "Outliers")
    page.sidebar.slider[0].set_value(3).run()
    assert "The most unusual images" in [h.value for h in page.subheader]
    scores = [m.value for m in page.markdown if "more unusual than" in m.value]
    assert len(scores) == 3
    percents = [float(s.rsplit("more unusual than ", 1)[1].split("%")[0]) for s in scores]
    assert percents == sorted(percents, reverse=True)
    assert "Labels the nearest neighbours disagree with" in [h.value for h in page.subheader]


def test_the_outliers_view_says_why_a_shrunken_baseline_lists_none(open_page, shrunk_index_dir):
    page = switch_to(open_page(shrunk_index_dir), "Outliers")
    message = next(shown(i.value) for i in page.info if "No list of unusual images" in i.value)
    assert "8x8 (shrunk from 16x16)" in message and "--memory-budget" in message
    assert not [m.value for m in page.markdown if "more unusual than" in m.value]


def result_area(page) -> bool:
    """Whether the search view's result columns are on the page."""
    return any("latent codes" in m.value for m in page.markdown)

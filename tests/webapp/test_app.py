"""The search page through Streamlit's AppTest: every way to query, and every error message."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from page_text import shown
from PIL import Image

from latentsearch.indexer.store.manifest import TRUST_ENV

DEFAULT_K = 12
N_IMAGES = 37  # tests/conftest.py: 3 labels x 12 images + 1 at the root


def upload(page, name: str, data: bytes, mime: str = "image/png"):
    page.file_uploader[0].set_value((name, data, mime))
    return page.run()


def result_columns(page) -> dict:
    """The two result columns by title, each with its captions and "more like this" buttons."""
    columns = {}
    for column in page.columns:
        titles = [h.value for h in column.subheader]
        if len(titles) == 1 and titles[0].startswith(("Latent codes", "Raw pixels")):
            columns[titles[0]] = column
    return columns


def hit_captions(column) -> list[str]:
    return [shown(img.proto.imgs[0].caption) for img in column.get("image")]


def hit_name(caption: str) -> str:
    """Caption "#3 red · 05.png · d=0.1" -> "red/05.png"; "#1 x.png · d=0" -> "x.png"."""
    parts = caption.split(" · ")[:-1]
    parts[0] = parts[0].split(" ", 1)[1]
    return "/".join(parts)


def more_buttons(column) -> list:
    return [b for b in column.button if b.label == "More like this"]


def query_caption(page) -> str:
    return next(
        shown(img.proto.imgs[0].caption)
        for img in page.get("image")
        if img.proto.imgs[0].caption.startswith("Query: ")
    )


def test_page_invites_a_query_and_describes_the_collection(open_page, built_index_dir):
    page = open_page(built_index_dir)
    assert not page.exception and not page.error
    assert "pick one from the collection" in page.info[0].value
    assert f"**{N_IMAGES:,}** images from" in page.sidebar.markdown[0].value
    training = page.sidebar.expander[0]
    assert training.label == "Training: what was chosen, and why"
    assert "- search code: " in training.markdown[0].value
    assert "Map of the collection" in [h.value for h in page.subheader]
    assert not result_columns(page)


def test_upload_shows_what_the_model_saw_and_both_result_columns(
    open_page, built_index_dir, image_folder
):
    query = image_folder / "green" / "03.png"
    page = upload(open_page(built_index_dir), "03.png", query.read_bytes())
    assert not page.exception and not page.error
    assert query_caption(page) == "Query: 03.png"
    captions = [img.proto.imgs[0].caption for img in page.get("image")]
    assert "What the model sees (16×16)" in captions
    assert "Its reconstruction from the code" in captions
    assert page.metric[0].label == "Outlier score"
    columns = result_columns(page)
    assert set(columns) == {"Latent codes", "Raw pixels"}
    for column in columns.values():
        hits = hit_captions(column)
        assert len(hits) == DEFAULT_K == len(more_buttons(column))
        # the uploaded photo is in the collection, so it comes back first, at distance 0
        assert hits[0] == "#1 green · 03.png · d=0.000"
        assert [h.split()[0] for h in hits] == [f"#{r}" for r in range(1, DEFAULT_K + 1)]
        timing = column.caption[0].value
        assert timing.startswith(f"{DEFAULT_K} results in ") and timing.endswith(" ms")


def test_a_shrunken_raw_pixel_baseline_is_named_above_its_column(
    open_page, shrunk_index_dir, image_folder
):
    query = image_folder / "green" / "03.png"
    page = upload(open_page(shrunk_index_dir), "03.png", query.read_bytes())
    assert not page.exception and not page.error
    assert "raw-pixel baseline: 8x8 (shrunk from 16x16)" in page.sidebar.markdown[0].value
    columns = result_columns(page)
    assert set(columns) == {"Latent codes", "Raw pixels, 8×8"}
    assert hit_captions(columns["Raw pixels, 8×8"])[0] == "#1 green · 03.png · d=0.000"


def test_slider_sets_the_number_of_results(open_page, built_index_dir, image_folder):
    page = open_page(built_index_dir)
    page.sidebar.slider[0].set_value(3).run()
    page = upload(page, "q.png", (image_folder / "red" / "00.png").read_bytes())
    assert [len(hit_captions(c)) for c in result_columns(page).values()] == [3, 3]


def test_random_pick_searches_with_a_collection_image_and_shows_precision(
    open_page, built_index_dir
):
    page = open_page(built_index_dir)
    page.button(key="random").click().run()
    assert not page.exception and not page.error
    name = query_caption(page).removeprefix("Query: ").split(" · ")[0]
    for column in result_columns(page).values():
        hits = hit_captions(column)
        assert len(hits) == DEFAULT_K
        # the picked image itself is left out: its neighbours are what is interesting
        assert name not in [hit_name(h) for h in hits]
        if "/" in name:  # a labelled image: precision for its label
            assert " · precision " in column.caption[0].value


def test_pick_by_name_searches_with_that_image(open_page, built_index_dir):
    page = open_page(built_index_dir)
    page.text_input(key="find").input("red/05").run()
    assert page.selectbox(key="match").options == ["red/05.png"]
    page.button(key="use-match").click().run()
    assert not page.exception and not page.error
    assert query_caption(page) == "Query: red/05.png · label red"
    for column in result_columns(page).values():
        hits = hit_captions(column)
        assert not any(h.endswith("red · 05.png · d=0.000") for h in hits), "itself left out"
        assert column.caption[0].value.endswith(f"of {DEFAULT_K} are red)")
    # the colours are distinct, so the nearest raw-pixel neighbours of a red image are red
    page.sidebar.slider[0].set_value(5).run()
    raw = result_columns(page)["Raw pixels"]
    assert raw.caption[0].value.endswith(" · precision 100% (5 of 5 are red)")


def test_pick_by_name_says_when_nothing_matches(open_page, built_index_dir):
    page = open_page(built_index_dir)
    page.text_input(key="find").input("purple").run()
    assert not page.exception and not page.error
    assert "No image name contains “purple”." in [c.value for c in page.caption]
    assert not page.selectbox  # nothing to choose from


def test_more_like_this_makes_that_result_the_query(open_page, built_index_dir, image_folder):
    page = upload(
        open_page(built_index_dir), "q.png", (image_folder / "blue" / "02.png").read_bytes()
    )
    latent = result_columns(page)["Latent codes"]
    second = hit_captions(latent)[1]  # "#2 blue · 07.png · d=…"
    more_buttons(latent)[1].click()
    page.run()
    assert not page.exception and not page.error
    label, file_name = second.split(" · ")[0].split()[1], second.split(" · ")[1]
    assert query_caption(page) == f"Query: {label}/{file_name} · label {label}"
    for column in result_columns(page).values():
        assert " · precision " in column.caption[0].value


def test_a_photo_unlike_the_collection_gets_a_plain_warning(open_page, built_index_dir):
    # a black and white chessboard: nothing like the noisy single-colour images indexed
    squares = (np.indices((24, 24)) // 8).sum(axis=0) % 2
    board = np.repeat((squares * 255).astype(np.uint8)[..., None], 3, axis=2)
    buffer = io.BytesIO()
    Image.fromarray(board).save(buffer, format="PNG")
    page = upload(open_page(built_index_dir), "board.png", buffer.getvalue())
    assert not page.exception and not page.error
    assert page.metric[0].value == "100 / 100"
    warnings = [w.value for w in page.warning]  # (the tiny model also gets a caveat)
    assert any(w.startswith("This photo looks unlike anything in the collection") for w in warnings)
    assert len(result_columns(page)) == 2  # still searched: the warning only qualifies it


def png_bytes(mode="RGB", fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (20, 20), 128).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.png", b"", "file is empty"),
        ("notes.jpg", b"this is not an image", "not an image"),
        ("half.png", None, "truncated"),
        ("scan.png", png_bytes(fmt="TIFF"), "its content is TIFF"),
        ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "not an image"),
    ],
    ids=["empty", "text", "truncated", "tiff-named-png", "svg"],
)
def test_bad_upload_gets_a_clear_message(
    open_page, built_index_dir, image_folder, name, data, reason
):
    if data is None:  # a truncated PNG
        whole = (image_folder / "blue" / "00.png").read_bytes()
        data = whole[: len(whole) // 2]
    page = upload(open_page(built_index_dir), name, data)
    assert not page.exception
    assert len(page.error) == 1
    message = shown(page.error[0].value)
    assert message.startswith(f"Could not read **{name}**: ")
    assert reason in message and "Try a JPEG, PNG, WebP, BMP or GIF photo." in message
    assert not result_columns(page)


def test_upload_content_is_sniffed_not_taken_from_the_name(
    open_page, built_index_dir, image_folder
):
    # a PNG named .jpg is searched as the PNG it is
    data = (image_folder / "green" / "03.png").read_bytes()
    page = upload(open_page(built_index_dir), "photo.jpg", data, mime="image/jpeg")
    assert not page.error
    assert hit_captions(result_columns(page)["Latent codes"])[0].endswith("03.png · d=0.000")


def test_too_large_upload_gets_a_clear_message(open_page, built_index_dir):
    page = upload(open_page(built_index_dir), "huge.png", b"\0" * (20 * 2**20 + 1))
    assert not page.exception
    assert shown(page.error[0].value) == (
        "**huge.png** is too large: it is 20.0 MB and the limit is 20 MB. "
        "Try a smaller photo (at most 20 MB and 50 megapixels)."
    )
    assert not result_columns(page)


def test_missing_index_gets_a_clear_message(open_page, tmp_path):
    page = open_page(tmp_path / "nowhere")
    assert not page.exception
    assert "is not an index" in page.error[0].value
    assert "latentsearch index" in page.error[0].value


def test_no_index_configured_says_how_to_start(open_page):
    page = open_page(None)
    assert not page.exception
    assert "latentsearch app --index" in page.error[0].value


def test_model_index_mismatch_gets_a_clear_message(open_page, mismatched_index_dir):
    page = open_page(mismatched_index_dir)
    assert not page.exception
    assert len(page.error) == 1
    message = shown(page.error[0].value)
    assert message.startswith("Cannot search this index: ")
    # the model copy is not the one the index was built with: the page says so and how to fix it
    assert "model" in message and "`latentsearch index`" in message


def test_old_index_without_stored_errors_still_searches(
    open_page, old_index_dir, image_folder, monkeypatch
):
    monkeypatch.setenv(TRUST_ENV, "1")  # it has no checksums either
    page = upload(open_page(old_index_dir), "q.png", (image_folder / "red" / "01.png").read_bytes())
    assert not page.exception and not page.error
    assert page.metric[0].label == "Reconstruction error"
    assert "built before outlier scores were stored" in " ".join(c.value for c in page.caption)
    assert len(result_columns(page)) == 2


def test_several_indexes_offer_a_choice_by_name(
    open_page, built_index_dir, old_index_dir, monkeypatch
):
    monkeypatch.setenv(TRUST_ENV, "1")
    page = open_page(f"{built_index_dir},{old_index_dir}")
    choice = page.sidebar.selectbox(key="index_choice")
    both = [built_index_dir, old_index_dir]  # both folders are called "index"
    assert choice.options == [f"{path.parent.name}/{path.name}" for path in both]
    assert not page.error
    choice.select(str(old_index_dir)).run()
    assert not page.exception and not page.error
    assert page.sidebar.selectbox(key="index_choice").value == str(old_index_dir)


def test_an_index_without_checksums_is_refused_with_the_reason(
    open_page, old_index_dir, monkeypatch, tmp_path
):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    unverified = tmp_path / "unverified"  # a path of its own: the page caches loaded builds
    shutil.copytree(old_index_dir, unverified)
    page = open_page(unverified)
    assert "has no checksums" in shown(page.error[0].value) and not page.exception


def test_with_a_token_the_page_shows_nothing_until_opened_with_it(
    open_page, built_index_dir, monkeypatch
):
    from streamlit.testing.v1 import AppTest

    from latentsearch.indexer.serve.launch import TOKEN_ENV
    from latentsearch.webapp.app import INDEX_ENV

    monkeypatch.setenv(TOKEN_ENV, "s3cret")
    page = open_page(built_index_dir)
    assert "needs its access token" in page.error[0].value
    assert not page.file_uploader and not page.sidebar.markdown
    monkeypatch.setenv(INDEX_ENV, str(built_index_dir))
    opened = AppTest.from_file(page._script_path, default_timeout=60)
    opened.query_params["token"] = "s3cret"
    opened.run()
    assert not opened.error and opened.file_uploader


def test_a_collection_query_offers_its_original_and_the_model_caveat_follows_the_fit(
    open_page, built_index_dir
):
    from latentsearch.indexer.serve.explorer import Explorer
    from latentsearch.indexer.serve.outliers import WEAK_FIT
    from latentsearch.indexer.store.manifest import current_index_build

    page = open_page(built_index_dir)
    page.button(key="random").click().run()
    assert not page.exception and not page.error
    assert [b.label for b in page.get("download_button")] == ["Open the original"]
    ratio = Explorer.open_build(current_index_build(built_index_dir)).fit_ratio
    caveats = [w for w in page.warning if "as far off as flat patches" in w.value]
    assert len(caveats) == (1 if ratio > WEAK_FIT else 0), ratio

"""The search page through Streamlit's AppTest: upload, results, and every error message."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import latentsearch.webapp.app as app_module
from latentsearch.webapp.app import INDEX_ENV

APP_FILE = str(Path(app_module.__file__))


def make_page(monkeypatch, index_dir) -> AppTest:
    if index_dir is None:
        monkeypatch.delenv(INDEX_ENV, raising=False)
    else:
        monkeypatch.setenv(INDEX_ENV, str(index_dir))
    page = AppTest.from_file(APP_FILE, default_timeout=60)
    page.run()
    return page


def upload(page: AppTest, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    page.file_uploader[0].set_value((name, data, mime))
    page.run()
    return page


def captions_of(column) -> list[str]:
    images = column.get("image")
    assert len(images) == 1, "each column shows its results as one image list"
    return [img.caption for img in images[0].proto.imgs]


def test_page_waits_for_an_upload(monkeypatch, built_index_dir):
    page = make_page(monkeypatch, built_index_dir)
    assert not page.exception
    assert not page.error
    assert "Upload a photo" in page.info[0].value
    assert "images from" in page.sidebar.markdown[0].value


def test_upload_shows_latent_and_raw_results_side_by_side(
    monkeypatch, built_index_dir, image_folder
):
    query = image_folder / "green" / "03.png"
    page = upload(make_page(monkeypatch, built_index_dir), "03.png", query.read_bytes())
    assert not page.exception and not page.error
    latent, raw = page.columns[0], page.columns[1]
    assert latent.subheader[0].value == "Latent codes"
    assert raw.subheader[0].value == "Raw pixels"
    for column in (latent, raw):
        captions = captions_of(column)
        assert len(captions) == 10
        # the uploaded photo is in the collection, so it comes back first, at distance 0
        assert captions[0] == "#1 green · 03.png · d=0.000"
        assert column.caption[0].value.startswith("10 results in ")
        assert column.caption[0].value.endswith(" ms")


def test_slider_sets_the_number_of_results(monkeypatch, built_index_dir, image_folder):
    page = make_page(monkeypatch, built_index_dir)
    page.sidebar.slider[0].set_value(3).run()
    page = upload(page, "q.png", (image_folder / "red" / "00.png").read_bytes())
    assert [len(captions_of(c)) for c in page.columns[:2]] == [3, 3]


@pytest.mark.parametrize(
    ("name", "data"),
    [("empty.png", b""), ("notes.jpg", b"this is not an image"), ("half.png", None)],
)
def test_bad_upload_gets_a_clear_message(monkeypatch, built_index_dir, image_folder, name, data):
    if data is None:  # a truncated PNG
        whole = (image_folder / "blue" / "00.png").read_bytes()
        data = whole[: len(whole) // 2]
    page = upload(make_page(monkeypatch, built_index_dir), name, data)
    assert not page.exception
    assert len(page.error) == 1
    assert page.error[0].value.startswith(f"Could not read **{name}**")
    assert not page.columns  # no result columns for a failed query


def test_missing_index_gets_a_clear_message(monkeypatch, tmp_path):
    page = make_page(monkeypatch, tmp_path / "nowhere")
    assert not page.exception
    assert "is not an index" in page.error[0].value
    assert "latentsearch index" in page.error[0].value


def test_no_index_configured_says_how_to_start(monkeypatch):
    page = make_page(monkeypatch, None)
    assert not page.exception
    assert "latentsearch app --index" in page.error[0].value

"""A page serving while its index is rebuilt answers from the old build until the swap,
then from the new one (``load_explorer`` is cached per build folder)."""

from __future__ import annotations

import shutil

from test_app import N_IMAGES, hit_captions, result_columns, upload

from latentsearch.encoder.versioned_dir import current_build
from latentsearch.indexer.pipeline import build
from latentsearch.indexer.pipeline.build import BuildSettings, build_index

KEPT_LABELS = ("red", "blue")  # the new collection: no green images at all


def collection_count(page) -> str:
    return page.sidebar.markdown[0].value.split("**")[1]


def green_hits(page) -> list[str]:
    return [
        caption
        for column in result_columns(page).values()
        for caption in hit_captions(column)
        if " green · " in caption
    ]


def test_page_answers_from_the_old_build_until_the_swap_then_from_the_new(
    open_page, tmp_path, built_index_dir, image_folder, trained_model_dir, monkeypatch
):
    index_dir, smaller = tmp_path / "index", tmp_path / "smaller"
    shutil.copytree(built_index_dir, index_dir)
    for label in KEPT_LABELS:
        shutil.copytree(image_folder / label, smaller / label)
    old_build = current_build(index_dir)
    query = (image_folder / "green" / "03.png").read_bytes()
    page = upload(open_page(index_dir), "03.png", query)
    assert collection_count(page) == f"{N_IMAGES:,}"
    assert hit_captions(result_columns(page)["Latent codes"])[0] == "#1 green · 03.png · d=0.000"

    during: list = []  # the page rerun half-way through the rebuild: still the old build

    def add_then_query(writer, batch, add=build.IndexWriter.add):
        if not during:
            assert list(index_dir.glob("*.partial")), "the rebuild is under way"
            during.append(page.run())
        add(writer, batch)

    monkeypatch.setattr(build.IndexWriter, "add", add_then_query)
    build_index(smaller, trained_model_dir, index_dir, BuildSettings(batch_size=8, workers=1))
    assert current_build(index_dir) != old_build

    mid = during[0]
    assert not mid.exception and not mid.error
    assert collection_count(mid) == f"{N_IMAGES:,}"
    assert hit_captions(result_columns(mid)["Raw pixels"])[0] == "#1 green · 03.png · d=0.000"

    after = page.run()  # the next rerun after the swap loads the new build
    assert not after.exception and not after.error
    assert collection_count(after) == f"{12 * len(KEPT_LABELS)}"
    assert "images from smaller" in after.sidebar.markdown[0].value  # its name, not the path
    assert len(hit_captions(result_columns(after)["Latent codes"])) == 12
    assert not green_hits(after), "every result comes from the new, green-free collection"

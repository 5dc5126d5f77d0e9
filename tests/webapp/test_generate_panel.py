"""The "generate" panel through AppTest: a cvae draws a chosen label, a VAE varies the
query, and a generated image searches the collection."""

from __future__ import annotations

import pytest
from page_text import shown

from latentsearch.encoder.config import ModelConfig, TrainConfig

TINY = dict(image_size=16, channels=3, latent_dim=8, filters=(8, 16))


def _index(tmp_path_factory, image_folder, variant: str):
    from latentsearch.indexer.pipeline.build import BuildSettings, build_index
    from latentsearch.indexer.pipeline.train import train_on_folder

    root = tmp_path_factory.mktemp(variant)
    config = ModelConfig(**TINY, variant=variant)
    train_on_folder(image_folder, root / "model", config, TrainConfig(epochs=1, batch_size=16))
    build_index(image_folder, root / "model", root / "index", BuildSettings(batch_size=16))
    return root / "index"


@pytest.fixture(scope="module")
def cvae_index(tmp_path_factory, image_folder):
    return _index(tmp_path_factory, image_folder, "cvae")


@pytest.fixture(scope="module")
def vae_index(tmp_path_factory, image_folder):
    return _index(tmp_path_factory, image_folder, "vae")


def panel_captions(page) -> list[str]:
    return [
        shown(img.proto.imgs[0].caption)
        for img in page.get("image")
        if img.proto.imgs[0].caption.startswith(("imagined", "variation"))
    ]


def search_buttons(page) -> list:
    return [b for b in page.button if b.label == "Search with this"]


def test_cvae_panel_generates_a_label_and_searches_with_an_imagined_image(open_page, cvae_index):
    page = open_page(cvae_index)
    assert "Generate" in [h.value for h in page.subheader]
    choice = page.selectbox(key="generate_label")
    assert choice.options == ["blue", "green", "red"]
    choice.set_value("red").run()
    page.button(key="generate").click().run()
    assert not page.exception and not page.error
    assert panel_captions(page) == [f"imagined red #{n}" for n in range(1, 7)]
    search_buttons(page)[1].click().run()
    assert not page.exception and not page.error
    captions = [shown(img.proto.imgs[0].caption) for img in page.get("image")]
    assert "Query: imagined red #2 · label red" in captions
    latent = [c for c in page.caption if c.value.startswith("12 results")]
    assert latent and "are red" in latent[0].value  # precision against the chosen label


def test_vae_panel_varies_the_current_query(open_page, vae_index):
    page = open_page(vae_index)
    assert page.button(key="generate").disabled  # nothing to vary yet
    page.button(key="random").click().run()
    page.button(key="generate").click().run()
    assert not page.exception and not page.error
    captions = panel_captions(page)
    assert len(captions) == 6 and captions[0].startswith("variation of ")
    search_buttons(page)[0].click().run()
    assert not page.exception and not page.error
    titles = [h.value for h in page.subheader]
    assert "Latent codes" in titles and "Raw pixels" in titles


def test_models_that_cannot_generate_show_no_panel(open_page, built_index_dir):
    page = open_page(built_index_dir)
    assert "Generate" not in [h.value for h in page.subheader]

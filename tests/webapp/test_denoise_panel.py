"""With a denoising model, the page shows the query cleaned, with a download."""

import pytest

from latentsearch.encoder.config import ModelConfig


@pytest.fixture(scope="module")
def denoising_index(tmp_path_factory, image_folder, tiny_train_config):
    from latentsearch.indexer.pipeline.build import BuildSettings, build_index
    from latentsearch.indexer.pipeline.train import train_on_folder

    root = tmp_path_factory.mktemp("denoising")
    config = ModelConfig(
        image_size=16, channels=3, latent_dim=8, filters=(8, 16), variant="denoising"
    )
    model = train_on_folder(image_folder, root / "model", config, tiny_train_config)
    build_index(image_folder, model, root / "index", BuildSettings(batch_size=16, workers=2))
    return root / "index"


def test_an_upload_is_shown_cleaned_with_a_download(open_page, denoising_index, image_folder):
    page = open_page(denoising_index)
    query = image_folder / "blue" / "02.png"
    page.file_uploader[0].set_value(("02.png", query.read_bytes(), "image/png"))
    page.run()
    assert not page.exception and not page.error
    captions = [img.proto.imgs[0].caption for img in page.get("image")]
    assert "Cleaned by the denoising model" in captions
    assert "Its reconstruction from the code" not in captions
    labels = [button.proto.label for button in page.get("download_button")]
    assert "Download the cleaned photo" in labels

"""Cleaning a photo with a denoising model: library, command line and page."""

import numpy as np
import pytest
from PIL import Image

from latentsearch.encoder.config import ModelConfig
from latentsearch.encoder.inference import decode_codes, encode_images
from latentsearch.encoder.training import load_model
from latentsearch.indexer.cli.parser import main
from latentsearch.indexer.files.images import load_image
from latentsearch.indexer.serve.denoise import NotADenoiserError, denoise


@pytest.fixture(scope="module")
def denoiser_dir(tmp_path_factory, image_folder, tiny_train_config):
    from latentsearch.indexer.pipeline.train import train_on_folder

    config = ModelConfig(
        image_size=16, channels=3, latent_dim=8, filters=(8, 16), variant="denoising"
    )
    return train_on_folder(image_folder, tmp_path_factory.mktemp("denoiser") / "m", config,
                           tiny_train_config)  # fmt: skip


def test_the_cleaned_photo_is_the_models_redrawing_in_range(denoiser_dir, image_folder):
    model = load_model(denoiser_dir)
    image = load_image(image_folder / "red" / "00.png", 16, 3)
    cleaned = denoise(model, image)
    assert cleaned.shape == (16, 16, 3) and 0 <= cleaned.min() and cleaned.max() <= 1
    batch = image[np.newaxis]
    if model.redrawer is not None:  # a projected search code: redrawn through the bottleneck
        redrawn = np.asarray(model.redrawer.predict_on_batch(batch))[0]
    else:
        redrawn = decode_codes(model.decoder, encode_images(model.encoder, batch))[0]
    np.testing.assert_allclose(cleaned, np.clip(redrawn, 0, 1), atol=1e-5)


def test_a_model_not_trained_to_denoise_is_refused(trained_model_dir, image_folder):
    image = load_image(image_folder / "red" / "00.png", 16, 3)
    with pytest.raises(NotADenoiserError, match="--variant denoising"):
        denoise(load_model(trained_model_dir), image)


def test_the_cli_writes_the_cleaned_photo(capsys, denoiser_dir, image_folder, tmp_path):
    out = tmp_path / "clean.png"
    code = main(["denoise", str(image_folder / "red" / "00.png"), "--model", str(denoiser_dir),
                 "--out", str(out)])  # fmt: skip
    assert code == 0 and str(out) in capsys.readouterr().out
    assert Image.open(out).size == (16, 16)
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(
    ("which", "out", "words"),
    [("trained", "clean.png", "--variant denoising"), ("denoiser", "clean.jpg", ".png file")],
)
def test_cli_errors_are_one_line(capsys, request, image_folder, tmp_path, which, out, words):
    model = request.getfixturevalue("trained_model_dir" if which == "trained" else "denoiser_dir")
    code = main(["denoise", str(image_folder / "red" / "00.png"), "--model", str(model),
                 "--out", str(tmp_path / out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and words in err, err
    assert not (tmp_path / out).exists()

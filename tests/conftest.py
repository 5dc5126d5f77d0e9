"""Shared fixtures: a small labelled image folder, a tiny trained model and an index of it.

Costly fixtures are session-scoped and built once; treat what they return as read-only
(copy with ``shutil.copytree`` before changing anything in it).

``image_folder``
    ``<tmp>/<label>/<nn>.png`` for the labels in ``LABELS`` (``PER_LABEL`` images each,
    24x24 RGB, one dominant colour per label plus noise, so labels are visually distinct),
    and one unlabelled image ``<tmp>/stray.png`` directly at the root.
``tiny_model_config`` / ``tiny_train_config``
    The tiny configs used to train ``trained_model_dir`` (16x16 colour, 8-d codes, 1 epoch).
``trained_model_dir``
    A model trained once on ``image_folder`` with ``train_on_folder``; the versioned model
    root (what ``latentsearch train --out`` writes and ``--model`` / ``load_model`` accept).
``built_index_dir``
    ``build_index(image_folder, trained_model_dir, ...)``; the versioned index root (what
    ``latentsearch index --out`` writes and ``IndexBundle.load`` / ``--index`` accept). It
    holds ``N_IMAGES`` vectors, the root image among them (label None).
``make_image``
    ``make_image(path, colour, seed=0, size=24)`` writes one noisy single-colour PNG/JPEG.
``unreadable_folder``
    A folder of 2 image files that cannot be read: a ``.jpg`` of text, an empty ``.png``.
"""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # before anything imports TensorFlow

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}
LABELS = tuple(COLOURS)
PER_LABEL = 12
ROOT_IMAGE = "stray.png"
N_IMAGES = len(LABELS) * PER_LABEL + 1


def write_image(path: Path, colour: tuple[int, int, int], seed: int = 0, size: int = 24) -> Path:
    """A ``size`` x ``size`` image of ``colour`` with +-40 uniform noise per pixel."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-40, 41, (size, size, 3))
    pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, "RGB").save(path)
    return path


@pytest.fixture(scope="session")
def make_image():
    return write_image


@pytest.fixture
def unreadable_folder(tmp_path) -> Path:
    bad = tmp_path / "bad"
    (bad / "sub").mkdir(parents=True)
    (bad / "a.jpg").write_bytes(b"not a jpeg at all")
    (bad / "sub" / "b.png").write_bytes(b"")
    return bad


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("images")
    for label_no, (label, colour) in enumerate(COLOURS.items()):
        for n in range(PER_LABEL):
            write_image(root / label / f"{n:02d}.png", colour, seed=100 * label_no + n)
    write_image(root / ROOT_IMAGE, (200, 200, 60), seed=999)
    return root


@pytest.fixture(scope="session")
def tiny_model_config():
    from latentsearch.encoder.config import ModelConfig

    return ModelConfig(image_size=16, channels=3, latent_dim=8, filters=(8, 16))


@pytest.fixture(scope="session")
def tiny_train_config():
    from latentsearch.encoder.config import TrainConfig

    return TrainConfig(epochs=1, batch_size=16)


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory, image_folder, tiny_model_config, tiny_train_config):
    from latentsearch.indexer.pipeline.train import train_on_folder

    out = tmp_path_factory.mktemp("trained") / "model"
    train_on_folder(image_folder, out, tiny_model_config, tiny_train_config)
    return out


@pytest.fixture(scope="session")
def built_index_dir(tmp_path_factory, image_folder, trained_model_dir) -> Path:
    from latentsearch.indexer.pipeline.build import BuildSettings, build_index

    out = tmp_path_factory.mktemp("built") / "index"
    build_index(image_folder, trained_model_dir, out, BuildSettings(batch_size=16, workers=2))
    return out


SHRUNK_SIDE = 8  # the raw-pixel grid of ``shrunk_index_dir`` (the model takes 16x16)


@pytest.fixture(scope="session")
def shrinking_budget(image_folder) -> int:
    """A memory budget that holds 8x8 colour pixels of the shared folder but not 16x16."""
    from latentsearch.indexer.indexes.choice import ID_BYTES

    count = sum(1 for _ in image_folder.rglob("*.png"))
    return count * (SHRUNK_SIDE * SHRUNK_SIDE * 3 + ID_BYTES)


@pytest.fixture(scope="session")
def shrunk_index_dir(tmp_path_factory, image_folder, trained_model_dir, shrinking_budget) -> Path:
    """The shared folder indexed within ``shrinking_budget``, so the raw-pixel baseline
    keeps an 8x8 grid; the latent index is asked to be flat, so only the baseline shrinks."""
    from latentsearch.indexer.pipeline.build import BuildSettings, build_index

    settings = BuildSettings(
        batch_size=16, workers=2, index_type="flat", memory_budget=shrinking_budget
    )
    out = tmp_path_factory.mktemp("shrunk") / "index"
    build_index(image_folder, trained_model_dir, out, settings)
    return out

"""The Keras backend in use: its GPUs, its versions, and models moving between backends.

A model saved under one backend is loaded in a subprocess under each other installed
backend (the backend is fixed when Keras is first imported) and must give the same codes.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from importlib import metadata as importlib_metadata
from pathlib import Path

import keras
import numpy as np
import pytest

from latentsearch.encoder import backend
from latentsearch.encoder.inference import encode_images
from latentsearch.encoder.training import load_model

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("encoder", "indexer", "webapp")
# what would tie the product to one backend, anywhere but encoder/backend.py
BACKEND_IMPORT = re.compile(r"^\s*(import|from)\s+(tensorflow|jax|torch)\b|\btf\.", re.M)
LOAD_AND_ENCODE = """
import sys
import numpy as np
from latentsearch.encoder.backend import backend_name
from latentsearch.encoder.inference import encode_images
from latentsearch.encoder.training import load_model
assert backend_name() == sys.argv[1], backend_name()
images = np.load(sys.argv[3])
np.save(sys.argv[4], encode_images(load_model(sys.argv[2]).encoder, images))
"""


def other_backends() -> list[str]:
    """The installed backends other than the one in use."""
    here = keras.backend.backend()
    return [name for name in ("tensorflow", "jax", "torch") if name != here]


def test_versions_name_the_backend_and_its_library():
    versions = backend.backend_versions()
    name = keras.backend.backend()
    assert versions[backend.BACKEND_KEY] == name
    library = backend.BACKEND_PACKAGES[name][0]
    assert versions[library] == importlib_metadata.version(library)


def test_the_probe_of_the_backend_in_use_answers_names(monkeypatch):
    real = backend._PROBES[keras.backend.backend()]()
    assert isinstance(real, tuple) and all(isinstance(name, str) for name in real)
    monkeypatch.setitem(backend._PROBES, keras.backend.backend(), lambda: ("gpu:0",))
    backend.visible_gpus.cache_clear()
    try:
        assert backend.visible_gpus() == ("gpu:0",)
    finally:
        backend.visible_gpus.cache_clear()


def test_a_backend_without_a_probe_encodes_as_on_a_cpu(monkeypatch):
    monkeypatch.setattr(backend, "backend_name", lambda: "openvino")
    backend.visible_gpus.cache_clear()
    try:
        assert backend.visible_gpus() == ()
    finally:
        backend.visible_gpus.cache_clear()


def test_only_the_backend_module_imports_a_backend_library():
    offenders = [
        str(path.relative_to(REPO))
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if path != REPO / "encoder" / "backend.py" and BACKEND_IMPORT.search(path.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize("other", other_backends())
def test_a_saved_model_gives_the_same_codes_under_another_backend(
    other, trained_model_dir, tmp_path
):
    if importlib.util.find_spec(other) is None:
        pytest.skip(f"{other} is not installed")
    images = np.random.default_rng(0).random((6, 16, 16, 3)).astype(np.float32)
    np.save(tmp_path / "images.npy", images)
    here = encode_images(load_model(trained_model_dir, with_decoder=False).encoder, images)
    env = {**os.environ, "KERAS_BACKEND": other, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-c", LOAD_AND_ENCODE, other, str(trained_model_dir),
               str(tmp_path / "images.npy"), str(tmp_path / "codes.npy")]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    there = np.load(tmp_path / "codes.npy")
    assert there.shape == here.shape and np.abs(here).max() > 0
    np.testing.assert_allclose(there, here, rtol=1e-4, atol=1e-5 * np.abs(here).max())

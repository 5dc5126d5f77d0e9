"""``notebooks/autoencoder_family.ipynb`` runs end to end on a tiny CIFAR-10 subset in CI.

Sixty photos, 16x16, one epoch and eager execution (tracing would cost more than the
training): the pictures are noise, but every cell, library call and table must work.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "autoencoder_family.ipynb"
CIFAR_TAR = Path(
    os.environ.get("LATENTSEARCH_CIFAR_TAR", REPO.parent / "shared/datasets/cifar10-jpg.tar.gz")
)
PER_CLASS = 6  # x 10 classes = 60 photos
MODELS = ("undercomplete", "denoising", "sparse", "contractive", "vae", "tied", "binary")
FIGURES = 6  # reconstructions, denoising, VAE samples, interpolation, histogram, flagged
TINY = {
    "LATENTSEARCH_NB_IMAGES": "60",
    "LATENTSEARCH_NB_EPOCHS": "1",
    "LATENTSEARCH_NB_IMAGE_SIZE": "16",
    "LATENTSEARCH_NB_LATENT_DIM": "16",
    "LATENTSEARCH_NB_BINARY_BITS": "16",
    "LATENTSEARCH_NB_FILTERS": "8,16",
    "LATENTSEARCH_NB_EAGER": "1",
}


def extract_photos(target: Path, per_class: int = PER_CLASS) -> Path:
    """The first ``per_class`` training photos of every class, as ``target/<class>/<n>.jpg``."""
    taken: dict[str, int] = {}
    with tarfile.open(CIFAR_TAR) as archive:
        for member in archive:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or parts[0] != "train":
                continue
            if taken.get(parts[1], 0) < per_class:
                (target / parts[1]).mkdir(parents=True, exist_ok=True)
                (target / parts[1] / parts[2]).write_bytes(archive.extractfile(member).read())
                taken[parts[1]] = taken.get(parts[1], 0) + 1
    return target


def table_rows(markdown: str) -> dict[str, list[str]]:
    """Body rows of a Markdown table, keyed by their first cell."""
    rows = [line.strip("|").split("|") for line in markdown.splitlines()[2:]]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows}


def test_notebook_is_stored_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


@pytest.mark.skipif(not CIFAR_TAR.is_file(), reason=f"CIFAR-10 archive not found at {CIFAR_TAR}")
def test_notebook_runs_on_a_tiny_subset(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    settings = {**TINY, "LATENTSEARCH_NB_CIFAR": str(extract_photos(tmp_path / "photos"))}
    for name, value in {**settings, "LATENTSEARCH_CACHE": str(tmp_path / "cache")}.items():
        monkeypatch.setenv(name, value)
    repo_files = sorted((REPO / "notebooks").rglob("*"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()

    shown = [out.get("data", {}) for cell in notebook.cells for out in cell.get("outputs", [])]
    assert sum("image/png" in data for data in shown) == FIGURES
    tables = [data["text/markdown"] for data in shown if "text/markdown" in data]
    sizes = table_rows(next(table for table in tables if "bytes per image" in table))
    assert list(sizes) == list(MODELS)
    assert sizes["undercomplete"][:2] == ["16 floats", "48x"]  # 16 * 16 * 3 pixels
    assert sizes["binary"][:3] == ["16 bits", "-", "2"]
    outliers = table_rows(next(table for table in tables if "ROC AUC" in table))
    assert list(outliers) == [*MODELS, "PCA 16", "mean photo"]
    assert all(0.0 <= float(row[-1]) <= 1.0 for row in outliers.values())
    assert sorted((REPO / "notebooks").rglob("*")) == repo_files  # wrote nothing beside it

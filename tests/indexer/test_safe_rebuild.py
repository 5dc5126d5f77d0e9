"""A build killed with SIGKILL half-way leaves the previous index in use; the next cleans up."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from latentsearch.encoder.versioned_dir import current_build
from latentsearch.indexer.build import BuildSettings, build_index
from latentsearch.indexer.bundle import IndexBundle
from latentsearch.indexer.search import Searcher

COPIES = 12  # 12 x 37 images at batch size 2: the build runs for seconds, not milliseconds


def answers(index_dir, queries):
    searcher = Searcher.open(index_dir)
    return [
        [(h.id, h.path, h.distance) for h in result.latent + result.raw]
        for result in (searcher.search(q, k=5) for q in queries)
    ]


def wait_for_partial(out, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list(out.glob("*.partial")):
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.01)
    return False


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_build_leaves_previous_index_and_is_cleaned_up(
    tmp_path, image_folder, trained_model_dir, built_index_dir
):
    out, big = tmp_path / "index", tmp_path / "big"
    shutil.copytree(built_index_dir, out)
    for n in range(COPIES):
        shutil.copytree(image_folder, big / f"copy{n:02d}")
    queries = sorted((image_folder / "red").iterdir())[:3] + [image_folder / "stray.png"]
    before_build, before = current_build(out), answers(out, queries)

    command = [sys.executable, "-m", "latentsearch.indexer.cli", "index", "--data", str(big)]
    command += ["--model", str(trained_model_dir), "--out", str(out), "--batch-size", "2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for_partial(out, process), "the build finished or failed before it was seen"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()

    abandoned = list(out.glob("*.partial"))
    assert len(abandoned) == 1 and process.returncode == -signal.SIGKILL
    assert current_build(out) == before_build
    assert answers(out, queries) == before
    assert len(IndexBundle.load(out)) == len(IndexBundle.load(built_index_dir))

    build_index(image_folder, trained_model_dir, out, BuildSettings(batch_size=16, workers=2))
    assert not abandoned[0].exists()
    assert not list(out.glob("*.partial"))
    assert current_build(out) != before_build

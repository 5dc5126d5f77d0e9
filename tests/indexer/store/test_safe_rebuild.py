"""A build killed with SIGKILL half-way leaves the previous index in use; the next cleans up."""

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter

import numpy as np
import pytest

from latentsearch.encoder.versioned_dir import current_build
from latentsearch.indexer.pipeline.build import BuildSettings, build_index
from latentsearch.indexer.serve.search import Searcher
from latentsearch.indexer.store.bundle import IndexBundle

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

    command = [sys.executable, "-m", "latentsearch.indexer.cli.parser", "index", "--data", str(big)]
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


# --- randomised trials: kill -9 in the middle of writing a build and an update ---------
# Each trial draws a byte count between 0 and the size of the finished build, watches the
# staging folder and kills the process as soon as it holds that many bytes, so the kills
# fall while files are being written (the metadata flushed, an index file, the model copy,
# the manifest). The first test above kills as soon as the staging folder appears.
# The short form runs in CI; LATENTSEARCH_STRESS=1 runs many more trials.

STRESS = os.environ.get("LATENTSEARCH_STRESS") == "1"
TRIALS = 15 if STRESS else 2
TRIAL_COPIES = 4  # 4 x 37 images at batch size 2


def run_cli(args):
    """Start ``latentsearch ARGS``; returns the process."""
    command = [sys.executable, "-m", "latentsearch.indexer.cli.parser", *map(str, args)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def folder_bytes(folder):
    """{relative path: size} of the files under ``folder``; None if it went away meanwhile."""
    try:
        return {
            str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()
        }
    except FileNotFoundError:  # renamed or removed while listed
        return None


def staged(out):
    """(staging folder, its files and sizes) of a build in progress in ``out``, or None."""
    partial = next(out.glob("*.partial"), None)
    files = folder_bytes(partial) if partial else None
    return None if files is None else (partial, files)


def kill_at_bytes(process, out, target, timeout=300):
    """SIGKILL ``process`` once its staging folder holds ``target`` bytes (or it has ended)."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        seen = staged(out)
        if seen and sum(seen[1].values()) >= target:
            break
        time.sleep(0.002)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def landing(out, finished):
    """Where a kill landed: the file being written when the staging folder is incomplete."""
    seen = staged(out)
    if seen is None:
        return "no staging folder"
    partial, files = seen
    if not files:
        return "empty staging folder"
    short = [f for f, size in files.items() if size < finished.get(f, 0)]
    if short or len(files) < len(finished):
        newest = max(files, key=lambda f: (partial / f).stat().st_mtime_ns)
        return f"mid-write ({(short or [newest])[0]})"
    return "staging complete, not yet switched"


@pytest.fixture(scope="module")
def changed_folder(tmp_path_factory, image_folder):
    """The collection with copies added, one file changed and one deleted."""
    folder = tmp_path_factory.mktemp("changed") / "images"
    shutil.copytree(image_folder, folder)
    for n in range(TRIAL_COPIES):
        shutil.copytree(image_folder / "red", folder / f"extra{n}")
    (folder / "blue" / "00.png").write_bytes((image_folder / "green" / "00.png").read_bytes())
    (folder / "green" / "11.png").unlink()
    return folder


@pytest.mark.stress
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("mode", ["build", "update"])
def test_kills_mid_write_leave_the_old_or_the_new_index_whole(
    tmp_path, mode, changed_folder, image_folder, trained_model_dir, built_index_dir
):
    queries = sorted((image_folder / "red").iterdir())[:2] + [image_folder / "stray.png"]
    before = answers(built_index_dir, queries)
    ref = tmp_path / "reference"
    shutil.copytree(built_index_dir, ref)
    args = ["index", "--data", changed_folder, "--model", trained_model_dir, "--batch-size", "2"]
    args += ["--update"] if mode == "update" else []
    assert run_cli([*args, "--out", ref]).wait() == 0
    after, finished = answers(ref, queries), folder_bytes(current_build(ref))
    assert after != before
    rng = np.random.default_rng(1 if mode == "build" else 2)
    landed, states = Counter(), Counter()
    for trial in range(TRIALS):
        out = tmp_path / f"trial{trial}"
        shutil.copytree(built_index_dir, out)
        target = rng.uniform(0, sum(finished.values()))
        kill_at_bytes(run_cli([*args, "--out", out]), out, target)
        landed[landing(out, finished)] += 1
        found = answers(out, queries)  # the index in use loads and answers
        assert found in (before, after), f"trial {trial}: answers match neither index"
        states["old" if found == before else "new"] += 1
    print(f"\n{mode} of {finished}: {TRIALS} kills: {dict(states)}; landed {dict(landed)}")
    mid_write = sum(n for where, n in landed.items() if where.startswith("mid-write"))
    assert mid_write >= TRIALS // 2, "the kills should mostly land while files are written"


# --- disk full: writes fail with EFBIG past a file-size limit (RLIMIT_FSIZE) -----------

FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from latentsearch.indexer.cli.parser import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
@pytest.mark.parametrize(
    ("mode", "limit_kb", "file_hit"),
    [
        ("build", 4, "thumbs-00000.h5"),  # HDF5 writes metadata.h5 in larger pieces
        ("build", 64, "thumbs-00000.h5"),
        ("build", 200, "autoencoder.keras"),  # the model copy
        ("update", 4, "metadata.h5"),  # the copy of the old metadata
        ("update", 96, "thumbs-00000.h5"),  # the last thumbnails, past the metadata copy
    ],
    ids=["first-write", "thumbnails", "model-copy", "update-copy", "update-thumbnails"],
)
def test_a_full_disk_fails_the_build_cleanly_and_keeps_the_old_index(
    tmp_path, mode, limit_kb, file_hit, changed_folder, trained_model_dir, built_index_dir
):
    out = tmp_path / "index"
    shutil.copytree(built_index_dir, out)
    queries = [changed_folder / "red" / "03.png", changed_folder / "stray.png"]
    before_build, before = current_build(out), answers(out, queries)
    args = ["index", "--data", changed_folder, "--model", trained_model_dir, "--out", out]
    args += ["--update"] if mode == "update" else []
    command = [sys.executable, "-c", FULL_DISK, str(limit_kb * 1024), *map(str, args)]
    failed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert failed.returncode == 2, failed.stderr[-2000:]  # a user error: not 1, not -11 (SIGSEGV)
    assert "Traceback" not in failed.stderr
    error = failed.stderr.splitlines()[-1]
    assert error.startswith("latentsearch index: error: cannot write the new index: a file grew")
    assert f"(File too large: {out}" in error and file_hit in error
    assert error.endswith("the previous index is untouched")
    assert not list(out.glob("*.partial"))
    assert current_build(out) == before_build
    assert answers(out, queries) == before


WRITE_INDEX = """
import resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))
import faiss, numpy as np, sys
from latentsearch.indexer.indexes.faiss_helpers import write_index
index = faiss.IndexFlatL2(64)
index.add(np.zeros((1000, 64), np.float32))
try:
    write_index(index, sys.argv[1])
except OSError as err:
    print(type(err).__name__, err.errno, err.filename)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_faiss_write_past_the_limit_is_an_oserror_with_its_errno(tmp_path):
    target = tmp_path / "latent.faiss"
    command = [sys.executable, "-c", WRITE_INDEX, str(target)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["OSError", str(errno.EFBIG), str(target)]

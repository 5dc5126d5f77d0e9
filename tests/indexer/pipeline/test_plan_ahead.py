"""An update's plan made in a second process while the command line imports Keras."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from latentsearch.encoder.model_files import ModelLoadError
from latentsearch.indexer.pipeline.plan_ahead import plan_ahead, planned
from latentsearch.indexer.pipeline.settings import BuildSettings
from latentsearch.indexer.pipeline.update_plan import PlanRequest, plan_for
from latentsearch.indexer.store.bundle import IndexBundle
from latentsearch.indexer.store.manifest import LATENT_FILE, current_index_build

SETTINGS = BuildSettings(batch_size=16, workers=2)
FRESH_PYTHON_TIMEOUT_S = 300  # a new interpreter imports Keras: seconds on a 2-core machine


@pytest.fixture
def changed_folder(folder_and_index):
    """A copy of the fixture folder and its index, then one file added and one removed."""
    folder, out = folder_and_index
    model = IndexBundle.load(out).model.path
    red = sorted((folder / "red").iterdir())
    shutil.copyfile(red[0], folder / "red" / "added.png")
    os.utime(folder / "red" / "added.png", (1, 1))  # a size and time no row has
    red[1].unlink()
    return folder, model, out


def request_for(folder, model, out) -> PlanRequest:
    return PlanRequest.of(folder, model, out, SETTINGS)


def run_fresh_python(*words: str) -> subprocess.CompletedProcess:
    command = [sys.executable, *words]
    done = subprocess.run(command, capture_output=True, text=True, timeout=FRESH_PYTHON_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_no_plan_ahead_once_keras_is_loaded(changed_folder):
    import keras  # noqa: F401  (as in every test process; forking now would be unsafe)

    request = request_for(*changed_folder)
    assert not plan_ahead(request)
    here = planned(request)
    assert here == plan_for(request)
    assert [os.path.basename(p) for p in here.plan.to_encode] == ["added.png"]
    assert len(here.plan.stale_rows) == 1 and here.rebuild is None


def test_plan_ahead_runs_in_a_second_process_and_matches_planning_here(changed_folder, tmp_path):
    folder, model, out = changed_folder
    pids = tmp_path / "hashed_by.txt"
    code = f"""
        import json, os, sys
        from latentsearch.indexer.pipeline import update_plan
        from latentsearch.indexer.pipeline.plan_ahead import plan_ahead, planned
        from latentsearch.indexer.pipeline.settings import BuildSettings
        keras_at_start = "keras" in sys.modules
        real = update_plan.hash_files
        def hashing(paths, workers):
            with open({str(pids)!r}, "a") as log:
                log.write(f"{{os.getpid()}}\\n")
            return real(paths, workers)
        update_plan.hash_files = hashing  # a forked process keeps it
        settings = BuildSettings(batch_size=16, workers=2)
        request = update_plan.PlanRequest({str(folder)!r}, {str(model)!r}, {str(out)!r}, settings)
        bad = update_plan.PlanRequest({str(folder)!r}, "/no/such/model", {str(out)!r}, settings)
        started = [plan_ahead(request), plan_ahead(bad)]
        import keras  # what the command line does meanwhile
        ahead = planned(request)
        try:
            planned(bad)
            failed = None
        except Exception as err:
            failed = type(err).__name__
        print(json.dumps({{
            "keras_at_start": keras_at_start, "started": started, "me": os.getpid(),
            "same": ahead == update_plan.plan_for(request), "failed": failed,
            "to_encode": ahead.plan.to_encode, "stale": ahead.plan.stale_rows,
        }}))
    """
    done = run_fresh_python("-c", textwrap.dedent(code))
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not result["keras_at_start"]  # the plan's modules import no Keras
    assert result["started"] == [True, True] and result["same"]
    assert [os.path.basename(p) for p in result["to_encode"]] == ["added.png"]
    assert len(result["stale"]) == 1
    hashed_by = [int(line) for line in pids.read_text().split()]
    assert hashed_by[0] != result["me"] and hashed_by[1] == result["me"]  # ahead, then here
    # a plan ahead that fails is made again where it is collected, so its error is raised
    assert result["failed"] == ModelLoadError.__name__


def test_cli_update_plans_ahead(changed_folder):
    folder, model, out = changed_folder
    words = ["-v", "index", "--update", "--data", str(folder), "--model", str(model)]
    # as the `latentsearch` command runs: it ends the process without Python's teardown
    done = run_fresh_python("-m", "latentsearch.indexer.cli", *words, "--out", str(out))
    assert "planning the update in a second process" in done.stderr
    assert "the plan made ahead failed" not in done.stderr
    assert "'added': 1" in done.stdout and "'removed': 1" in done.stdout  # flushed first
    assert IndexBundle.load(out).manifest.update["added"] == 1


def test_a_damaged_build_is_found_by_the_collecting_process(changed_folder):
    """The plan made ahead skips the checksums; the process collecting it verifies them,
    so a damaged build still turns the update into a full rebuild, as planning here does."""
    folder, model, out = changed_folder
    with open(current_index_build(out) / LATENT_FILE, "ab") as latent:
        latent.write(b"\0")
    code = f"""
        import json, sys
        from latentsearch.indexer.pipeline import update_plan
        from latentsearch.indexer.pipeline.plan_ahead import plan_ahead, planned
        from latentsearch.indexer.pipeline.settings import BuildSettings
        settings = BuildSettings(batch_size=16, workers=2)
        request = update_plan.PlanRequest({str(folder)!r}, {str(model)!r}, {str(out)!r}, settings)
        started = plan_ahead(request)
        ahead, here = planned(request), update_plan.plan_for(request)
        print(json.dumps({{"started": started, "same": ahead == here, "why": ahead.rebuild}}))
    """
    done = run_fresh_python("-c", textwrap.dedent(code))
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["started"] and result["same"]
    assert "no usable index to update" in result["why"] and "damaged" in result["why"]

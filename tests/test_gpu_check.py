"""benchmarks/gpu_check.sh end to end on the CPU with tiny sizes: every stage runs, through
the product's code, and the JSON holds the figures the docs quote (docs/gpu.md)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_check.sh"
TINY = ["--small", "--images", "96", "--sizes", "32", "--batches", "32,64", "--files", "40",
        "--queries", "16", "--codes", "300", "--chunk", "8", "--workers", "2",
        "--policies", "float32,mixed_bfloat16"]  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed (the test extra brings jax[cpu])")
    work = tmp_path_factory.mktemp("gpu_check")
    out = work / "check.json"
    env = {**os.environ, "PYTHON": sys.executable, "KERAS_BACKEND": "jax"}
    env.pop("WHEELS", None)  # the test environment has every library already
    command = [str(SCRIPT), *TINY, "--out", str(out), "--workdir", str(work / "run")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "img/s" in done.stdout and f"wrote {out}" in done.stdout  # the printed table
    return json.loads(out.read_text())


def test_the_run_names_its_backend_and_machine(report):
    env = report["environment"]
    assert env["keras_backend"] == "jax" and env["jax"] and env["faiss"]
    assert env["gpus"] == [] or all(isinstance(name, str) for name in env["gpus"])
    assert env["cpus"] >= 1


def test_encoding_is_measured_for_every_policy_and_batch(report):
    rows = report["encode"]
    measured = {(r["size"], r["policy"], r["batch"]) for r in rows}
    assert measured == {(32, p, b) for p in ("float32", "mixed_bfloat16") for b in (32, 64)}
    for row in rows:
        assert row["images"] == 96 - 96 % row["batch"]  # whole batches only
        assert row["seconds"] > 0 and row["images_per_s"] > 0
        assert row["images_per_s"] == pytest.approx(row["images"] / row["seconds"], rel=0.01)


def test_indexing_is_set_against_decoding_the_same_files(report):
    stage = report["index"]
    decode, index = stage["decode_only"], stage["index"]
    assert decode["files"] == index["files"] == 40 and decode["skipped"] == index["skipped"] == 0
    assert stage["model_size"] == 32  # the product's choice for 32-px photos
    assert decode["files_per_s"] > 0 and index["files_per_s"] > 0
    share = index["files_per_s"] / decode["files_per_s"]
    assert stage["index_share_of_decode"] == pytest.approx(share, rel=0.01, abs=1e-3)  # rounded
    assert index["versions"]["keras_backend"] == "jax"  # the index was built on JAX too


def test_both_searches_find_the_same_neighbours(report):
    search = report["search"]
    assert (search["queries"], search["codes"], search["k"]) == (16, 300, 10)
    assert search["faiss_cpu"]["queries_per_s"] > 0
    assert search["backend_topk"]["queries_per_s"] > 0
    assert search["backend_topk"]["agreement"] >= 0.95  # exact float32 both ways on a CPU


def test_goals_are_judged_from_the_measured_figures(report):
    goals = report["goals"]
    best = max(r["images_per_s"] for r in report["encode"] if r["policy"] == "mixed_bfloat16")
    assert goals["encode_32px_bf16_best"] == best
    assert goals["encode_met"] == (best >= goals["encode_goal"])
    assert goals["index_share"] == report["index"]["index_share_of_decode"]

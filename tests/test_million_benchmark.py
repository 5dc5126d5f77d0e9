"""benchmarks/million.py scaled down, end to end, so the scale benchmark cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
COUNT = 5_000


@pytest.mark.slow
def test_every_step_reports_and_the_update_touches_one_percent(
    tmp_path, image_folder, trained_model_dir
):
    out = tmp_path / "million.json"
    command = [sys.executable, str(BENCHMARKS / "million.py"), "--source", str(image_folder)]
    command += ["--model", str(trained_model_dir), "--work", str(tmp_path / "work")]
    command += ["--count", str(COUNT), "--index-type", "ivf", "--out", str(out)]
    subprocess.run(command, check=True, timeout=1200)

    report = json.loads(out.read_text())
    images = report["images"]
    assert images["images"] == COUNT
    assert images["made_now"] == COUNT + COUNT // 100 + 1000  # + files to add, + queries
    assert len(list((tmp_path / "work" / "images").rglob("*.jpg"))) == COUNT  # folder put back
    build = report["build"]
    assert build["indexed"] == COUNT and build["index_type"].startswith("IVF")
    assert build["of_decode_only"] == pytest.approx(
        build["images_per_s"] / report["decode_only"]["images_per_s"], abs=0.01
    )
    update = report["update"]
    assert update["files"]["added"] == update["files"]["removed"] == COUNT // 100
    assert update["files"]["unchanged"] == COUNT - COUNT // 100
    assert 0 < update["of_build"] < 1
    assert 0.5 <= report["recall"]["recall_at_10"] <= 1.0  # IVF: approximate, not broken
    assert report["api"]["searches"] == 200 and report["api"]["request_p50_ms"] > 0
    assert report["api"]["latent_only_request_p50_ms"] > 0  # the same queries with ?raw=0
    assert report["page"]["first_result_s"] > 0 and report["cli_search"]["seconds"] > 0

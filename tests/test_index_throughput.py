"""benchmarks/index_throughput.py end to end on a tiny folder, so the benchmark cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "index_throughput.py"


def test_every_phase_reports_a_rate_and_a_ratio_to_the_baseline(image_folder, trained_model_dir):
    images = sum(1 for path in image_folder.rglob("*.png"))
    command = [sys.executable, str(SCRIPT), "--data", str(image_folder)]
    command += ["--model", str(trained_model_dir), "--count", "64", "--batch-size", "16"]
    command += ["--phases", "baseline,decode,model,build"]  # encode: model covers it
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)

    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [row["phase"] for row in rows] == ["baseline", "decode", "model", "build"]
    by_phase = {row["phase"]: row for row in rows}
    for phase in ("baseline", "decode", "build"):
        assert by_phase[phase]["images"] == images
    assert by_phase["model"]["images"] >= 64
    assert all(row["images_per_s"] > 0 and row["peak_rss_mib"] > 0 for row in rows)
    table = [line for line in done.stdout.splitlines() if line.startswith("| 1 | build")]
    ratio = float(table[0].split("|")[6])
    expected = by_phase["build"]["images_per_s"] / by_phase["baseline"]["images_per_s"]
    assert abs(ratio - expected) < 0.01

"""Compose the autoencoder-family results table from the runs of ``docs/family/run.sh``.

Usage: python docs/family/table.py WORK_DIR > docs/family.md-table
Reads WORK_DIR/bench-{l2,cosine}/report.json and each model's history.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = (
    "| method | metric | mAP@1000 | P@10 | P@100 | vs raw mAP | vs raw P@10 | train min | code |"
)


def training_minutes(model_dir: str) -> str:
    root = Path(model_dir)
    build = root / (root / "CURRENT").read_text().strip() if (root / "CURRENT").exists() else root
    seconds = json.loads((build / "history.json").read_text()).get("train_seconds", [None])[0]
    return f"{seconds / 60:.1f}" if seconds else "-"


def code_size(entry: dict) -> str:
    bits = entry["details"].get("binary_bits")
    if bits:
        return f"{bits} bits ({bits // 8} B)"
    return f"{entry['dim']} floats ({entry['speed']['bytes_per_image']:.0f} B)"


def rows(report: dict, metric: str) -> list[str]:
    raw = next(e for e in report["methods"] if e["kind"] == "raw")["quality"]
    lines = []
    for entry in report["methods"]:
        quality = entry["quality"]
        name = entry["label"].split(",")[0] if entry["kind"] != "latent" else entry["key"][7:]
        minutes = training_minutes(entry["details"]["model"]) if entry["kind"] == "latent" else "-"
        lines.append(
            f"| {name} | {metric} | {quality['map']['1000']:.3f} | "
            f"{quality['precision']['10']:.3f} | {quality['precision']['100']:.3f} | "
            f"{quality['map']['1000'] / raw['map']['1000']:.2f}x | "
            f"{quality['precision']['10'] / raw['precision']['10']:.2f}x | {minutes} | "
            f"{code_size(entry)} |"
        )
    return lines


def main(work: Path) -> None:
    print(COLUMNS)
    print("|" + "---|" * (COLUMNS.count("|") - 1))
    for metric in ("l2", "cosine"):
        report = json.loads((work / f"bench-{metric}" / "report.json").read_text())
        print("\n".join(rows(report, metric)))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "family-runs"))

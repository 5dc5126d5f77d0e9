"""The quality suite: `latentsearch train` with no flags, then `latentsearch bench`, on
several collections, into one table (docs/quality.md).

    python benchmarks/quality_suite.py --work WORK_DIR [--shared ../shared/datasets]
        [--only cifar10,sign-digits,mnist] [--folder NAME=DIR ...] [--out docs/quality]

Collections and protocols (cosine for every method, as `latentsearch index` builds):
- cifar10: train on the 50,000 training photos; 100 test photos per class as queries.
- sign-digits: train on all 2,062 photos; 50 per class sampled (seed 0) as queries and
  removed from the database.
- mnist: the built-in 5,000 digits; 100 per class sampled as queries.
- any labelled folder given with --folder NAME=DIR: trained on it, 50 per class sampled.

Each collection runs the real commands in a child process, so what is measured is what a
user gets from the command line; the archives in --shared are unpacked into WORK_DIR once.
Writes WORK_DIR/suite.json and OUT/quality_table.md (the table docs/quality.md quotes).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

ARCHIVES = {"cifar10": "cifar10-jpg.tar.gz", "sign-digits": "sign-digits-jpg.tar.gz"}


def unpacked(shared: Path, name: str, work: Path) -> Path:
    """The collection's folder under ``work``, unpacked from its archive the first time."""
    target = work / "data" / name
    if not (target / ".complete").is_file():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        with tarfile.open(shared / ARCHIVES[name]) as archive:
            archive.extractall(target, filter="data")
        (target / ".complete").write_text("unpacked\n")
    return target


def protocols(args: argparse.Namespace) -> dict[str, dict]:
    """Per collection, in the order given: what to train on, and the bench flags."""
    chosen: dict[str, dict] = {}
    for name in args.only:
        if name == "cifar10":
            root = unpacked(args.shared, "cifar10", args.work)
            queries = ["--query-data", str(root / "test"), "--queries-per-class", "100"]
            chosen[name] = {
                "train": root / "train",
                "bench": ["--data", str(root / "train"), *queries],
            }
        elif name == "sign-digits":
            root = next(unpacked(args.shared, "sign-digits", args.work).iterdir())
            chosen[name] = {
                "train": root,
                "bench": ["--data", str(root), "--queries-per-class", "50"],
            }
        elif name == "mnist":
            chosen[name] = {
                "train": "builtin",
                "bench": ["--data", "builtin", "--queries-per-class", "100"],
            }
        else:
            raise SystemExit(f"unknown collection {name!r}: cifar10, sign-digits or mnist")
    for spec in args.folder:
        name, folder = spec.split("=", 1)
        chosen[name] = {"train": folder, "bench": ["--data", folder, "--queries-per-class", "50"]}
    return chosen


def latentsearch(*words: str) -> float:
    """Run one `latentsearch` command; its wall time in seconds."""
    started = time.perf_counter()
    subprocess.run([shutil.which("latentsearch") or "latentsearch", *words], check=True)
    return time.perf_counter() - started


def run_collection(name: str, protocol: dict, work: Path) -> dict:
    model, report_dir = work / "models" / name, work / "reports" / name
    shutil.rmtree(model, ignore_errors=True)
    shutil.rmtree(report_dir, ignore_errors=True)
    train_seconds = latentsearch("train", "--data", str(protocol["train"]), "--out", str(model))
    bench = [
        *protocol["bench"],
        "--metric",
        "cosine",
        "--model",
        str(model),
        "--out",
        str(report_dir),
    ]
    latentsearch("bench", *bench)
    report = json.loads((report_dir / "report.json").read_text())
    chosen = json.loads(next(model.glob("v-*/train_config.json")).read_text())
    model_config = json.loads(next(model.glob("v-*/model_config.json")).read_text())
    history = json.loads(next(model.glob("v-*/history.json")).read_text())
    return {
        "collection": name,
        "train_seconds": round(train_seconds, 1),
        "epochs_run": len(history.get("loss", [])),
        "train_config": chosen,
        "model_config": model_config,
        "database": report["data"]["database_size"],
        "queries": report["data"]["queries"],
        "methods": {
            m["kind"]: {
                "label": m["label"],
                "p10": m["quality"]["precision"]["10"],
                "map100": m["quality"]["map"]["100"],
                "map1000": m["quality"]["map"].get("1000"),
            }
            for m in report["methods"]
        },
    }


def table(rows: list[dict]) -> str:
    """One row per collection: latent, raw and PCA figures, ratios from the same run."""
    header = (
        "| collection | db / queries | latent P@10 | raw P@10 | PCA P@10 | latent / raw P@10 "
        "| raw misses removed "
        "| latent mAP@100 | raw mAP@100 | latent mAP@1000 | raw mAP@1000 | train min "
        "| epochs run / set | batch | image | search code | mirror |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for row in rows:
        lat, raw, pca = (row["methods"].get(k, {}) for k in ("latent", "raw", "pca"))
        tc, mc = row["train_config"], row["model_config"]

        def fmt(x):
            return "-" if x is None else f"{x:.3f}"

        lines.append(
            f"| {row['collection']} | {row['database']} / {row['queries']} | {fmt(lat['p10'])} "
            f"| {fmt(raw['p10'])} | {fmt(pca.get('p10'))} | {lat['p10'] / raw['p10']:.3f}x "
            f"| {1 - (1 - lat['p10']) / (1 - raw['p10']):.0%} "
            f"| {fmt(lat['map100'])} | {fmt(raw['map100'])} | {fmt(lat['map1000'])} "
            f"| {fmt(raw['map1000'])} | {row['train_seconds'] / 60:.1f} "
            f"| {row['epochs_run']} / {tc['epochs']} | {tc['batch_size']} "
            f"| {mc['image_size']}x{mc['image_size']}x{mc['channels']} | {tc['search_code']} "
            f"| {tc['mirror']} |"
        )
    return "\n".join(lines) + "\n"


def merged(earlier: Path, fresh: list[dict]) -> list[dict]:
    """Rows of an earlier run in the same work folder, each replaced by a fresh one of the
    same collection, so ``--only`` reruns a collection without losing the others."""
    rows = json.loads(earlier.read_text()) if earlier.exists() else []
    by_name = {row["collection"]: row for row in rows} | {row["collection"]: row for row in fresh}
    return list(by_name.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="models, reports, unpacked data")
    parser.add_argument("--shared", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--only", default="cifar10,sign-digits,mnist", type=lambda s: s.split(","))
    parser.add_argument("--folder", action="append", default=[], help="NAME=DIR, labelled")
    parser.add_argument("--out", type=Path, default=Path("docs/quality"))
    parser.add_argument("--table-only", action="store_true", help="redraw from suite.json")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.table_only:
        rows = json.loads((args.work / "suite.json").read_text())
    else:
        fresh = [run_collection(n, p, args.work) for n, p in protocols(args).items()]
        rows = merged(args.work / "suite.json", fresh)
        (args.work / "suite.json").write_text(json.dumps(rows, indent=2) + "\n")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "quality_table.md").write_text(table(rows))
    print(table(rows))


if __name__ == "__main__":
    main()

"""The benchmark report: ``report.json`` as written, and the Markdown tables read from it.

Everything here works on the JSON dict alone (no TensorFlow, no FAISS), so the notebook
in ``notebooks/`` rebuilds the same tables from a saved ``report.json``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)
REPORT_FORMAT = "latentsearch-bench/1"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
PLOT_FILES = ("pr_curves.png", "precision_at_k.png", "examples.png")
REPORT_FILES = (REPORT_JSON, REPORT_MD, *PLOT_FILES)


def load_report(path: str | Path) -> dict:
    """A ``report.json`` (or the folder holding it) as a dict."""
    path = Path(path)
    if path.is_dir():
        path = path / REPORT_JSON
    report = json.loads(path.read_text())
    if report.get("format") != REPORT_FORMAT:
        raise ValueError(f"{path} is not a {REPORT_FORMAT} report")
    return report


def _row(cells: list) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(header: list[str], rows: list[list]) -> str:
    align = ["---"] + ["---:"] * (len(header) - 1)
    return "\n".join([_row(header), _row(align), *(_row(r) for r in rows)])


def raw_entry(report: dict) -> dict:
    return next(m for m in report["methods"] if m["kind"] == "raw")


def quality_table(report: dict) -> str:
    """The headline table: mAP@k, precision@k, recall at the largest k, k-NN accuracy."""
    ks = [str(k) for k in report["ks"]]
    header = ["method", "dim", *(f"mAP@{k}" for k in ks), "mAP@all"]
    header += [*(f"P@{k}" for k in ks), f"R@{ks[-1]}", f"{report['knn_k']}-NN acc"]
    rows = []
    for m in report["methods"]:
        q = m["quality"]
        cells = [m["label"], m["dim"], *(f"{q['map'][k]:.3f}" for k in [*ks, "all"])]
        cells += [*(f"{q['precision'][k]:.3f}" for k in ks), f"{q['recall'][ks[-1]]:.3f}"]
        rows.append([*cells, f"{q['knn_accuracy']:.3f}"])
    return _table(header, rows)


def speed_table(report: dict) -> str:
    """Encoding throughput, Flat build time, size and query latency of each method."""
    k = raw_entry(report)["speed"]["latency_k"]
    header = ["method", "encode img/s", "build s", "bytes/image"]
    header += [f"query ms p50 (k={k})", "query ms p95", "search ms p50", "batch queries/s"]
    rows = []
    for m in report["methods"]:
        s = m["speed"]
        rows.append(
            [
                m["label"],
                f"{s['encode_images_per_s']:,.0f}",
                f"{s['build_s']:.3f}",
                f"{s['bytes_per_image']:,.0f}",
                f"{s['query_ms_p50']:.2f}",
                f"{s['query_ms_p95']:.2f}",
                f"{s['search_ms_p50']:.2f}",
                f"{s['batch_queries_per_s']:,.0f}",
            ]
        )
    return _table(header, rows)


def ratio_table(report: dict) -> str:
    """Each method against raw pixels, from the same run: quality up is better, cost down."""
    raw = raw_entry(report)
    ks = [str(k) for k in report["ks"]]
    header = ["method", f"mAP@{ks[-1]}", f"P@{ks[0]}", "bytes/image", "query ms p50"]
    header += ["search ms p50"]
    rows = []
    for m in report["methods"]:
        q, s = m["quality"], m["speed"]
        rows.append(
            [
                m["label"],
                f"{q['map'][ks[-1]] / raw['quality']['map'][ks[-1]]:.2f}x",
                f"{q['precision'][ks[0]] / raw['quality']['precision'][ks[0]]:.2f}x",
                f"{s['bytes_per_image'] / raw['speed']['bytes_per_image']:.3f}x",
                f"{s['query_ms_p50'] / raw['speed']['query_ms_p50']:.2f}x",
                f"{s['search_ms_p50'] / raw['speed']['search_ms_p50']:.3f}x",
            ]
        )
    return _table(header, rows)


def approximate_table(report: dict) -> str | None:
    """Recall@k of the ``--index-type`` index against exact search, with its costs."""
    entries = [m for m in report["methods"] if m.get("approximate")]
    if not entries:
        return None
    ks = [str(k) for k in report["ks"]]
    header = ["method", "index", *(f"recall@{k} vs exact" for k in ks), "build s"]
    header += ["bytes/image", "search ms p50", "exact search ms p50", "batch searches/s"]
    rows = []
    for m in entries:
        a = m["approximate"]
        rows.append(
            [
                m["label"],
                a["index_key"],
                *(f"{a['recall_vs_exact'][k]:.3f}" for k in ks),
                f"{a['build_s']:.2f}",
                f"{a['bytes_per_image']:,.0f}",
                f"{a['search_ms_p50']:.2f}",
                f"{m['speed']['search_ms_p50']:.2f}",
                f"{a['batch_searches_per_s']:,.0f}",
            ]
        )
    return _table(header, rows)


def _setup_lines(report: dict) -> list[str]:
    data, config = report["data"], report["config"]
    shape = "x".join(str(n) for n in data["image_shape"])
    return [
        f"- database: {data['database_size']:,} images of {data['database_root']} "
        f"({len(data['database_per_class'])} classes), read as {shape}",
        f"- queries: {data['queries']:,} ({data['query_source']}) from {data['query_root']}",
        f"- skipped (unreadable): {len(data['skipped'])}; unlabelled left out: "
        f"{data['unlabelled_left_out']}; database images identical to a query, removed: "
        f"{data.get('database_duplicates_of_queries_removed', 0)}",
        f"- models: {', '.join(config['models'])}; seed {config['seed']}",
        f"- exact search over the whole database by {config.get('metric', 'l2')} distance "
        f"(binary codes: Hamming); wall time {report['wall_seconds']:.1f} s "
        f"on {report['machine']['cpus']} CPUs ({report['machine']['platform']})",
    ]


def render_markdown(report: dict) -> str:
    """``report.md``: set-up, the tables, plots, definitions and library versions."""
    sections = {
        "Quality": quality_table(report),
        "Speed and size": speed_table(report),
        "Against raw pixels (same run)": ratio_table(report),
        "Approximate index": approximate_table(report),  # None without --index-type
        "Plots": "\n".join(f"![{name}]({name})" for name in PLOT_FILES),
        "Definitions": "\n".join(
            f"- **{name}**: {text}" for name, text in report["definitions"].items()
        ),
        "Versions": ", ".join(f"{name} {v}" for name, v in report["versions"].items()),
    }
    parts = ["# Retrieval benchmark", "\n".join(_setup_lines(report))]
    for title, body in sections.items():
        if body is not None:
            parts += [f"## {title}", body]
    return "\n\n".join(parts) + "\n"


def foreign_files(out_dir: Path) -> list[str]:
    """Names in ``out_dir`` that no benchmark report writes (empty when it does not exist)."""
    if not out_dir.is_dir():
        return []
    return sorted(p.name for p in out_dir.iterdir() if p.name not in REPORT_FILES)


def write_report(report: dict, out_dir: Path) -> list[Path]:
    """Write report.json, report.md and the PNG plots; return the files written."""
    from latentsearch.indexer.bench.plots import save_plots  # matplotlib: only when writing

    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / REPORT_JSON, out_dir / REPORT_MD]
    written[0].write_text(json.dumps(report, indent=2) + "\n")
    written[1].write_text(render_markdown(report))
    written += save_plots(report, out_dir)
    log.info("wrote the benchmark report to %s", out_dir)
    return written

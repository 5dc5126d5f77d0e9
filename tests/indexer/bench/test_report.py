"""Report tables and files, from a small hand-made report dict."""

import json

import pytest

from latentsearch.indexer.bench.report import (
    REPORT_FORMAT,
    approximate_table,
    foreign_files,
    load_report,
    quality_table,
    ratio_table,
    render_markdown,
    speed_table,
)


def method(kind, label, map_value, p10, bytes_per_image, query_ms):
    quality = {
        "map": {"10": map_value, "100": map_value, "all": map_value / 2},
        "precision": {"10": p10, "100": p10 / 2},
        "recall": {"10": 0.01, "100": 0.05, "all": 1.0},
        "knn_accuracy": 0.5,
        "curve": {"cutoff": [1, 10], "precision": [1.0, p10], "recall": [0.0, 0.01]},
    }
    speed = {
        "encode_images_per_s": 1000.0,
        "build_s": 0.5,
        "bytes_per_image": bytes_per_image,
        "query_ms_p50": query_ms,
        "query_ms_p95": query_ms * 2,
        "search_ms_p50": query_ms / 2,
        "search_ms_p95": query_ms,
        "batch_queries_per_s": 100.0,
        "latency_k": 10,
    }
    entry = {"key": kind, "kind": kind, "label": label, "dim": bytes_per_image // 4}
    return entry | {"quality": quality, "speed": speed}


REPORT = {
    "format": REPORT_FORMAT,
    "ks": [10, 100],
    "knn_k": 10,
    "methods": [
        method("latent", "latent codes", 0.40, 0.50, 512, 3.0),
        method("raw", "raw pixels", 0.20, 0.25, 12288, 6.0),
    ],
    "data": {
        "database_root": "/db",
        "query_root": "/q",
        "query_source": "all",
        "database_size": 100,
        "queries": 10,
        "database_per_class": {"a": 50, "b": 50},
        "skipped": [],
        "unlabelled_left_out": 0,
        "image_shape": [32, 32, 3],
    },
    "config": {"models": ["m"], "seed": 0, "metric": "cosine"},
    "wall_seconds": 12.0,
    "machine": {"cpus": 2, "platform": "test"},
    "definitions": {"mAP@k": "defined"},
    "versions": {"python": "3"},
    "examples": [],
}


def test_quality_table_has_a_row_per_method_and_a_column_per_k():
    lines = quality_table(REPORT).splitlines()
    assert lines[0].split(" | ")[2:5] == ["mAP@10", "mAP@100", "mAP@all"]
    assert len(lines) == 2 + 2
    assert lines[2].startswith("| latent codes | 128 | 0.400 | 0.400 | 0.200 | 0.500 | 0.250 |")


def test_ratio_table_divides_by_raw_pixels():
    latent_row = ratio_table(REPORT).splitlines()[2]
    # mAP@100 0.40 / 0.20, P@10 0.50 / 0.25, bytes 512 / 12288, latency 3 / 6
    assert latent_row == "| latent codes | 2.00x | 2.00x | 0.042x | 0.50x | 0.500x |"


def test_speed_table_names_the_latency_k():
    header = speed_table(REPORT).splitlines()[0]
    assert "query ms p50 (k=10)" in header


def test_markdown_holds_tables_plots_and_definitions():
    text = render_markdown(REPORT)
    assert quality_table(REPORT) in text and ratio_table(REPORT) in text
    assert "![pr_curves.png](pr_curves.png)" in text
    assert "**mAP@k**: defined" in text
    assert "exact search over the whole database by cosine distance" in text


def test_load_report_checks_the_format(tmp_path):
    (tmp_path / "report.json").write_text(json.dumps(REPORT))
    assert load_report(tmp_path)["ks"] == [10, 100]
    (tmp_path / "other.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="not a"):
        load_report(tmp_path / "other.json")


def test_foreign_files(tmp_path):
    assert foreign_files(tmp_path / "missing") == []
    (tmp_path / "report.md").write_text("old report")
    assert foreign_files(tmp_path) == []
    (tmp_path / "notes.txt").write_text("mine")
    assert foreign_files(tmp_path) == ["notes.txt"]


def test_approximate_table_only_with_an_approximate_index():
    assert approximate_table(REPORT) is None
    assert "Approximate index" not in render_markdown(REPORT)
    latent = dict(REPORT["methods"][0])
    latent["approximate"] = {
        "index_key": "HNSW32",
        "recall_vs_exact": {"10": 0.97, "100": 0.9},
        "build_s": 2.0,
        "bytes_per_image": 800.0,
        "search_ms_p50": 0.2,
        "search_ms_p95": 0.4,
        "batch_searches_per_s": 5000.0,
    }
    report = REPORT | {"methods": [latent, REPORT["methods"][1]]}
    rows = approximate_table(report).splitlines()
    assert len(rows) == 3  # header, rule, the one method that has one
    # the exact search ms p50 beside it is the method's own Flat figure (3.0 / 2)
    assert rows[2].startswith("| latent codes | HNSW32 | 0.970 | 0.900 | 2.00 | 800 | 0.20 | 1.50")
    assert "## Approximate index" in render_markdown(report)

"""``latentsearch bench``: the split, exact ranking, the report it writes, and its notebook."""

import json
import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest

from latentsearch.indexer.bench.approx import approximate_figures, recall_against_exact
from latentsearch.indexer.bench.benchmark import BenchConfig, model_names, pick_examples
from latentsearch.indexer.bench.data import BenchmarkError, sample_per_class, split_queries
from latentsearch.indexer.bench.report import PLOT_FILES, quality_table
from latentsearch.indexer.bench.scoring import ranked_ids
from latentsearch.indexer.cli.parser import main

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "benchmark_report.ipynb"
PER_CLASS = 3  # queries per class in the CLI run; the fixture folder has 12 per class


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory, image_folder, trained_model_dir):
    out = tmp_path_factory.mktemp("bench") / "report"
    code = main(
        ["bench", "--data", str(image_folder), "--model", str(trained_model_dir),
         "--queries-per-class", str(PER_CLASS), "--k", "5,10", "--out", str(out),
         "--workers", "2"]
    )  # fmt: skip
    assert code == 0
    return out


@pytest.fixture(scope="module")
def report(bench_dir):
    return json.loads((bench_dir / "report.json").read_text())


def test_bench_writes_every_file(bench_dir):
    for name in ("report.json", "report.md", *PLOT_FILES):
        assert (bench_dir / name).stat().st_size > 0, name
    assert (bench_dir / "pr_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_report_compares_latent_raw_and_pca_of_the_same_size(report):
    methods = {m["kind"]: m for m in report["methods"]}
    assert [m["kind"] for m in report["methods"]] == ["latent", "raw", "pca"]
    assert methods["latent"]["dim"] == methods["pca"]["dim"] == 8
    assert methods["raw"]["dim"] == 16 * 16 * 3
    assert methods["pca"]["details"]["fit"].startswith("exact")  # 768 columns
    data = report["data"]
    assert data["queries"] == 3 * PER_CLASS
    assert data["database_size"] == 3 * (12 - PER_CLASS)  # sampled queries left the database
    assert data["unlabelled_left_out"] == 1
    assert data["database_duplicates_of_queries_removed"] == 0  # queries left by design
    assert report["ks"] == [5, 10]
    assert {"python", "faiss", "numpy"} <= set(report["versions"])
    assert "mAP@k" in report["definitions"]


def test_figures_are_consistent(report):
    share = (12 - PER_CLASS) / report["data"]["database_size"]  # relevant share of the database
    for method in report["methods"]:
        quality, curve = method["quality"], method["quality"]["curve"]
        # at the full depth every relevant image is found, and precision is its share
        assert curve["recall"][-1] == pytest.approx(1.0)
        assert curve["precision"][-1] == pytest.approx(share)
        assert quality["recall"]["all"] == pytest.approx(1.0)
        at_five = curve["cutoff"].index(5)
        assert quality["precision"]["5"] == pytest.approx(curve["precision"][at_five])
        assert 0 <= quality["map"]["10"] <= 1 and 0 <= quality["knn_accuracy"] <= 1
        speed = method["speed"]
        assert speed["query_ms_p95"] >= speed["query_ms_p50"] > 0
        assert speed["bytes_per_image"] >= 4 * method["dim"]


def test_bench_ranks_by_cosine_unless_told(report):
    from latentsearch.indexer.cli.parser import build_parser

    # the fixture run gives no --metric: it must measure what `index` builds by default
    assert report["config"]["metric"] == "cosine"
    assert all(m["label"].endswith(", cosine") for m in report["methods"])
    args = build_parser().parse_args(["bench", "--data", "d", "--model", "m"])
    assert args.metric == "cosine"
    assert BenchConfig(data="d", models=("m",)).metric == "cosine"


def test_raw_pixels_separate_the_fixture_colours(report):
    # One dominant colour per label, +-40 noise: raw pixel search is perfect on this folder.
    raw = next(m for m in report["methods"] if m["kind"] == "raw")["quality"]
    assert raw["precision"]["5"] == pytest.approx(1.0)
    assert raw["map"]["10"] == pytest.approx(1.0)
    assert raw["knn_accuracy"] == pytest.approx(1.0)


def test_examples_show_latent_and_raw_hits(report):
    assert report["examples"]
    keys = {m["key"] for m in report["methods"] if m["kind"] in ("latent", "raw")}
    for example in report["examples"]:
        assert set(example["results"]) == keys
        for hits in example["results"].values():
            assert all(Path(hit["path"]).is_file() for hit in hits)
            assert all(hit["relevant"] == (hit["label"] == example["label"]) for hit in hits)


def test_notebook_rebuilds_the_report(bench_dir, report, monkeypatch, tmp_path):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    monkeypatch.setenv("LATENTSEARCH_REPORT", str(bench_dir))
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    shown = [out.get("data", {}) for out in outputs]
    assert quality_table(report) in [data.get("text/markdown") for data in shown]
    images = [data for data in shown if "image/png" in data]
    assert len(images) == 3


def test_bench_refuses_a_foreign_out_dir_before_any_work(capsys, tmp_path, image_folder):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("mine")
    code = main(["bench", "--data", str(image_folder), "--model", str(tmp_path / "none"),
                 "--out", str(out)])  # fmt: skip
    assert code == 2
    assert "thesis.tex" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


def test_bench_needs_labels(capsys, tmp_path, make_image, trained_model_dir):
    for n in range(4):
        make_image(tmp_path / "flat" / f"{n}.png", (100, 100, 100), seed=n)
    code = main(["bench", "--data", str(tmp_path / "flat"), "--model", str(trained_model_dir),
                 "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2
    assert "no labelled images" in capsys.readouterr().err


def test_ranked_ids_are_the_flat_index_order():
    rng = np.random.default_rng(3)
    database = rng.random((300, 12), dtype=np.float32)
    queries = rng.random((7, 12), dtype=np.float32)
    index = faiss.IndexFlatL2(12)
    index.add(database)
    _, expected = index.search(queries, 300)
    assert np.array_equal(ranked_ids(database, queries), expected)


def test_split_sampled_from_data_removes_the_queries(image_folder):
    split = split_queries(image_folder, None, 4, seed=1)
    queries, database = set(split.queries.paths), set(split.database.paths)
    assert len(queries) == 12 and not queries & database
    assert len(queries | database) == 36  # every labelled file, the stray one left out
    assert split.unlabelled == 1
    assert set(split_queries(image_folder, None, 4, seed=1).queries.paths) == queries
    assert set(split_queries(image_folder, None, 4, seed=2).queries.paths) != queries


def test_split_with_a_query_folder(tmp_path, image_folder, make_image):
    for label, colour in (("red", (220, 30, 30)), ("blue", (30, 40, 220))):
        for n in range(5):
            make_image(tmp_path / "q" / label / f"{n}.png", colour, seed=500 + n)
    every = split_queries(image_folder, tmp_path / "q", None, seed=0)
    assert len(every.queries.paths) == 10 and len(every.database.paths) == 36
    sampled = split_queries(image_folder, tmp_path / "q", 2, seed=0)
    assert len(sampled.queries.paths) == 4 and len(sampled.database.paths) == 36
    assert all(Path(p).is_relative_to(tmp_path / "q") for p in sampled.queries.paths)


def _two_classes(root: Path, make_image, per_class: int, seed: int) -> list[Path]:
    """``root/red/<n>.png`` and ``root/blue/<n>.png``, every image distinct."""
    colours = (("red", (220, 30, 30)), ("blue", (30, 40, 220)))
    return [
        make_image(root / label / f"{n}.png", colour, seed=seed + 10 * c + n)
        for c, (label, colour) in enumerate(colours)
        for n in range(per_class)
    ]


def test_the_data_folder_as_query_folder_is_refused(
    capsys, tmp_path, image_folder, trained_model_dir
):
    alias = tmp_path / "alias"
    alias.symlink_to(image_folder)  # another spelling of the same folder
    with pytest.raises(BenchmarkError, match="leave out --query-data"):
        split_queries(image_folder, alias, None, seed=0)
    code = main(["bench", "--data", str(image_folder), "--query-data", f"{image_folder}/",
                 "--model", str(trained_model_dir), "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "is the --data folder" in err and "leave out --query-data" in err
    assert not (tmp_path / "out").exists()


def test_database_copies_of_queries_are_removed(tmp_path, make_image, caplog):
    data = _two_classes(tmp_path / "data", make_image, 4, seed=700)
    _two_classes(tmp_path / "q", make_image, 1, seed=800)
    shutil.copy(data[1], tmp_path / "q" / "red" / "renamed.png")
    shutil.copy(data[6], tmp_path / "q" / "red" / "other_class.png")  # same bytes, any label
    # the size of a query (renamed.png), one byte different: not a copy, so it stays
    near = bytearray(data[1].read_bytes())
    near[-1] ^= 1
    (tmp_path / "data" / "red" / "near.png").write_bytes(bytes(near))
    with caplog.at_level("WARNING", logger="latentsearch.indexer.bench.data"):
        split = split_queries(tmp_path / "data", tmp_path / "q", None, seed=0)
    assert len(split.queries.paths) == 4
    expected = {p.resolve() for p in data} - {data[1].resolve(), data[6].resolve()}
    assert set(split.database.paths) == expected | {(tmp_path / "data/red/near.png").resolve()}
    assert split.query_copies_removed == 2
    assert "removed 2 database images identical to a query" in caplog.text


def test_a_query_folder_inside_the_data_folder_leaves_the_database(
    tmp_path, make_image, trained_model_dir
):
    data = tmp_path / "data"
    _two_classes(data, make_image, 4, seed=900)
    _two_classes(data / "held-out", make_image, 2, seed=950)  # label "held-out" in --data
    out = tmp_path / "report"
    code = main(["bench", "--data", str(data), "--query-data", str(data / "held-out"),
                 "--model", str(trained_model_dir), "--k", "3", "--out", str(out),
                 "--workers", "2"])  # fmt: skip
    assert code == 0
    summary = json.loads((out / "report.json").read_text())["data"]
    assert summary["database_duplicates_of_queries_removed"] == 4
    assert summary["database_size"] == 8 and summary["queries"] == 4
    assert set(summary["database_per_class"]) == {"red", "blue"}
    assert "identical to a query, removed: 4" in (out / "report.md").read_text()


def test_sampling_from_the_database_leaves_one_per_class():
    files = {"a": [Path(f"a/{i}") for i in range(3)], "b": [Path(f"b/{i}") for i in range(10)]}
    chosen = sample_per_class(files, 5, seed=0, leave_one=True)
    assert sum(p.parent.name == "a" for p in chosen) == 2
    assert sum(p.parent.name == "b" for p in chosen) == 5
    assert len(sample_per_class(files, 5, seed=0, leave_one=False)) == 8


def test_config_checks():
    assert BenchConfig(data="d", models=("m",), ks=(100, 10, 10)).ks == (10, 100)
    with pytest.raises(BenchmarkError):
        BenchConfig(data="d", models=("m",), ks=(0, 10))
    with pytest.raises(BenchmarkError):
        BenchConfig(data="d", models=())


def test_model_names_stay_distinct():
    assert model_names(("/a/model", "/b/model", "/c/other")) == ["a/model", "b/model", "other"]
    assert model_names(("/a/m", "/a/m")) == ["a/m", "a/m #2"]


def test_model_names_of_relative_paths_name_the_parent(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert model_names(("model", str(tmp_path / "model"))) == [
        f"{tmp_path.name}/model",
        f"{tmp_path.name}/model #2",
    ]


def test_examples_cycle_through_the_classes():
    labels = np.array([0, 0, 0, 1, 1, 2])
    rows = pick_examples(labels, 4, seed=0)
    assert [labels[r] for r in rows[:3]] == [0, 1, 2]
    assert len(set(rows)) == 4


def test_recall_against_exact_counts_shared_ids():
    found = np.array([[1, 2, 3, 4], [9, 8, 7, 6]])
    exact = np.array([[4, 3, 2, 1], [1, 2, 3, 6]])
    # top 2: {1,2} vs {4,3} -> 0, {9,8} vs {1,2} -> 0; top 4: 4/4 and 1/4
    assert recall_against_exact(found, exact, 2) == 0.0
    assert recall_against_exact(found, exact, 4) == pytest.approx((1 + 0.25) / 2)


def test_an_ivf_index_probing_every_list_matches_exact_search():
    rng = np.random.default_rng(5)
    database = rng.random((400, 16), dtype=np.float32)
    queries = rng.random((20, 16), dtype=np.float32)
    exact = ranked_ids(database, queries)[:, :10]
    figures = approximate_figures("IVF1,Flat", database, queries, exact, (5, 10), 5)
    assert figures["recall_vs_exact"] == {"5": 1.0, "10": 1.0}
    assert figures["bytes_per_image"] >= 16 * 4
    hnsw = approximate_figures("HNSW32", database, queries, exact, (5, 10), 5)
    assert 0.5 < hnsw["recall_vs_exact"]["10"] <= 1.0


def test_bench_index_type_reaches_the_config():
    from latentsearch.indexer.cli.parser import build_parser

    args = build_parser().parse_args(
        ["bench", "--data", "d", "--model", "m", "--model", "n", "--index-type", "ivf"]
    )
    assert args.index_type == "ivf" and [str(m) for m in args.model] == ["m", "n"]
    with pytest.raises(BenchmarkError, match="index type"):
        BenchConfig(data="d", models=("m",), index_type="lsh")


def _method(details=None):
    from latentsearch.indexer.bench.methods import Method

    vectors = np.array([[3.0, 4.0], [0.0, 2.0]], np.float32)
    return Method("m", "raw", "m", lambda px: px, vectors, vectors[:1], 0.0, details or {})


def test_cosine_ranks_on_unit_rows_and_binary_codes_stay_hamming():
    from latentsearch.indexer.bench.methods import with_metric

    cosine = with_metric(_method(), "cosine")
    np.testing.assert_allclose(np.linalg.norm(cosine.database, axis=1), 1.0)
    np.testing.assert_allclose(cosine.embed(np.array([[0.0, 5.0]])), [[0.0, 1.0]])
    assert cosine.label.endswith("cosine")
    bits = with_metric(_method({"binary_bits": 16}), "cosine")
    assert bits.database[0].tolist() == [3.0, 4.0]  # untouched: 0/1 rows keep Hamming order
    with pytest.raises(BenchmarkError, match="metric"):
        BenchConfig(data="d", models=("m",), metric="manhattan")

"""The ``latentsearch`` command line, run in-process through ``cli.main``."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from latentsearch.encoder.training import load_model
from latentsearch.encoder.versioned_dir import current_build
from latentsearch.indexer.cli.parser import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory, image_folder, trained_model_dir):
    """An index written by ``latentsearch index`` (not by the shared fixture)."""
    out = tmp_path_factory.mktemp("cli") / "index"
    code = main(
        ["index", "--data", str(image_folder), "--model", str(trained_model_dir),
         "--out", str(out), "--batch-size", "16", "--workers", "2"]
    )  # fmt: skip
    assert code == 0
    return out


def test_index_prints_a_summary(capsys, tmp_path, image_folder, trained_model_dir):
    data = tmp_path / "data"
    shutil.copytree(image_folder, data)
    (data / "red" / "bad.jpg").write_bytes(b"\xff\xd8 not really")
    code, out, err = run(
        capsys, "index", "--data", data, "--model", trained_model_dir, "--out", tmp_path / "ix"
    )
    assert code == 0, err
    count = len(list(image_folder.rglob("*.png")))
    assert f"indexed {count} images" in out and "1 skipped" in out
    assert "bad.jpg" in out


def test_search_json(capsys, cli_index, image_folder):
    query = image_folder / "green" / "04.png"
    code, out, err = run(capsys, "search", query, "--index", cli_index, "-k", "4", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert {"latent", "raw", "latent_ms", "raw_ms"} <= set(data)
    for column in ("latent", "raw"):
        hits = data[column]
        assert len(hits) == 4
        assert all({"path", "label", "distance", "rank"} <= set(hit) for hit in hits)
        assert Path(hits[0]["path"]) == query.resolve()
        assert hits[0]["label"] == "green"
        assert hits[0]["distance"] == pytest.approx(0.0, abs=1e-4)


def test_search_text(capsys, cli_index, image_folder):
    query = image_folder / "stray.png"
    code, out, _ = run(capsys, "search", query, "--index", cli_index, "-k", "2")
    assert code == 0
    lines = out.splitlines()
    headings = [i for i, line in enumerate(lines) if not line.startswith(" ")]
    assert len(headings) == 2
    assert lines[headings[0]].startswith("latent codes (") and lines[headings[0]].endswith("ms):")
    assert lines[headings[1]].startswith("raw pixels (")
    assert len(lines) == 2 + 2 * 2
    assert str(query.resolve()) in lines[1] and " - " in lines[1]  # unlabelled shows "-"


def test_search_missing_index(capsys, tmp_path, image_folder):
    missing = tmp_path / "no-index-here"
    code, out, err = run(capsys, "search", image_folder / "stray.png", "--index", missing)
    assert code == 2
    assert out == ""
    assert err.startswith("latentsearch search: error:")
    assert str(missing) in err and "latentsearch index" in err
    assert "Traceback" not in err


def test_search_non_image(capsys, tmp_path, built_index_dir):
    notes = tmp_path / "notes.png"
    notes.write_text("these are my notes, not a picture")
    code, _, err = run(capsys, "search", notes, "--index", built_index_dir)
    assert code == 2
    assert "error: cannot read image" in err and "notes.png" in err
    assert "Traceback" not in err


def test_search_missing_query_file(capsys, tmp_path, built_index_dir):
    code, _, err = run(capsys, "search", tmp_path / "gone.jpg", "--index", built_index_dir)
    assert code == 2 and "file not found" in err


def test_train_rejects_bad_config(capsys, tmp_path, image_folder):
    out_dir = tmp_path / "model"
    code, _, err = run(
        capsys, "train", "--data", image_folder, "--out", out_dir,
        "--image-size", "20", "--filters", "32,64,128",
    )  # fmt: skip
    assert code == 2
    assert "latentsearch train: error:" in err and "multiple of 8" in err
    assert "Traceback" not in err
    assert not out_dir.exists()


def test_train_no_mirror_keeps_left_and_right_apart(capsys, tmp_path, image_folder):
    out_dir = tmp_path / "model"
    code, out, _ = run(
        capsys, "train", "--data", image_folder, "--out", out_dir, "--image-size", "16",
        "--filters", "8,16", "--latent-dim", "8", "--epochs", "1", "--no-mirror",
    )  # fmt: skip
    assert code == 0, out
    build = out_dir / (out_dir / "CURRENT").read_text().strip()
    assert json.loads((build / "train_config.json").read_text())["mirror"] is False
    layer_names = [layer.name for layer in load_model(out_dir).encoder.layers]
    assert "code" in layer_names and "mirror" not in layer_names


def test_train_chooses_the_input_size_from_the_photos(capsys, tmp_path, make_image):
    folder, out_dir = tmp_path / "photos", tmp_path / "model"
    for n in range(12):
        make_image(folder / f"{n:02d}.png", (40 * (n % 4), 90, 160), seed=n, size=72)
    code, out, _ = run(
        capsys, "train", "--data", folder, "--out", out_dir,
        "--filters", "8,16", "--latent-dim", "8", "--epochs", "1", "--no-mirror",
    )  # fmt: skip
    assert code == 0, out
    build = out_dir / (out_dir / "CURRENT").read_text().strip()
    assert json.loads((build / "model_config.json").read_text())["image_size"] == 64
    reasons = json.loads((build / "train_config.json").read_text())["reasons"]
    assert "72 px" in reasons["image_size"] and "filters" not in reasons


def test_bad_filters_is_an_argument_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "m"), "--filters", "8,x"])
    assert stop.value.code == 2
    assert "comma-separated integers" in capsys.readouterr().err


def test_index_refuses_a_foreign_out_dir(capsys, tmp_path, image_folder, trained_model_dir):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(b"mine")
    code, _, err = run(
        capsys, "index", "--data", image_folder, "--model", trained_model_dir, "--out", photos
    )
    assert code == 2 and "holiday.jpg" in err
    assert [p.name for p in photos.iterdir()] == ["holiday.jpg"]


def test_console_script_help():
    script = Path(sys.executable).with_name("latentsearch")
    command = str(script) if script.exists() else shutil.which("latentsearch")
    assert command, "the latentsearch console script is not installed"
    done = subprocess.run([command, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    commands = (
        "train",
        "index",
        "search",
        "duplicates",
        "outliers",
        "denoise",
        "app",
        "api",
        "demo",
        "sample",
        "bench",
    )
    assert "{" + ",".join(commands) + "}" in done.stdout
    for name in commands:
        assert any(line.split()[:1] == [name] for line in done.stdout.splitlines()), name


@pytest.mark.parametrize("command", ["search", "app", "api"])
def test_a_model_folder_given_as_an_index_gets_a_plain_message(
    capsys, command, trained_model_dir, image_folder
):
    words = [command, "--index", trained_model_dir]
    if command == "search":
        words.insert(1, image_folder / "red" / "01.png")
    code, out, err = run(capsys, *words)
    assert code == 2 and "holds a trained model, not an index" in err
    assert "Errno" not in err and "Traceback" not in err and "serving" not in out


def test_commands_print_no_tensorflow_start_up_lines(built_index_dir, image_folder):
    image = image_folder / "red" / "01.png"
    command = [sys.executable, "-m", "latentsearch.indexer.cli.parser", "search", str(image),
               "--index", str(built_index_dir), "-k", "1"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "latent codes" in done.stdout
    for noise in ("I0000", "E0000", "oneDNN", "cuInit", "absl::InitializeLog"):
        assert noise not in done.stderr, done.stderr


# What a GPU machine without TensorFlow lacks (docs/gpu.md); the index and search commands
# must not need any of it. A finder first on the import path makes them absent.
ABSENT = ("tensorflow", "streamlit", "matplotlib", "mlxtend", "pyarrow", "ray")
WITHOUT = """
import json, sys
from importlib.abc import MetaPathFinder

absent = set(sys.argv[1].split(","))


class Absent(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in absent:
            raise ModuleNotFoundError(f"No module named {name!r} (absent in this test)")


sys.meta_path.insert(0, Absent())
from latentsearch.indexer.cli.parser import main

for words in json.loads(sys.argv[2]):
    if main(words):
        sys.exit(f"failed: {words}")
"""


def test_index_and_search_run_on_jax_without_tensorflow_and_the_page_libraries(
    tmp_path, image_folder, trained_model_dir
):
    pytest.importorskip("jax", reason="the test extra brings jax[cpu]")
    out = tmp_path / "index"
    query = image_folder / "green" / "02.png"
    steps = [["index", "--data", str(image_folder), "--model", str(trained_model_dir),
              "--out", str(out), "--workers", "2"],
             ["search", str(query), "--index", str(out), "-k", "1", "--json"]]  # fmt: skip
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    command = [sys.executable, "-c", WITHOUT, ",".join(ABSENT), json.dumps(steps)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout[done.stdout.index("{") :])
    assert found["latent"][0]["path"] == str(query.resolve())
    manifest = json.loads((current_build(out) / "manifest.json").read_text())
    assert (
        manifest["versions"]["keras_backend"] == "jax" and "tensorflow" not in manifest["versions"]
    )


def test_train_flags_default_to_the_configs_and_name_their_fields():
    """The parser reads choices and defaults from the config dataclasses: nothing restated."""
    from latentsearch.encoder.config import VARIANTS, LossConfig, ModelConfig, TrainConfig
    from latentsearch.indexer.cli.parser import build_parser

    parser = build_parser()
    args = parser.parse_args(["train", "--data", "d", "--out", "m"])
    model, train, loss = ModelConfig(), TrainConfig(), LossConfig()
    assert (args.latent_dim, args.decoder, args.variant) == (
        model.latent_dim,
        model.decoder,
        model.variant,
    )
    assert (args.learning_rate, args.validation_split, args.search_code) == (
        train.learning_rate,
        train.validation_split,
        train.search_code,
    )
    for field in ("noise_std", "corruption", "sparsity", "sparsity_target", "beta", "commitment"):
        assert getattr(args, field) == getattr(loss, field), field
    for variant in VARIANTS:
        assert parser.parse_args(["train", "--data", "d", "--out", "m", "--variant", variant])
    # the old flag name still works
    old = parser.parse_args(["train", "--data", "d", "--out", "m", "--rho", "0.2"])
    assert old.sparsity_target == 0.2

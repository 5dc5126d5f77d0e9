"""Every user error of the CLI is one line on stderr and exit status 2, never a traceback."""

import subprocess
import sys

import pytest

from latentsearch.indexer.cli.parser import main


def run_cli(capsys, argv: list) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:  # argparse rejects a bad argument by exiting
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def places(tmp_path_factory, image_folder, trained_model_dir, built_index_dir) -> dict:
    root = tmp_path_factory.mktemp("cli-errors")
    notes = root / "notes"
    notes.mkdir()
    (notes / "a.jpg").write_text("not a picture")
    (notes / "b.txt").write_text("nor this")
    return {
        "tmp": root,
        "images": image_folder,
        "photo": next(p for p in sorted(image_folder.rglob("*")) if p.suffix == ".png"),
        "model": trained_model_dir,
        "index": built_index_dir,
        "notes": notes,
        "nowhere": root / "nowhere",
    }


# each case: (argv from the places, words the one line must hold)
CASES = {
    "sample -n 0": (
        lambda p: ["sample", "--model", p["model"], "-n", "0", "--out", p["tmp"] / "g.png"],
        "expected a positive integer",
    ),
    "sample from a model that cannot generate": (
        lambda p: ["sample", "--model", p["model"], "--out", p["tmp"] / "g.png"],
        "latentsearch sample: error:",
    ),
    "sample from a missing model": (
        lambda p: ["sample", "--model", p["nowhere"], "--out", p["tmp"] / "g.png"],
        "latentsearch sample: error:",
    ),
    "an unknown command": (lambda p: ["frobnicate"], "invalid choice"),
    "search -k 0": (
        lambda p: ["search", p["photo"], "--index", p["index"], "-k", "0"],
        "expected a positive integer",
    ),
    "search a missing index": (
        lambda p: ["search", p["photo"], "--index", p["nowhere"]],
        "latentsearch search: error:",
    ),
    "search with a file that is not an image": (
        lambda p: ["search", p["notes"] / "a.jpg", "--index", p["index"]],
        "cannot read image",
    ),
    "search with a model as the index": (
        lambda p: ["search", p["photo"], "--index", p["model"]],
        "latentsearch search: error:",
    ),
    "train on a missing folder": (
        lambda p: ["train", "--data", p["nowhere"], "--out", p["tmp"] / "m"],
        "latentsearch train: error:",
    ),
    "train on a folder with no readable image": (
        lambda p: ["train", "--data", p["notes"], "--out", p["tmp"] / "m"],
        "latentsearch train: error:",
    ),
    "train with --latent-dim 0": (
        lambda p: ["train", "--data", p["images"], "--out", p["tmp"] / "m", "--latent-dim", "0"],
        "expected a positive integer",
    ),
    "index with a missing model": (
        lambda p: [
            "index",
            "--data",
            p["images"],
            "--model",
            p["nowhere"],
            "--out",
            p["tmp"] / "i",
        ],
        "latentsearch index: error:",
    ),  # fmt: skip
    "index a folder with no readable image": (
        lambda p: ["index", "--data", p["notes"], "--model", p["model"], "--out", p["tmp"] / "i"],
        "latentsearch index: error:",
    ),
    "index with a memory budget that is not a size": (
        lambda p: [
            "index",
            "--data",
            p["images"],
            "--model",
            p["model"],
            "--out",
            p["tmp"] / "i",
            "--memory-budget",
            "lots",
        ],
        "latentsearch index: error:",
    ),  # fmt: skip
    "duplicates written to a file that is not csv or json": (
        lambda p: [
            "duplicates",
            "--index",
            p["index"],
            "--threshold",
            "0.1",
            "--out",
            p["tmp"] / "groups.txt",
        ],
        "must end in .csv or .json, not",
    ),  # fmt: skip
    "duplicates with a negative threshold": (
        lambda p: ["duplicates", "--index", p["index"], "--threshold", "-1"],
        "expected a number of 0 or more",
    ),
    "duplicates of a missing index": (
        lambda p: ["duplicates", "--index", p["nowhere"]],
        "latentsearch duplicates: error:",
    ),
    "bench on a missing folder": (
        lambda p: ["bench", "--data", p["nowhere"], "--model", p["model"], "--out", p["tmp"] / "b"],
        "latentsearch bench: error:",
    ),
    "bench with --knn 0": (
        lambda p: ["bench", "--data", p["images"], "--model", p["model"], "--knn", "0"],
        "expected a positive integer",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_user_error_is_one_line_and_exit_status_2(capsys, places, case):
    argv, words = CASES[case]
    code, out, err = run_cli(capsys, argv(places))
    assert code == 2, (code, err)
    assert out == ""
    assert "Traceback" not in err
    # what a terminal shows: a progress bar that erased itself with \r leaves nothing
    shown = [line.rsplit("\r", 1)[-1] for line in err.split("\n") if line.strip()]
    assert len(shown) == 1, err
    assert shown[0].startswith("latentsearch") and words in shown[0], err


def test_the_argument_error_line_points_to_help(capsys):
    _, _, err = run_cli(capsys, ["sample", "-n", "0"])
    assert err.strip().endswith("(see latentsearch sample --help)")


def test_the_library_refuses_zero_images_too(trained_model_dir):
    from latentsearch.encoder.errors import UserError
    from latentsearch.encoder.sampling import sample_grid
    from latentsearch.encoder.training import load_model

    with pytest.raises(UserError, match="at least 1"):
        sample_grid(load_model(trained_model_dir), 0)


def test_every_user_error_derives_from_the_one_base():
    """The classes the CLI, API and page show as messages share one base (no hand list)."""
    from latentsearch.encoder.errors import USER_ERRORS, LatentSearchError, UserError
    from latentsearch.indexer.files.images import ImageReadError
    from latentsearch.indexer.pipeline.build import NothingToIndexError
    from latentsearch.indexer.store.disk import DiskFullError
    from latentsearch.indexer.store.manifest import IndexLoadError

    for error in (ImageReadError, NothingToIndexError, IndexLoadError, DiskFullError):
        assert issubclass(error, UserError) and issubclass(error, LatentSearchError)
    assert issubclass(DiskFullError, OSError)  # still caught where OSError is
    assert USER_ERRORS[0] is UserError


def test_the_command_ends_an_index_error_with_its_line_and_status(places):
    """`latentsearch index` ends its process without Python's teardown: the error line and
    the exit status must still come out."""
    words = ["index", "--data", places["nowhere"], "--model", places["model"]]
    words += ["--out", places["tmp"] / "never"]
    command = [sys.executable, "-m", "latentsearch.indexer.cli", *map(str, words)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("latentsearch index: error:")
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr

"""`latentsearch app` with one index directory or several."""

from pathlib import Path

from latentsearch.indexer.cli import build_parser
from latentsearch.indexer.serve import streamlit_command


def test_app_takes_index_repeated():
    args = build_parser().parse_args(["app", "--index", "a", "--index", "b", "--port", "9"])
    assert args.index == [Path("a"), Path("b")] and args.port == 9


def test_streamlit_command_passes_every_index_to_the_page(tmp_path):
    command = streamlit_command([tmp_path / "a", tmp_path / "b"], port=8600)
    page_args = command[command.index("--") + 1 :]
    assert page_args == ["--index", str(tmp_path / "a"), "--index", str(tmp_path / "b")]
    assert command[command.index("--server.port") + 1] == "8600"
    single = streamlit_command(tmp_path / "a")
    assert single[single.index("--") + 1 :] == ["--index", str(tmp_path / "a")]

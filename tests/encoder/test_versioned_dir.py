"""Atomic build directories: publish, failure, abandoned builds, foreign folders, pruning."""

import os
import re

import pytest

from latentsearch.encoder.versioned_dir import (
    POINTER,
    NoBuildError,
    NotOurDirectoryError,
    current_build,
    new_build,
)

BUILD_NAME = re.compile(r"^v-\d{8}T\d{6}-\d+-[0-9a-f]{6}$")


def build(root, content):
    with new_build(root) as staging:
        assert staging.name.endswith(".partial") and not any(staging.iterdir())
        (staging / "data.txt").write_text(content)
    return current_build(root)


def builds(root):
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def dead_pid():
    pid = 999_999
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


def test_new_build_publishes_and_current_build_resolves(tmp_path):
    root = tmp_path / "out" / "nested"
    folder = build(root, "first")

    assert folder.parent == root
    assert BUILD_NAME.match(folder.name)
    assert (root / POINTER).read_text().strip() == folder.name
    assert (folder / "data.txt").read_text() == "first"
    assert builds(root) == [folder.name]
    assert not list(root.glob(".*.tmp"))  # the pointer's temporary file is gone


def test_current_build_errors(tmp_path):
    with pytest.raises(NoBuildError, match="does not exist"):
        current_build(tmp_path / "missing")
    with pytest.raises(NoBuildError, match="no CURRENT"):
        current_build(tmp_path)
    (tmp_path / POINTER).write_text("../../etc\n")
    with pytest.raises(NoBuildError, match="not a complete build"):
        current_build(tmp_path)
    (tmp_path / POINTER).write_text("v-20260101T000000-1-abcdef\n")  # well-formed, absent
    with pytest.raises(NoBuildError, match="not a complete build"):
        current_build(tmp_path)


def test_failed_build_keeps_previous_and_removes_staging(tmp_path):
    first = build(tmp_path, "good")
    staged = []

    with pytest.raises(RuntimeError, match="boom"):
        with new_build(tmp_path) as staging:
            staged.append(staging)
            (staging / "data.txt").write_text("half")
            raise RuntimeError("boom")

    assert not staged[0].exists()
    assert current_build(tmp_path) == first
    assert (first / "data.txt").read_text() == "good"
    assert builds(tmp_path) == [first.name]


def test_first_build_failing_leaves_no_build(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with new_build(tmp_path):
            raise KeyboardInterrupt
    assert builds(tmp_path) == []
    with pytest.raises(NoBuildError):
        current_build(tmp_path)


def test_abandoned_partial_of_dead_process_is_removed(tmp_path):
    first = build(tmp_path, "good")
    abandoned = tmp_path / f"v-20260101T000000-{dead_pid()}-abcdef.partial"
    (abandoned / "sub").mkdir(parents=True)
    (abandoned / "sub" / "half.bin").write_bytes(b"\0" * 10)
    # a build still being written by a live process must survive
    running = tmp_path / f"v-20260101T000000-{os.getppid()}-fedcba.partial"
    running.mkdir()

    second = build(tmp_path, "new")

    assert not abandoned.exists()
    assert running.exists()
    assert current_build(tmp_path) == second
    assert first.exists()


def test_foreign_folder_is_refused_and_untouched(tmp_path):
    photos = tmp_path / "photos"
    (photos / "2019").mkdir(parents=True)
    (photos / "holiday.jpg").write_bytes(b"jpeg bytes")
    (photos / "2019" / "beach.png").write_bytes(b"png bytes")
    (photos / "v-20260101T000000-1-abcdef.partial").mkdir()  # looks like ours, is not
    before = sorted(p.relative_to(photos) for p in photos.rglob("*"))

    with pytest.raises(NotOurDirectoryError, match="holiday.jpg|2019"):
        with new_build(photos):
            pytest.fail("a build must not start in a foreign folder")

    assert sorted(p.relative_to(photos) for p in photos.rglob("*")) == before
    assert (photos / "holiday.jpg").read_bytes() == b"jpeg bytes"
    assert isinstance(NotOurDirectoryError("x"), FileExistsError)


def test_old_builds_pruned_to_current_and_previous(tmp_path):
    made = [build(tmp_path, str(i)) for i in range(2)]
    assert builds(tmp_path) == sorted(p.name for p in made)
    for i in range(2, 6):
        made.append(build(tmp_path, str(i)))
        # exactly the new build and the one it replaced, whatever their names sort as
        assert builds(tmp_path) == sorted([made[-1].name, made[-2].name])
        assert (current_build(tmp_path) / "data.txt").read_text() == str(i)
        assert (made[-2] / "data.txt").read_text() == str(i - 1)


def test_unpublished_complete_build_is_pruned_not_the_previous(tmp_path):
    # a build killed between its rename and the pointer switch: complete, never current
    first = build(tmp_path, "first")
    orphan = tmp_path / "v-29991231T235959-1-abcdef"
    orphan.mkdir()

    second = build(tmp_path, "second")

    assert not orphan.exists()
    assert builds(tmp_path) == sorted([first.name, second.name])

"""The raw-pixel baseline as segment files: written in parts, searched as one index."""

import numpy as np
import pytest

from latentsearch.indexer.indexes import pixel_segments
from latentsearch.indexer.indexes.faiss_helpers import (
    IndexFileError,
    add_vectors,
    new_index,
    new_pixel_index,
    search,
    stored_ids,
    stored_vectors,
    write_index,
)
from latentsearch.indexer.indexes.pixel_grid import PixelGrid
from latentsearch.indexer.indexes.pixel_segments import (
    PixelSegmentWriter,
    carry_segments,
    read_segments,
    segment_name,
    segment_names,
    write_removed,
)

GRID = PixelGrid(image_size=2, channels=3, side=2)  # full size: the pixels stored as given
DIM = GRID.dim


def pixels(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, DIM)).astype(np.float32) / 255


def written(folder, rows: np.ndarray, ids: np.ndarray, batch: int = 5) -> list[str]:
    writer = PixelSegmentWriter(folder, GRID)
    for start in range(0, len(rows), batch):
        writer.add(rows[start : start + batch], ids[start : start + batch])
    writer.close()
    assert writer.ntotal == len(rows)
    return segment_names(path.name for path in folder.iterdir())


@pytest.fixture
def small_segments(monkeypatch):
    monkeypatch.setattr(pixel_segments, "SEGMENT_ROWS", 20)


def test_segments_are_named_in_the_order_written():
    names = ["raw-00010.faiss", "latent.faiss", "raw-00002.faiss", "raw.faiss", "raw-x.faiss"]
    assert segment_names(names) == ["raw.faiss", "raw-00002.faiss", "raw-00010.faiss"]


def test_segments_search_and_return_what_one_index_does(tmp_path, small_segments):
    rows, ids = pixels(90), np.arange(90) + 5
    names = written(tmp_path, rows, ids)
    assert names == [segment_name(n) for n in range(5)]  # 20, 20, 20, 20 and 10 rows
    whole = new_pixel_index(DIM)
    add_vectors(whole, rows, ids)
    segmented = read_segments(tmp_path, names)

    assert segmented.ntotal == 90 and segmented.d == DIM
    queries = pixels(15, seed=1)
    far, near = search(segmented, queries, 8)
    expected_far, expected_near = search(whole, queries, 8)
    np.testing.assert_array_equal(near, expected_near)
    np.testing.assert_allclose(far, expected_far, rtol=1e-6)
    np.testing.assert_allclose(
        stored_vectors(segmented, ids[[0, 33, 89]]), rows[[0, 33, 89]], atol=1e-6
    )
    np.testing.assert_array_equal(np.sort(stored_ids(segmented)), ids)


def test_removed_rows_are_never_found_or_returned(tmp_path, small_segments):
    rows, ids = pixels(50), np.arange(50)
    names = written(tmp_path, rows, ids)
    write_removed(tmp_path, np.array([3, 27, 41]))
    segmented = read_segments(tmp_path, names)

    assert segmented.ntotal == 47
    _, near = search(segmented, rows[[3, 27, 41, 4]], 10)
    assert not np.isin(near, [3, 27, 41]).any()
    assert near[3, 0] == 4  # the others still find themselves
    with pytest.raises(RuntimeError, match="removed"):
        segmented.reconstruct(27)
    with pytest.raises(RuntimeError, match="not in"):
        segmented.reconstruct(50)


def test_an_update_links_kept_segments_and_rewrites_mostly_removed_ones(tmp_path, small_segments):
    previous, staging = tmp_path / "old", tmp_path / "new"
    previous.mkdir(), staging.mkdir()
    rows, ids = pixels(60), np.arange(60)
    names = written(previous, rows, ids)  # segments of ids 0-19, 20-39, 40-59
    write_removed(previous, np.array([1]))
    gone = np.array([2, *range(20, 32)])  # one row of the first segment, 12 of the second

    carried = carry_segments(previous, staging, names, gone, GRID)
    carried.writer.add(pixels(5, seed=2), np.arange(60, 65))
    carried.writer.close()
    write_removed(staging, carried.removed)

    assert carried.linked == [segment_name(0), segment_name(2)]
    for name in carried.linked:  # the same file, not a copy
        assert (staging / name).stat().st_ino == (previous / name).stat().st_ino
    assert sorted(carried.removed) == [1, 2]  # the rewritten segment holds none of its 12
    new_names = segment_names(path.name for path in staging.iterdir())
    assert new_names == [segment_name(n) for n in (0, 2, 3)]  # 3: 8 kept rows + 5 new
    segmented = read_segments(staging, new_names)
    kept = np.setdiff1d(np.arange(65), [1, 2, *range(20, 32)])
    np.testing.assert_array_equal(np.sort(stored_ids(segmented)), kept)
    assert segmented.ntotal == len(kept)
    np.testing.assert_allclose(stored_vectors(segmented, [35, 59]), rows[[35, 59]], atol=1e-6)


def test_a_last_segment_not_yet_full_is_filled_by_the_next_update(tmp_path, small_segments):
    previous, staging = tmp_path / "old", tmp_path / "new"
    previous.mkdir(), staging.mkdir()
    rows = pixels(53)
    names = written(previous, rows[:50], np.arange(50))  # 20, 20 and 10 rows

    carried = carry_segments(previous, staging, names, np.empty(0, np.int64), GRID)
    carried.writer.add(rows[50:], np.arange(50, 53))
    carried.writer.close()

    assert carried.linked == [segment_name(0), segment_name(1)]
    new_names = segment_names(path.name for path in staging.iterdir())
    assert new_names == [segment_name(n) for n in (0, 1, 3)]  # not a fourth, 3-row segment
    segmented = read_segments(staging, new_names)
    np.testing.assert_array_equal(np.sort(stored_ids(segmented.parts[2])), np.arange(40, 53))
    np.testing.assert_allclose(stored_vectors(segmented, [45, 52]), rows[[45, 52]], atol=1e-6)


def test_a_damaged_list_of_removed_rows_is_a_clear_error(tmp_path):
    names = written(tmp_path, pixels(5), np.arange(5))
    (tmp_path / pixel_segments.REMOVED_FILE).write_bytes(b"not an array")
    with pytest.raises(IndexFileError, match="cannot read"):
        read_segments(tmp_path, names)


def test_an_older_builds_float_baseline_is_carried_into_a_segment(tmp_path):
    previous, staging = tmp_path / "old", tmp_path / "new"
    previous.mkdir(), staging.mkdir()
    rows = pixels(12)
    flat = new_index("Flat", DIM)  # the raw index of builds before the 8-bit baseline
    add_vectors(flat, rows[:10], np.arange(10))
    write_index(flat, previous / "raw.faiss")

    carried = carry_segments(previous, staging, ["raw.faiss"], np.array([4]), GRID)
    carried.writer.add(rows[10:], np.arange(10, 12))
    carried.writer.close()

    new_names = segment_names(path.name for path in staging.iterdir())
    assert new_names == [segment_name(0)] and carried.linked == []
    segmented = read_segments(staging, new_names)
    kept = np.setdiff1d(np.arange(12), [4])
    np.testing.assert_array_equal(np.sort(stored_ids(segmented)), kept)
    np.testing.assert_allclose(stored_vectors(segmented, kept), rows[kept], atol=1e-6)

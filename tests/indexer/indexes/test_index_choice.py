"""Choosing the FAISS index: pure functions of (count, dimension, memory budget)."""

import pytest

from latentsearch.indexer.indexes.choice import (
    FLAT_MAX_COUNT,
    IndexChoiceError,
    choose_index_key,
    flat_bytes,
    index_key_for,
    index_type_of,
    ivf_lists,
    parse_memory_budget,
    search_parameters,
    training_size,
)

GIB = 1 << 30


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("2G", 2 * GIB),
        ("512M", 512 << 20),
        ("1.5G", 3 * GIB // 2),
        ("64k", 64 << 10),
        ("2GB", 2 * GIB),
        ("2GiB", 2 * GIB),
        ("1000000", 1_000_000),
        (" 1T ", 1 << 40),
    ],
)
def test_parse_memory_budget(text, size):
    assert parse_memory_budget(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1G", "0", "0M", "2X", "G", "1.2.3G"])
def test_bad_memory_budget_is_a_clear_error(text):
    with pytest.raises(IndexChoiceError, match="memory budget"):
        parse_memory_budget(text)


def test_small_collections_stay_exact():
    assert choose_index_key(37, 8, GIB) == "Flat"
    assert choose_index_key(60_000, 64, 2 * GIB) == "Flat"
    assert choose_index_key(FLAT_MAX_COUNT, 64, 2 * GIB) == "Flat"


def test_large_collections_use_ivf_over_exact_vectors_when_they_fit():
    key = choose_index_key(1_000_000, 64, 2 * GIB)
    assert key == f"IVF{ivf_lists(1_000_000)},Flat" == "IVF1024,Flat"


def test_tight_budget_compresses_with_pq_that_fits():
    count, dim, budget = 1_000_000, 64, 32 << 20
    assert flat_bytes(count, dim) > budget
    key = choose_index_key(count, dim, budget)
    assert key.startswith("IVF1024,PQ")
    m = int(key.split("PQ")[1].removesuffix("np"))
    assert dim % m == 0
    assert count * (m + 8) <= budget  # the codes and their ids fit
    assert int(choose_index_key(count, dim, 64 << 20).split("PQ")[1][:-2]) > m  # more room: finer
    assert choose_index_key(count, dim, 2 * GIB) == "IVF1024,Flat"


def test_flat_that_does_not_fit_is_not_chosen_even_when_small():
    assert choose_index_key(50_000, 1024, 64 << 20) != "Flat"


def test_impossible_budget_is_a_clear_error():
    with pytest.raises(IndexChoiceError, match="raise --memory-budget"):
        choose_index_key(10_000_000, 64, 1 << 20)
    with pytest.raises(IndexChoiceError):
        choose_index_key(0, 64, GIB)


def test_choice_is_pure():
    args = (3_000_000, 128, 1 * GIB)
    assert len({choose_index_key(*args) for _ in range(5)}) == 1


@pytest.mark.parametrize(
    ("index_type", "count", "key"),
    [
        ("flat", 10_000_000, "Flat"),
        ("hnsw", 100, "HNSW32"),
        ("ivf", 60_000, "IVF256,Flat"),
        ("ivf", 37, "IVF1,Flat"),  # too few vectors for more lists
        ("ivfpq", 60_000, "IVF256,PQ32np"),
        ("auto", 60_000, "Flat"),
    ],
)
def test_explicit_index_types(index_type, count, key):
    assert index_key_for(index_type, count, 64, 2 * GIB) == key
    assert index_type_of(key) == (index_type if index_type != "auto" else "flat")


def test_ivfpq_on_few_vectors_uses_fewer_bits():
    key = index_key_for("ivfpq", 500, 8, GIB)
    assert key.startswith("IVF") and "PQ" in key and key.endswith("x3np")


def test_unknown_index_type():
    with pytest.raises(IndexChoiceError, match="unknown index type"):
        index_key_for("annoy", 10, 8, GIB)


def test_search_parameters_and_training_size():
    assert search_parameters("Flat") == {} and training_size("Flat", 10**6) == 0
    assert search_parameters("HNSW32") == {"efSearch": 128}
    assert search_parameters("IVF512,Flat") == {"nprobe": 64}
    assert search_parameters("IVF1024,Flat") == {"nprobe": 64}  # one list in 16 from 1,024
    assert search_parameters("IVF4096,PQ32np") == {"nprobe": 256}
    assert search_parameters("IVF4,Flat") == {"nprobe": 4}  # never more than the lists
    assert training_size("IVF1024,PQ16", 10**6) == 1024 * 64
    assert training_size("IVF256,Flat", 5_000) == 5_000  # never more than there are

"""Text, pictures and the chart of the search page, apart from Streamlit."""

import html

import numpy as np
import pytest

from latentsearch.encoder.adaptive import resolve_training
from latentsearch.encoder.config import TrainConfig
from latentsearch.indexer.indexes.pixel_grid import PixelGrid
from latentsearch.indexer.serve.outliers import OutlierScore
from latentsearch.indexer.serve.search import Hit
from latentsearch.indexer.store.manifest import Manifest
from latentsearch.webapp.charts import map_chart, map_frame
from latentsearch.webapp.views import (
    WORD_JOINER,
    collection_summary,
    column_caption,
    enlarge,
    hit_caption,
    literal,
    matches_label,
    outlier_text,
    outlier_warning,
    raw_column_title,
    short_names,
    training_summary,
    weak_model_caveat,
)


def test_hit_caption_names_rank_label_file_and_distance():
    hit = Hit(rank=2, id=7, path="/photos/cat/0001.jpg", label="cat", distance=1.23456)
    assert hit_caption(hit) == "#2 cat · 0001\\.jpg · d=1.235"  # shown as 0001.jpg
    unlabelled = Hit(rank=1, id=0, path="/photos/x.png", label=None, distance=0.0)
    assert hit_caption(unlabelled) == "#1 x\\.png · d=0.000"


HOSTILE = [
    "![t](x.png) [claim your prize](http:evil) <b>bold</b>.jpg",
    "<http:evil> www.evil.com **x** _y_ `z` ~s~ :red[r] $x^2$ :material/home:",
    "# heading\n- item\n> quote | a | b |\\",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_literal_names_render_as_their_own_text(name):
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py comes with keras")
    parser = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    rendered = parser.render(literal(name)).replace(WORD_JOINER, "")
    assert "<a" not in rendered and "<img" not in rendered and "<b>" not in rendered
    assert rendered.strip() == f"<p>{html.escape(name.replace(chr(10), ' '), quote=False)}</p>"


def test_column_caption_gives_time_and_precision_for_a_labelled_query():
    hits = [Hit(r, r, f"/p/{r}.jpg", lab, 0.1) for r, lab in enumerate(["cat", "dog", "cat"], 1)]
    assert column_caption(hits, 12.345, None) == "3 results in 12.3 ms"
    assert column_caption(hits, 5.0, "cat") == (
        "3 results in 5.0 ms · precision 67% (2 of 3 are cat)"
    )


def test_collection_summary_shows_counts_compression_model_and_build():
    manifest = Manifest(
        data_root="/photos",
        model_config={"image_size": 32, "channels": 3, "decoder": "bilinear", "variant": "vae"},
        model_sha256="ab",
        model_source="/m",
        latent_dim=64,
        raw_dim=3072,
        count=12345,
        skipped=[{"path": "/photos/bad.jpg", "reason": "truncated"}],
        index_type="HNSW32",
        build_seconds=83.4,
        created_at="2026-01-02T03:04:05+0000",
    )
    text = collection_summary(manifest)
    assert "**12,345** images" in text
    assert "48× smaller" in text
    assert "1 unreadable files skipped" in text
    assert "vae autoencoder, 32×32×3 input, bilinear decoder" in text
    assert "index: HNSW32, metric l2" in text
    assert "raw-pixel baseline: 32x32\n" in text
    assert "built: 2026-01-02T03:04:05+0000 in 83 s" in text


def test_a_shrunken_baseline_is_named_on_the_page():
    manifest = Manifest(
        data_root="/photos",
        model_config={"image_size": 32, "channels": 3, "decoder": "bilinear"},
        model_sha256="ab",
        model_source="/m",
        latent_dim=128,
        raw_dim=16 * 16 * 3,
        count=1_000_000,
    )
    text = collection_summary(manifest)
    assert "128 floats vs 3072 raw (24× smaller)" in text  # the model's input, not the grid
    assert "raw-pixel baseline: 16x16 (shrunk from 32x32)" in text
    assert raw_column_title(manifest.pixel_grid()) == "Raw pixels, 16×16"
    assert raw_column_title(PixelGrid(32, 3, 32)) == "Raw pixels"


def test_training_summary_gives_each_auto_choice_with_its_reason():
    chosen = resolve_training(TrainConfig(), 2062)
    text = training_summary(chosen)
    assert "- batch size: 32: the largest" in text
    assert "- epochs: 14: about 800 optimiser steps" in text
    assert training_summary(TrainConfig(epochs=3, batch_size=8)) == (
        "- 3 epochs of batch 8, as set"
    )


def test_outlier_texts_warn_only_above_the_threshold():
    usual = OutlierScore(error=0.012, percentile=40.0, collection_median=0.0105)
    assert outlier_warning(usual) is None
    assert outlier_text(usual) == (
        "Reconstruction error 0.0120 is higher than for 40% of the indexed images "
        "(their median: 0.0105)."
    )
    odd = OutlierScore(error=0.2, percentile=99.5, collection_median=0.0105)
    assert outlier_warning(odd).startswith("This photo looks unlike anything in the collection")


def test_enlarge_shows_the_models_pixels_as_blocks():
    grey = np.array([[[0.0], [1.0]], [[0.5], [0.25]]], np.float32)  # 2x2, one channel
    big = enlarge(grey, side=8)
    assert big.shape == (8, 8, 3) and big.dtype == np.uint8
    assert (big[:4, :4] == 0).all() and (big[:4, 4:] == 255).all()
    assert (big[4:, :4] == 128).all()


def test_map_chart_colours_by_label_and_marks_the_query():
    points = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
    frame = map_frame(points, ["cat", None], ["cat/1.jpg", "x.jpg"])
    assert frame["label"].tolist() == ["cat", "(no label)"]
    spec = map_chart(frame, query=(0.5, 0.5)).to_dict()
    assert len(spec["layer"]) == 2
    assert spec["layer"][0]["encoding"]["color"]["field"] == "label"
    assert spec["layer"][1]["mark"]["shape"] == "cross"
    assert len(map_chart(frame).to_dict()["layer"]) == 1


def test_matches_label_counts_in_plain_words():
    assert matches_label(1, 1) == "1 match"
    assert matches_label(3, 3) == "3 matches"
    assert matches_label(50, 6000) == "first 50 of 6,000 matches"


def test_collection_summary_gives_a_vqvae_code_as_its_grid_of_indices():
    config = {"image_size": 32, "channels": 3, "decoder": "bilinear", "variant": "vqvae"}
    config |= {"filters": [32, 64], "latent_dim": 1024, "codebook_size": 512, "codebook_dim": 16}
    manifest = Manifest(
        data_root="/photos",
        model_config=config,
        model_sha256="ab",
        model_source="/m",
        latent_dim=1024,
        raw_dim=3072,
        count=10,
    )
    assert "code: 8×8 codebook indices of 9 bits (72 bytes) vs 3072 raw" in collection_summary(
        manifest
    )


def test_short_names_tell_folders_apart_without_full_paths():
    assert short_names(["/srv/a/index", "/srv/b/other"]) == {
        "/srv/a/index": "index",
        "/srv/b/other": "other",
    }
    assert short_names(["/srv/a/index", "/srv/b/index"]) == {
        "/srv/a/index": "a/index",
        "/srv/b/index": "b/index",
    }
    assert short_names(["x"]) == {"x": "x"} and short_names([]) == {}


def test_a_weak_model_gets_a_caveat_and_a_trained_one_none():
    assert weak_model_caveat(None) is None and weak_model_caveat(0.18) is None
    assert "are 80% as far off as flat patches" in weak_model_caveat(0.8)

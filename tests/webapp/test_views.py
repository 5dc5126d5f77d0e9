"""Text helpers of the search page."""

from latentsearch.indexer.bundle import Manifest
from latentsearch.indexer.search import Hit
from latentsearch.webapp.views import collection_summary, hit_caption


def test_hit_caption_names_rank_label_file_and_distance():
    hit = Hit(rank=2, id=7, path="/photos/cat/0001.jpg", label="cat", distance=1.23456)
    assert hit_caption(hit) == "#2 cat · 0001.jpg · d=1.235"
    unlabelled = Hit(rank=1, id=0, path="/photos/x.png", label=None, distance=0.0)
    assert hit_caption(unlabelled) == "#1 x.png · d=0.000"


def test_collection_summary_shows_counts_and_compression():
    manifest = Manifest(
        data_root="/photos",
        model_config={"image_size": 32, "channels": 3, "decoder": "bilinear"},
        model_sha256="ab",
        model_source="/m",
        latent_dim=64,
        raw_dim=3072,
        count=12345,
        skipped=[{"path": "/photos/bad.jpg", "reason": "truncated"}],
    )
    text = collection_summary(manifest)
    assert "**12,345** images" in text
    assert "48× smaller" in text
    assert "1 unreadable files skipped" in text
    assert "bilinear decoder" in text

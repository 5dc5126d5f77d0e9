"""Leave-one-out P@10 of a trained model on a labelled folder: every image is a query
against all the others, by cosine, for the model's search code and for raw pixels.

The protocol of the sign-digit dataset's reference figure (docs/quality.md); ``bench``
holds queries out of the database instead.

    python benchmarks/leave_one_out.py MODEL_DIR DATA_DIR
"""

from __future__ import annotations

import sys

import numpy as np

from latentsearch.encoder.inference import encode_images
from latentsearch.encoder.training import load_model
from latentsearch.indexer.bench.metrics import precision_at_k
from latentsearch.indexer.bench.scoring import ranked_ids
from latentsearch.indexer.files.folders import read_folder_array
from latentsearch.indexer.indexes.faiss_helpers import prepare_vectors


def leave_one_out_p10(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Mean share of each row's 10 nearest other rows (cosine) that share its label."""
    unit = prepare_vectors(vectors, "cosine")
    ranked = ranked_ids(unit, unit)
    others = ranked[ranked != np.arange(len(unit))[:, None]].reshape(len(unit), -1)
    return float(precision_at_k(labels[others] == labels[:, None], 10).mean())


def main() -> None:
    model_dir, data_dir = sys.argv[1:3]
    model = load_model(model_dir, with_decoder=False)
    images, labels, _ = read_folder_array(data_dir, model.config.image_size, model.config.channels)
    labels = np.array(labels)
    latent = leave_one_out_p10(encode_images(model.encoder, images), labels)
    raw = leave_one_out_p10(images.reshape(len(images), -1), labels)
    print(f"{len(images)} images: latent P@10 {latent:.3f}, raw pixels {raw:.3f}, "
          f"{latent / raw:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()

"""How much a denoising model cleans: PSNR of noisy and of cleaned photos against the originals.

    python benchmarks/denoise_psnr.py --data PHOTO_DIR --work WORK_DIR [--held 200] [--noise 0.1]

Trains ``latentsearch train --variant denoising`` (every other setting the default) on all
but ``--held`` photos (seeded), then, on the held-out photos at the model's input size:
PSNR of the photo with Gaussian noise of ``--noise`` (the training corruption's default)
added, and of ``latentsearch denoise``'s output for that noisy photo, both against the clean
photo; and of the model's redrawing of the clean photo itself.
"""

from __future__ import annotations

import argparse
import random
import shutil
from pathlib import Path

import numpy as np

from latentsearch.encoder.config import ModelConfig
from latentsearch.encoder.training import load_model
from latentsearch.indexer.files.images import load_image
from latentsearch.indexer.files.listing import list_images
from latentsearch.indexer.pipeline.train import choose_shape, train_on_folder
from latentsearch.indexer.serve.denoise import denoise


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(float(np.mean((a - b) ** 2)), 1e-12)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--held", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.1)
    args = parser.parse_args()
    photos = list_images(args.data)
    random.Random(0).shuffle(photos)
    held, kept = photos[: args.held], photos[args.held :]
    train_dir = args.work / "train"
    if not train_dir.exists():
        for n, path in enumerate(kept):
            target = train_dir / path.parent.name / f"{n:05d}{path.suffix.lower()}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    size, filters, _ = choose_shape(train_dir)
    config = ModelConfig(image_size=size, filters=filters, variant="denoising")
    model = load_model(train_on_folder(train_dir, args.work / "model", config))
    rng = np.random.default_rng(0)
    noisy_db, cleaned_db, redrawn_db = [], [], []
    for path in held:
        clean = load_image(path, size, model.config.channels)
        noisy = np.clip(clean + rng.normal(0, args.noise, clean.shape), 0, 1).astype(np.float32)
        noisy_db.append(psnr(noisy, clean))
        cleaned_db.append(psnr(denoise(model, noisy), clean))
        redrawn_db.append(psnr(denoise(model, clean), clean))
    print(f"{len(held)} held-out photos at {size}x{size}, Gaussian noise {args.noise}")
    print(f"PSNR noisy {np.mean(noisy_db):.2f} dB, cleaned {np.mean(cleaned_db):.2f} dB, "
          f"clean photo redrawn {np.mean(redrawn_db):.2f} dB")  # fmt: skip


if __name__ == "__main__":
    main()

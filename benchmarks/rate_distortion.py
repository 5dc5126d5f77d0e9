"""Compression as a measured use: the autoencoder's code against JPEG and WebP.

    python benchmarks/rate_distortion.py --model MODEL_DIR [--model ...] --data NAME=DIR [...]
        [--count 500] [--out docs/applications]

For ``--count`` photos of each folder (seeded), at the model's input size: bytes per image,
PSNR and SSIM of the decoded photo against the photo, for
- each model's code (``latentsearch train``'s saved encoder and decoder) stored as float32,
  float16, int8 (one scale per code) and product-quantised (FAISS PQ, 8 bits a sub-vector,
  trained on the other folder photos' codes); for a vqvae, its grid of codebook indices as
  ``latentsearch index`` stores it (``indexes.codebook.code_bytes``), looked up in the
  codebook and decoded;
- JPEG and WebP (Pillow) at qualities 1-95.
Prints a Markdown table per folder and writes OUT/rate_distortion.png (PSNR against bytes).
"""

from __future__ import annotations

import argparse
import io
import random
from pathlib import Path

import faiss
import numpy as np
from PIL import Image

from latentsearch.encoder.inference import decode_codes, encode_images
from latentsearch.encoder.quantiser import codebook_of
from latentsearch.encoder.training import TrainedModel, load_model
from latentsearch.indexer.files.images import load_image
from latentsearch.indexer.files.listing import list_images
from latentsearch.indexer.indexes.codebook import code_bytes

QUALITIES = (1, 5, 10, 20, 30, 50, 70, 90, 95)
FAMILIES = (  # (which rows, matplotlib format, legend) of the plot
    (lambda c: c.startswith("JPEG"), "o-", "JPEG"),
    (lambda c: c.startswith("WEBP"), "s-", "WebP"),
    (lambda c: c.startswith("code") and "VQ" not in c, "^", "autoencoder code"),
    (lambda c: c.startswith("code VQ"), "*", "VQ-VAE indices"),
)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(float(np.mean((a - b) ** 2)), 1e-12)))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM over 7x7 windows (uniform), per channel, of images in [0, 1]."""
    from numpy.lib.stride_tricks import sliding_window_view

    c1, c2 = 0.01**2, 0.03**2
    wa = sliding_window_view(a, (7, 7), axis=(0, 1))
    wb = sliding_window_view(b, (7, 7), axis=(0, 1))
    ma, mb = wa.mean(axis=(-1, -2)), wb.mean(axis=(-1, -2))
    va, vb = wa.var(axis=(-1, -2)), wb.var(axis=(-1, -2))
    cov = ((wa - ma[..., None, None]) * (wb - mb[..., None, None])).mean(axis=(-1, -2))
    score = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    return float(score.mean())


def codec_row(images: np.ndarray, decoded: np.ndarray, nbytes: float) -> dict:
    return {
        "bytes": float(nbytes),
        "psnr": float(np.mean([psnr(d, i) for d, i in zip(decoded, images, strict=True)])),
        "ssim": float(np.mean([ssim(d, i) for d, i in zip(decoded, images, strict=True)])),
    }


def image_codec(images: np.ndarray, kind: str, quality: int) -> dict:
    sizes, decoded = [], []
    for image in images:
        pixels = np.rint(image * 255).astype(np.uint8)
        picture = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
        buffer = io.BytesIO()
        picture.save(buffer, format=kind, quality=quality)
        sizes.append(buffer.tell())
        back = np.asarray(Image.open(io.BytesIO(buffer.getvalue())), np.float32) / 255
        decoded.append(back.reshape(image.shape))
    return codec_row(images, np.stack(decoded), np.mean(sizes))


def code_codecs(model: TrainedModel, images: np.ndarray, others: np.ndarray) -> dict:
    """Rows for the model's code: a vqvae's indices, or a continuous code's storage forms."""
    if model.config.variant == "vqvae":
        return {"code VQ indices": vq_index_row(model, images)}
    codes = encode_images(model.encoder, images)
    rows = {"code float32": codec_row(images, decode(model, codes), codes.shape[1] * 4)}
    rows["code float16"] = codec_row(
        images, decode(model, codes.astype(np.float16).astype(np.float32)), codes.shape[1] * 2
    )
    scale = np.abs(codes).max(axis=1, keepdims=True) / 127
    int8 = np.rint(codes / np.maximum(scale, 1e-12)) * scale
    rows["code int8"] = codec_row(
        images, decode(model, int8.astype(np.float32)), codes.shape[1] + 4
    )
    train = encode_images(model.encoder, others)
    for m in (8, 16, 32):
        pq = faiss.ProductQuantizer(codes.shape[1], m, 8)
        pq.train(np.ascontiguousarray(train))
        back = pq.decode(pq.compute_codes(np.ascontiguousarray(codes)))
        rows[f"code PQ {m} bytes"] = codec_row(images, decode(model, back), m)
    return rows


def vq_index_row(model: TrainedModel, images: np.ndarray) -> dict:
    """The photos rebuilt from nothing but their grids of codebook indices."""
    indices = model.encoder.predict(images, batch_size=256, verbose=0)[1]  # [grid, indices]
    grids = codebook_of(model.encoder)[indices.astype(np.int64)]
    codes = grids.reshape(len(images), -1)
    return codec_row(images, decode(model, codes), code_bytes(model.config))


def decode(model, codes: np.ndarray) -> np.ndarray:
    return np.clip(decode_codes(model.decoder, codes.astype(np.float32)), 0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, action="append", required=True)
    parser.add_argument("--data", action="append", required=True, help="NAME=DIR")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("docs/applications"))
    args = parser.parse_args()
    models = [load_model(path) for path in args.model]
    size, channels = models[0].config.image_size, models[0].config.channels
    if any((m.config.image_size, m.config.channels) != (size, channels) for m in models):
        raise SystemExit("every --model must take the same input size and channels")
    curves = {}
    for spec in args.data:
        name, folder = spec.split("=", 1)
        paths = list_images(folder)
        random.Random(0).shuffle(paths)
        images = np.stack([load_image(p, size, channels) for p in paths[: args.count]])
        others = np.stack(
            [load_image(p, size, channels) for p in paths[args.count : 3 * args.count]]
        )
        rows, named = {}, len(models) > 1
        for path, model in zip(args.model, models, strict=True):
            for codec, row in code_codecs(model, images, others).items():
                rows[f"{codec} ({path.name})" if named else codec] = row
        for kind in ("JPEG", "WEBP"):
            for quality in QUALITIES:
                rows[f"{kind} q{quality}"] = image_codec(images, kind, quality)
        curves[name] = rows
        print(f"\n{name}: {len(images)} photos at {size}x{size}\n")
        print("| codec | bytes / image | PSNR dB | SSIM |\n|---|---|---|---|")
        for codec, row in sorted(rows.items(), key=lambda item: item[1]["bytes"]):
            print(f"| {codec} | {row['bytes']:.0f} | {row['psnr']:.2f} | {row['ssim']:.3f} |")
    plot(curves, args.out / "rate_distortion.png")


def plot(curves: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5 * len(curves), 4), layout="tight")
    for n, (name, rows) in enumerate(curves.items(), start=1):
        axes = figure.add_subplot(1, len(curves), n)
        for family, marker, label in FAMILIES:
            points = sorted((r["bytes"], r["psnr"]) for c, r in rows.items() if family(c))
            if points:
                axes.plot(*zip(*points, strict=True), marker, label=label)
        axes.set(xscale="log", xlabel="bytes per image", ylabel="PSNR (dB)", title=name)
        axes.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)


if __name__ == "__main__":
    main()

"""The benchmark's plots, drawn from the report dict alone (so the notebook draws the same).

Figures are built with ``matplotlib.figure.Figure`` directly: no pyplot global state, no
display needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

CELL = 64  # pixels per image in the example grid
BORDER = 4
RELEVANT_RGB = (40, 170, 60)
IRRELEVANT_RGB = (210, 40, 40)
QUERY_RGB = (60, 60, 60)
DPI = 110


def plot_pr_curves(report: dict) -> Figure:
    """Precision against recall over the whole ranking, one line per method."""
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for method in report["methods"]:
        curve = method["quality"]["curve"]
        ax.plot(curve["recall"], curve["precision"], label=method["label"])
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1))
    ax.set_title("Precision-recall (mean over queries, cut-offs 1 to all)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def plot_precision_at_k(report: dict) -> Figure:
    """Precision@k against k (log scale), one line per method; the --k values marked."""
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for method in report["methods"]:
        curve = method["quality"]["curve"]
        ax.plot(curve["cutoff"], curve["precision"], label=method["label"])
    for k in report["ks"]:
        ax.axvline(k, color="grey", linewidth=0.6, linestyle=":")
    ax.set(xscale="log", xlabel="k (results returned)", ylabel="precision@k", ylim=(0, 1))
    ax.set_title("Precision@k")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def _cell(path: str, frame: tuple[int, int, int]) -> np.ndarray:
    """One framed square thumbnail; a grey square where the file cannot be read."""
    cell = np.empty((CELL, CELL, 3), np.uint8)
    cell[:] = frame
    inner = CELL - 2 * BORDER
    try:
        with Image.open(path) as img:
            picture = np.asarray(img.convert("RGB").resize((inner, inner)))
    except OSError:
        picture = np.full((inner, inner, 3), 128, np.uint8)
    cell[BORDER:-BORDER, BORDER:-BORDER] = picture
    return cell


def example_grid(report: dict) -> tuple[np.ndarray, list[str]]:
    """Rows of [query | top hits of each method]; frames green when relevant, red when not."""
    rows, titles = [], []
    for example in report["examples"]:
        cells = [_cell(example["query"], QUERY_RGB)]
        for hits in example["results"].values():
            cells.append(np.full((CELL, CELL // 4, 3), 255, np.uint8))  # gap between methods
            frames = [RELEVANT_RGB if hit["relevant"] else IRRELEVANT_RGB for hit in hits]
            cells += [_cell(hit["path"], f) for hit, f in zip(hits, frames, strict=True)]
        rows.append(np.concatenate(cells, axis=1))
    if report["examples"]:
        labels = {m["key"]: m["label"] for m in report["methods"]}
        titles = [labels[key] for key in report["examples"][0]["results"]]
    grid = np.concatenate(rows, axis=0) if rows else np.full((CELL, CELL, 3), 255, np.uint8)
    return grid, titles


def plot_examples(report: dict) -> Figure:
    """Example queries (left) with the top results of latent-code and raw-pixel search."""
    grid, titles = example_grid(report)
    height, width = grid.shape[:2]
    # one grid pixel per output pixel at the dpi save_plots uses: no blurry upscaling
    fig = Figure(figsize=(width / DPI, height / DPI + 0.8), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(grid)
    ax.set_axis_off()
    ax.set_title(
        "query | " + " | ".join(titles) + "\n(green frame: same label as the query; red: not)",
        fontsize="small",
    )
    return fig


def save_plots(report: dict, out_dir: Path) -> list[Path]:
    """Write the three PNG plots into ``out_dir``."""
    figures = {
        "pr_curves.png": plot_pr_curves(report),
        "precision_at_k.png": plot_precision_at_k(report),
        "examples.png": plot_examples(report),
    }
    written = []
    for name, figure in figures.items():
        figure.savefig(out_dir / name, dpi=DPI)
        written.append(out_dir / name)
    return written

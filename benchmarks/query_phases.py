"""Where the page's upload-to-results time goes, phase by phase, through the page's own calls.

    python benchmarks/query_phases.py --index INDEX_DIR --image PHOTO [--image PHOTO ...]
        [--repeat 20] [-k 12]

For each photo, the phases the page runs for an upload (``webapp/app.py``), each timed
``--repeat`` times after one warm-up: ``upload`` (size checks, decode, model input and
preview), ``look`` (encode, reconstruction, outlier score), ``search`` (latent and raw-pixel
searches) and ``thumbnails`` (reading the thumbnails of both result columns). Prints
median milliseconds per phase as JSON lines and a markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path


def median_ms(run: Callable[[], object], repeat: int) -> float:
    run()  # warm-up: first calls trace the model and fill caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


def phases(explorer, photo: Path, k: int, repeat: int) -> dict[str, float]:
    data = photo.read_bytes()
    query = explorer.upload(photo.name, data)
    result = explorer.search(query, k)
    hits = [hit.id for hit in result.latent + result.raw]
    timed = {
        "upload": lambda: explorer.upload(photo.name, data),
        "look": lambda: explorer.look(query),
        "search": lambda: explorer.search(query, k),
        "thumbnails": lambda: [explorer.bundle.metadata.thumbnail(row) for row in hits],
    }
    return {name: round(median_ms(run, repeat), 2) for name, run in timed.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", required=True)
    parser.add_argument("--image", action="append", required=True, type=Path)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("-k", type=int, default=12, help="results per column (page default)")
    args = parser.parse_args()

    from latentsearch.indexer.serve.explorer import Explorer
    from latentsearch.indexer.store.manifest import current_index_build

    explorer = Explorer.open_build(current_index_build(args.index))
    rows = []
    for photo in args.image:
        row = {"image": photo.name, **phases(explorer, photo, args.k, args.repeat)}
        row["total"] = round(sum(v for key, v in row.items() if key != "image"), 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    names = [key for key in rows[0] if key != "image"]
    print("| image | " + " | ".join(f"{n} ms" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for row in rows:
        print(f"| {row['image']} | " + " | ".join(str(row[n]) for n in names) + " |")


if __name__ == "__main__":
    main()

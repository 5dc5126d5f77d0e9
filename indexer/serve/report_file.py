"""A command's results written to FILE.csv or FILE.json, whole or not at all."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from latentsearch.encoder.errors import UserError

FORMATS = (".csv", ".json")


def check_format(out: str | Path) -> Path:
    """``out`` if it names a CSV or JSON file."""
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise UserError(f"--out must end in .csv or .json, not {out.name!r}")
    return out


def write_report(out: str | Path, data: dict, rows: list[list]) -> Path:
    """``data`` as JSON, or ``rows`` (a header first) as CSV, by ``out``'s suffix; written
    beside ``out`` and then moved over it, so a failed write leaves an older file whole."""
    out = check_format(out)
    if out.suffix.lower() == ".json":
        text = json.dumps(data, indent=2) + "\n"
    else:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        text = buffer.getvalue()
    partial = out.with_name(out.name + ".partial")
    partial.write_text(text)
    os.replace(partial, out)
    return out

"""Reading task rows from local jsonl / parquet files or hub datasets, and gold answers out of them."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from r1pipe import R1pipeError


def read_hub(dataset: str, split: str, subset: str | None = None) -> list[dict]:
    """A hub dataset's split as rows; offline, a one-line error that says so."""
    from datasets import load_dataset

    try:
        return load_dataset(dataset, subset, split=split).to_list()
    except Exception as e:  # noqa: BLE001 - the datasets library raises many kinds; all mean "not available"
        reason = str(e).splitlines()[0][:120]
        raise R1pipeError(f"hub dataset {dataset!r} (split {split!r}) is not available: {reason}") from None


def read_rows(path: str | Path) -> list[dict]:
    """Rows of a .jsonl, .jsonl.gz or .parquet file; a malformed line is an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise R1pipeError(f"task file not found: {path}")
    if path.suffix == ".parquet":
        import pyarrow
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pylist()
        except (pyarrow.ArrowException, OSError) as e:
            raise R1pipeError(f"{path}: not a readable parquet file ({str(e).splitlines()[0]})") from None
    if not path.name.endswith((".jsonl", ".json", ".jsonl.gz")):
        raise R1pipeError(f"{path}: unsupported file type (use .jsonl, .jsonl.gz or .parquet)")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            return _json_lines(f, path)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as e:
        kind = "gzip-compressed JSON lines" if path.suffix == ".gz" else "UTF-8 JSON lines"
        raise R1pipeError(f"{path}: not {kind} ({type(e).__name__}: {str(e)[:80]})") from None


def _json_lines(lines, path) -> list[dict]:
    rows = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise R1pipeError(f"{path}:{lineno}: malformed JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise R1pipeError(f"{path}:{lineno}: expected a JSON object per line")
        rows.append(row)
    return rows


_CALCULATOR = re.compile(r"<<[^<>]*>>")  # GSM8K's calculator annotations: "48/2 = <<48/2=24>>24"
_FINAL = re.compile(r"\n?\s*####.*$", re.DOTALL)


def solution_from(text: str, fmt: str) -> str:
    """The worked solution in an answer column written in ``fmt``: GSM8K's without its calculator notes and its
    ``#### answer`` line (the answer goes in <answer>); any other format's as it is."""
    text = str(text).strip()
    if fmt == "gsm8k":
        return _FINAL.sub("", _CALCULATOR.sub("", text)).strip()
    return text


def gold_from(text: str, fmt: str) -> str:
    """Pull the gold answer out of an answer column written in ``fmt``."""
    text = str(text).strip()
    if fmt == "gsm8k":
        m = re.search(r"####\s*(.+?)\s*$", text)
        return m.group(1).replace(",", "").strip() if m else ""
    if fmt == "boxed":
        from r1pipe.answers import last_boxed

        return last_boxed(text) or ""
    return text

"""Local jsonl / parquet task files with a column mapping (GSM8K, MATH-500, ...)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from r1pipe import R1pipeError


def read_rows(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise R1pipeError(f"task file not found: {path}")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if path.suffix not in (".jsonl", ".json"):
        raise R1pipeError(f"{path}: unsupported file type (use .jsonl or .parquet)")
    rows = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
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


def gold_from(text: str, fmt: str) -> str:
    """Pull the gold answer out of an answer column written in ``fmt``."""
    text = str(text).strip()
    if fmt == "gsm8k":
        m = re.search(r"####\s*(.+?)\s*$", text)
        return m.group(1).replace(",", "").strip() if m else ""
    if fmt == "boxed":
        from r1pipe.rewards.extract import last_boxed

        return last_boxed(text) or ""
    return text


def map_rows(rows: list[dict], columns: dict[str, str], answer_format: str, where: str) -> list[dict]:
    """Rename columns to question/answer(/solution) and extract the gold answer."""
    mapping = {"question": "question", "answer": "answer", **columns}
    out = []
    for i, row in enumerate(rows):
        missing = [src for dst, src in mapping.items() if dst != "solution" and src not in row]
        if missing:
            raise R1pipeError(f"{where}: row {i}: missing column {missing[0]!r} (have: {', '.join(row)})")
        answer = gold_from(row[mapping["answer"]], answer_format)
        if not answer:
            raise R1pipeError(f"{where}: row {i}: cannot read a {answer_format} answer from {mapping['answer']!r}")
        solution = str(row.get(mapping.get("solution", ""), "") or "")
        out.append({"question": str(row[mapping["question"]]), "answer": answer, "solution": solution})
    return out

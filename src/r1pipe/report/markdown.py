"""Markdown cells and tables, for the report's modules."""

from __future__ import annotations


def pct(m: dict, key: str) -> str:
    if m.get(key) is None:
        return "—"
    se = m.get(f"{key}_se")
    return f"{100 * m[key]:.1f} ± {100 * se:.1f}" if se else f"{100 * m[key]:.1f}"


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])

"""What went wrong in a stage without stopping it, counted for its run log.

A reward whose grader raised on a completion (a parse error, a recursion limit, a worker that died) gives
that completion its floor and is counted here; RL must never crash on what a completion writes. The stage
skeleton (``artifacts.stage_output``) sums the counts of every process into the run log's ``incidents`` and
says so in the summary. The counts are this process's, and start empty with each stage.

This module imports nothing from r1pipe.
"""

from __future__ import annotations

_counts: dict[str, int] = {}
_first: dict[str, str] = {}


def count(kind: str, detail: str) -> None:
    """One more incident of ``kind``; ``detail`` (one line) is kept for the first of each kind."""
    _counts[kind] = _counts.get(kind, 0) + 1
    _first.setdefault(kind, " ".join(detail.split())[:300])


def take() -> dict[str, dict]:
    """This process's incidents since the last call, ``{kind: {"count": n, "first": detail}}``, and forget them."""
    found = {kind: {"count": n, "first": _first[kind]} for kind, n in sorted(_counts.items())}
    _counts.clear()
    _first.clear()
    return found


def merged(parts: list[dict[str, dict]]) -> dict[str, dict]:
    """Several processes' ``take()``, summed (the first detail of the lowest rank that saw the kind)."""
    out: dict[str, dict] = {}
    for part in parts:
        for kind, seen in part.items():
            if kind in out:
                out[kind]["count"] += seen["count"]
            else:
                out[kind] = dict(seen)
    return dict(sorted(out.items()))


def describe(found: dict[str, dict]) -> str | None:
    """The summary's one line for ``found``, or None."""
    if not found:
        return None
    return "; ".join(f"{kind}: {seen['count']} (first: {seen['first']})" for kind, seen in found.items())

"""Rejection sampling: which sampled completions become SFT data.

Every enabled filter (``r1pipe.data.filters``) is counted on every sample, so for
each filter ``kept + rejected == sampled``. Of the samples that pass all of them,
exact and near duplicates are dropped, then at most ``k`` per prompt are kept,
chosen by the selection rule (``shortest``, ``random`` or ``first``).
"""

from __future__ import annotations

import random
from collections import defaultdict

from r1pipe.data.completion import Completion
from r1pipe.data.filters import deduplicate, verdicts


def select(indices: list[int], group: list[Completion], k: int, rule: str, rng: random.Random) -> list[int]:
    if rule == "shortest":
        indices = sorted(indices, key=lambda i: (group[i].n_tokens, i))
    elif rule == "random":
        indices = rng.sample(indices, len(indices))
    return indices[:k]


def reject_sample(rows: list[dict], groups: list[list[Completion]], scores: list[dict[str, list]],
                  filters: dict[str, dict], k: int, rule: str, seed: int, dedup: float | None = None
                  ) -> tuple[list[dict], dict]:
    rng = random.Random(seed)
    kept_rows: list[dict] = []
    stats = {f: {"kept": 0, "rejected": 0} for f in filters}
    per_task = defaultdict(lambda: {"sampled": 0, "accepted": 0, "kept": 0})
    sampled = accepted = duplicates = 0
    for row, group, score in zip(rows, groups, scores):
        passing, results = [], []
        for i, completion in enumerate(group):
            result = verdicts(row, completion, {name: score[name][i] for name in score}, filters)
            for f, ok in result.items():
                stats[f]["kept" if ok else "rejected"] += 1
            results.append(result)
            if all(result.values()):
                passing.append(i)
        unique = deduplicate(passing, group, dedup) if dedup else passing
        chosen = select(unique, group, k, rule, rng)
        task = per_task[row.get("task", "math")]
        task["sampled"] += len(group)
        task["accepted"] += len(passing)
        task["kept"] += len(chosen)
        sampled += len(group)
        accepted += len(passing)
        duplicates += len(passing) - len(unique)
        for i in chosen:
            kept_rows.append(
                {
                    "prompt": row["prompt"],
                    "completion": [{"role": "assistant", "content": group[i].text}],
                    "prompt_id": row.get("id", ""),
                    "task": row.get("task", "math"),
                    "source": row.get("source", ""),
                    "n_tokens": group[i].n_tokens,
                    **{f"reward_{name}": score[name][i] for name in score},
                    **{f"filter_{name}": ok for name, ok in results[i].items()},
                }
            )
    for f in filters:
        stats[f]["rate"] = stats[f]["kept"] / sampled if sampled else 0.0
    for t in per_task.values():
        t["acceptance_rate"] = t["accepted"] / t["sampled"] if t["sampled"] else 0.0
    return kept_rows, {
        "prompts": len(rows),
        "sampled": sampled,
        "accepted": accepted,
        "duplicates_removed": duplicates,
        "kept": len(kept_rows),
        "acceptance_rate": accepted / sampled if sampled else 0.0,
        "filters": stats,
        "per_task": dict(per_task),
    }

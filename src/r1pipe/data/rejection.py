"""Rejection sampling: which sampled completions become SFT data.

Each enabled filter is a reward that must score 1.0 (``accuracy``: the answer is
right; ``format``: think and answer tags are in place). Every filter is counted
on every sample, so for each filter ``kept + rejected == sampled``. Of the
samples that pass all filters, at most ``k`` per prompt are kept, chosen by the
selection rule.
"""

from __future__ import annotations

import random
from collections import defaultdict

from r1pipe.engines import Completion


def select(indices: list[int], group: list[Completion], k: int, rule: str, rng: random.Random) -> list[int]:
    if rule == "shortest":
        indices = sorted(indices, key=lambda i: (group[i].n_tokens, i))
    elif rule == "random":
        indices = rng.sample(indices, len(indices))
    return indices[:k]


def reject_sample(rows: list[dict], groups: list[list[Completion]], scores: list[dict[str, list]],
                  filters: list[str], k: int, rule: str, seed: int) -> tuple[list[dict], dict]:
    rng = random.Random(seed)
    kept_rows: list[dict] = []
    stats = {f: {"kept": 0, "rejected": 0} for f in filters}
    per_task = defaultdict(lambda: {"sampled": 0, "accepted": 0, "kept": 0})
    sampled = accepted = 0
    for row, group, score in zip(rows, groups, scores):
        passing = []
        for i in range(len(group)):
            ok = True
            for f in filters:
                passed = score[f][i] == 1.0
                stats[f]["kept" if passed else "rejected"] += 1
                ok = ok and passed
            if ok:
                passing.append(i)
        chosen = select(passing, group, k, rule, rng)
        task = per_task[row.get("task", "math")]
        task["sampled"] += len(group)
        task["accepted"] += len(passing)
        task["kept"] += len(chosen)
        sampled += len(group)
        accepted += len(passing)
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
        "kept": len(kept_rows),
        "acceptance_rate": accepted / sampled if sampled else 0.0,
        "filters": stats,
        "per_task": dict(per_task),
    }

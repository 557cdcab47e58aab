"""Rewards, following TRL's contract: ``f(prompts, completions, **columns) -> list[float | None]``.

``None`` means "not applicable": the sample is skipped. The same functions score
GRPO rollouts, filter rejection samples and grade evals (one grader, three uses).
"""

from __future__ import annotations

from collections.abc import Callable

from r1pipe.rewards.accuracy import accuracy
from r1pipe.rewards.format import format_strict, format_tags

RewardFn = Callable[..., list]

REWARDS: dict[str, RewardFn] = {
    "accuracy": accuracy,
    "format": format_strict,
    "format_tags": format_tags,
}


def get_reward(name: str) -> RewardFn:
    if name not in REWARDS:
        raise KeyError(f"unknown reward {name!r} (known: {', '.join(REWARDS)})")
    fn = REWARDS[name]

    # TRL logs each reward under the function's __name__; use the registry name.
    def reward(prompts, completions, **columns):
        return fn(prompts, completions, **columns)

    reward.__name__ = name
    return reward


def score(names, prompts, completions, **columns) -> dict[str, list[float | None]]:
    """Every named reward on every completion."""
    return {name: get_reward(name)(prompts, completions, **columns) for name in names}


def combine(scores: dict[str, list[float | None]], weights: dict[str, float]) -> list[float | None]:
    """Weighted sum per sample; a None reward is left out, as in TRL (all None -> None)."""
    n = len(next(iter(scores.values())))
    out = []
    for i in range(n):
        parts = [weights[name] * scores[name][i] for name in weights if scores[name][i] is not None]
        out.append(sum(parts) if parts else None)
    return out


def score_groups(rows: list[dict], groups: list[list[str]], names) -> list[dict[str, list[float | None]]]:
    """Score ``groups[i]`` (completions of ``rows[i]``) with every named reward.

    Returns, per row, ``{reward name: one score per completion}``. The dataset
    columns are repeated for each completion, exactly as TRL passes them.
    """
    prompts, completions, columns = [], [], {}
    keys = [k for k in (rows[0] if rows else {}) if k != "prompt"]
    for row, group in zip(rows, groups):
        for text in group:
            prompts.append(row["prompt"])
            completions.append(text)
            for k in keys:
                columns.setdefault(k, []).append(row[k])
    flat = score(names, prompts, completions, **columns)
    out, start = [], 0
    for group in groups:
        out.append({name: flat[name][start : start + len(group)] for name in names})
        start += len(group)
    return out

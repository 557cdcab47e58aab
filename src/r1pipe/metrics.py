"""Eval metrics from graded samples: pass@1 over k samples, cons@k, format rate, length.

Inputs are per prompt: the k extracted answers (None when nothing could be
extracted), their correctness, their format rewards and token counts.
"""

from __future__ import annotations

import math
from collections import Counter

from r1pipe.answers import normalize


def majority(answers: list[str | None]) -> int | None:
    """Index of a sample carrying the most common normalised answer.

    Ties go to the answer seen first; samples without an answer do not vote.
    """
    keys = [normalize(a) if a is not None else None for a in answers]
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return None
    best = max(counts.values())
    for i, k in enumerate(keys):
        if k is not None and counts[k] == best:
            return i
    return None


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and its standard error (sample std / sqrt(n)); se is 0 for fewer than two values."""
    n = len(values)
    if n == 0:
        return 0.0, 0.0
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def eval_metrics(answers: list[list[str | None]], correct: list[list[float]], formats: list[list[float]],
                 n_tokens: list[list[int]], pass_k: int | None = None) -> dict:
    """pass@1 (mean over the k samples), cons@k (majority vote), optional unbiased pass@``pass_k``,
    format rate and mean length; each rate with its standard error over prompts."""
    per_prompt_pass = [sum(c) / len(c) for c in correct]
    per_prompt_cons = []
    for ans, cor in zip(answers, correct):
        i = majority(ans)
        per_prompt_cons.append(0.0 if i is None else float(cor[i]))
    pass1, pass1_se = mean_se(per_prompt_pass)
    cons, cons_se = mean_se(per_prompt_cons)
    fmt, fmt_se = mean_se([sum(f) / len(f) for f in formats])
    tokens = [t for row in n_tokens for t in row]
    extra = {}
    if pass_k and correct and pass_k <= len(correct[0]):
        extra[f"pass@{pass_k}"], extra[f"pass@{pass_k}_se"] = mean_se(
            [pass_at_k(len(c), int(sum(x == 1.0 for x in c)), pass_k) for c in correct])
    return {
        **extra,
        "n_prompts": len(correct),
        "k": len(correct[0]) if correct else 0,
        "pass@1": pass1,
        "pass@1_se": pass1_se,
        "cons@k": cons,
        "cons@k_se": cons_se,
        "format_rate": fmt,
        "format_rate_se": fmt_se,
        "mean_tokens": sum(tokens) / len(tokens) if tokens else 0.0,
    }

"""N-gram repetition penalty: ``max_penalty`` times the share of repeated word n-grams."""

from __future__ import annotations


def repetition_penalty(text: str, n: int, max_penalty: float) -> float:
    words = text.lower().split()
    if len(words) < n:
        return 0.0
    ngrams = list(zip(*[words[i:] for i in range(n)]))
    return (1.0 - len(set(ngrams)) / len(ngrams)) * max_penalty

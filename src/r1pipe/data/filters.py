"""Rejection-sampling filters: which sampled completions are correct and readable enough to keep.

Each filter is ``check(row, completion, scores, **options) -> bool``, switched on by
naming it in ``reject_sample.filters`` with its thresholds:

    filters:
      accuracy: {}                          # the task's rule-based grader says right
      format: {}                            # one <think> block, then one <answer>
      language: {target: en, min_share: 0.95}   # no mixed languages in the chain of thought
      paragraphs: {max_chars: 2000}         # no overlong paragraph
      code_in_reasoning: {}                 # no code blocks in the reasoning of a non-code task
      repetition: {n: 4, max_share: 0.3}    # no degenerate repetition
      length: {min_tokens: 1, max_tokens: 4096}

A list of names (``[accuracy, format]``) switches them on with default thresholds.
"""

from __future__ import annotations

import inspect
import re

from r1pipe.data.completion import Completion
from r1pipe.rewards.language import chain_of_thought, target_share
from r1pipe.rewards.repetition import repetition_penalty


def accuracy(row, completion: Completion, scores: dict) -> bool:
    # A general prompt has no rule-based answer (None): the judge, when on, decides for it.
    return scores["accuracy"] == 1.0 or (scores["accuracy"] is None and row.get("task") == "general")


def format(row, completion: Completion, scores: dict) -> bool:  # noqa: A001 - the filter's params name
    return scores["format"] == 1.0


def language(row, completion: Completion, scores: dict, target: str = "en", min_share: float = 0.95) -> bool:
    return target_share(completion.text, row.get("language") or target) >= min_share


def paragraphs(row, completion: Completion, scores: dict, max_chars: int = 2000) -> bool:
    return all(len(p) <= max_chars for p in re.split(r"\n\s*\n", chain_of_thought(completion.text)))


def code_in_reasoning(row, completion: Completion, scores: dict) -> bool:
    return row.get("task") == "code" or "```" not in chain_of_thought(completion.text)


def repetition(row, completion: Completion, scores: dict, n: int = 4, max_share: float = 0.3) -> bool:
    return -repetition_penalty(completion.text, n, -1.0) <= max_share


def judge(row, completion: Completion, scores: dict) -> bool:
    """The generative judge's verdict, where it judged this task (``reject_sample.judge``)."""
    return scores.get("judge") in (None, 1.0)


def length(row, completion: Completion, scores: dict, min_tokens: int = 1, max_tokens: int = 1 << 20) -> bool:
    return min_tokens <= completion.n_tokens <= max_tokens


FILTERS = {f.__name__: f for f in (accuracy, format, language, paragraphs, code_in_reasoning, repetition, length,
                                   judge)}


def check_filters(filters: list | dict) -> dict[str, dict]:
    """Normalise the params form to {name: options}; an unknown filter or option raises ValueError."""
    spec = {name: {} for name in filters} if isinstance(filters, list) else dict(filters)
    for name, options in spec.items():
        if name not in FILTERS:
            raise ValueError(f"unknown filter {name!r} (known: {', '.join(FILTERS)})")
        allowed = list(inspect.signature(FILTERS[name]).parameters)[3:]
        unknown = [o for o in (options or {}) if o not in allowed]
        if unknown:
            raise ValueError(f"{name}: unknown option {unknown[0]!r} (known: {', '.join(allowed) or 'none'})")
        spec[name] = options or {}
    return spec


def verdicts(row: dict, completion: Completion, scores: dict, filters: dict[str, dict]) -> dict[str, bool]:
    return {name: FILTERS[name](row, completion, scores, **options) for name, options in filters.items()}


def shingles(text: str, n: int = 3) -> set:
    words = text.split()
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def deduplicate(indices: list[int], group: list[Completion], threshold: float) -> list[int]:
    """Drop exact duplicates (ignoring whitespace) and near duplicates (word 3-gram Jaccard >= threshold)."""
    kept: list[int] = []
    seen_exact: set[str] = set()
    kept_shingles: list[set] = []
    for i in indices:
        exact = " ".join(group[i].text.split())
        if exact in seen_exact:
            continue
        s = shingles(exact)
        if any(len(s & t) / len(s | t) >= threshold for t in kept_shingles):
            continue
        seen_exact.add(exact)
        kept_shingles.append(s)
        kept.append(i)
    return kept

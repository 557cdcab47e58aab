"""Format rewards: the reasoning inside <think>, the answer inside <answer>."""

from __future__ import annotations

import re

from r1pipe.rewards.extract import completion_text

_STRICT = re.compile(r"^\s*<think>.*?</think>\s*<answer>.*?</answer>\s*$", re.DOTALL)


def format_strict(prompts, completions, **_) -> list[float]:
    """1.0 when the completion is exactly one think block followed by one answer block."""
    out = []
    for c in completions:
        text = completion_text(c)
        ok = _STRICT.match(text) and all(text.count(t) == 1 for t in ("<think>", "</think>", "<answer>", "</answer>"))
        out.append(1.0 if ok else 0.0)
    return out


def format_tags(prompts, completions, **_) -> list[float]:
    """0.25 for each of the four tags that appears exactly once: a denser signal early in RL."""
    return [
        sum((0.25 for t in ("<think>", "</think>", "<answer>", "</answer>") if completion_text(c).count(t) == 1), 0.0)
        for c in completions
    ]

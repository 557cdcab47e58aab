"""Format rewards: the reasoning inside <think>, the answer inside <answer>."""

from __future__ import annotations

import re

from r1pipe.answers import turns

_STRICT = re.compile(r"^\s*<think>.*?</think>\s*<answer>.*?</answer>\s*$", re.DOTALL)


def format_strict(prompts, completions, think_prefilled=None, **_) -> list[float]:
    """1.0 when the turn is exactly one think block followed by one answer block (``think_prefilled``:
    the chat template opened the think block in the prompt, see ``extract.turn_text``)."""
    out = []
    for text in turns(completions, think_prefilled):
        ok = _STRICT.match(text) and all(text.count(t) == 1 for t in ("<think>", "</think>", "<answer>", "</answer>"))
        out.append(1.0 if ok else 0.0)
    return out


def format_tags(prompts, completions, think_prefilled=None, **_) -> list[float]:
    """0.25 for each of the four tags that appears exactly once in the turn: a denser signal early in RL."""
    return [sum((0.25 for t in ("<think>", "</think>", "<answer>", "</answer>") if text.count(t) == 1), 0.0)
            for text in turns(completions, think_prefilled)]

"""Format rewards: the reasoning inside <think>, the answer inside <answer>.

Both pay for blocks with something in them: an empty or blank ``<think></think>`` or ``<answer> </answer>``
earns nothing, so a policy cannot collect format reward by writing the tags alone.
"""

from __future__ import annotations

import re

from r1pipe.answers import turns

_STRICT = re.compile(r"^\s*<think>(.*?)</think>\s*<answer>(.*?)</answer>\s*$", re.DOTALL)
_TAGS = ("<think>", "</think>", "<answer>", "</answer>")


def format_strict(prompts, completions, think_prefilled=None, **_) -> list[float]:
    """1.0 when the turn is exactly one non-blank think block followed by one non-blank answer block
    (``think_prefilled``: the chat template opened the think block in the prompt, see ``answers.turn_text``)."""
    out = []
    for text in turns(completions, think_prefilled):
        m = _STRICT.match(text)
        ok = m and all(text.count(t) == 1 for t in _TAGS) and m.group(1).strip() and m.group(2).strip()
        out.append(1.0 if ok else 0.0)
    return out


def format_tags(prompts, completions, think_prefilled=None, **_) -> list[float]:
    """0.25 for each of the four tags that appears exactly once in the turn (a denser signal early in RL), except
    that a block whose two tags are there but hold nothing but blanks, or close before they open, earns 0."""
    out = []
    for text in turns(completions, think_prefilled):
        score = 0.0
        for opening, closing in (_TAGS[:2], _TAGS[2:]):
            once = [text.count(t) == 1 for t in (opening, closing)]
            if all(once):
                start, end = text.index(opening) + len(opening), text.index(closing)
                score += 0.5 if start <= end and text[start:end].strip() else 0.0
            else:
                score += 0.25 * sum(once)
        out.append(score)
    return out

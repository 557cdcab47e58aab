"""Language consistency (R1): the share of the chain of thought written in the target language.

Words are counted per script: each CJK character is one Chinese word, each run of
Latin letters one English word; digits and symbols do not count. The chain of
thought is the <think> block, or the text before <answer> when there is none.
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]+")
_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)

LANGUAGES = ("en", "zh")


def chain_of_thought(text: str) -> str:
    m = _THINK.search(text)
    return m.group(1) if m else text.split("<answer>")[0]


def target_share(text: str, target: str) -> float:
    if target not in LANGUAGES:
        raise ValueError(f"language: unsupported target {target!r} (supported: {', '.join(LANGUAGES)})")
    cot = chain_of_thought(text)
    zh = len(_CJK.findall(cot))
    en = len(_LATIN.findall(cot))
    if zh + en == 0:
        return 0.0
    return (zh if target == "zh" else en) / (zh + en)

"""A generative judge for prompts with no rule-based answer (the paper used DeepSeek-V3).

The judge is any chat model behind the same engine interface. It sees a rubric
with the question, the reference answer (if any) and the response, and must end
with ``[[PASS]]`` or ``[[FAIL]]``. A verdict that cannot be parsed counts as a fail.
"""

from __future__ import annotations

import re

from r1pipe.config.sampling import Sampling
from r1pipe.rewards.reward_model import final_answer, untrusted

RUBRIC = (
    "You are a strict grader. Judge whether the response answers the question correctly, helpfully "
    "and harmlessly.\n\nQuestion:\n{question}\n\nReference answer (may be empty):\n{reference}\n\n"
    "Response:\n{response}\n\nExplain briefly, then end with exactly [[PASS]] or [[FAIL]]."
)
_VERDICT = re.compile(r"\[\[\s*(PASS|FAIL)\s*\]\]", re.IGNORECASE)


def parse_verdict(text: str) -> bool | None:
    found = _VERDICT.findall(text)
    return found[-1].upper() == "PASS" if found else None


def judge_scores(engine, rows: list[dict], groups: list[list], rubric: str, tasks: list[str],
                 max_new_tokens: int, seed: int, journal=None) -> list[list[float | None]]:
    """Per completion: 1.0 (pass), 0.0 (fail or unparseable), None (a task the judge does not grade)."""
    asks, where = [], []
    for i, (row, group) in enumerate(zip(rows, groups)):
        if row.get("task") not in tasks:
            continue
        question = row["prompt"] if isinstance(row["prompt"], str) else row["prompt"][-1]["content"]
        for j, completion in enumerate(group):
            text = rubric.format(question=question, reference=row.get("answer", ""),
                                 response=untrusted(final_answer(completion.text)))
            asks.append([{"role": "user", "content": text}])
            where.append((i, j))
    out: list[list[float | None]] = [[None] * len(g) for g in groups]
    if asks:
        verdicts = engine.generate(asks, 1, Sampling(temperature=0.0, max_new_tokens=max_new_tokens), seed,
                                   label="judge", journal=journal)
        for (i, j), v in zip(where, verdicts):
            out[i][j] = 1.0 if parse_verdict(v[0].text) else 0.0
    return out

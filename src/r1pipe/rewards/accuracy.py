"""Accuracy: is the final answer right?

Numbers compare exactly by value; anything else goes to math-verify, which
handles LaTeX and symbolic equivalence. A gold answer that cannot be parsed
gives ``None`` so that the sample is skipped rather than rewarded or punished.
"""

from __future__ import annotations

from r1pipe.rewards.extract import as_number, completion_text, extract_answer


def _math_verify(gold: str, predicted: str) -> bool | None:
    from math_verify import parse, verify

    gold_parsed = parse(f"${gold}$") or parse(gold)
    if not gold_parsed:
        return None
    pred_parsed = parse(f"${predicted}$") or parse(predicted)
    return bool(pred_parsed) and bool(verify(gold_parsed, pred_parsed))


def grade_math(completion: str, gold: str) -> float | None:
    gold = str(gold).strip()
    if not gold:
        return None
    predicted = extract_answer(completion)
    gold_value = as_number(gold)
    if predicted is None:
        return 0.0 if gold_value is not None or _math_verify(gold, gold) is not None else None
    if gold_value is not None:
        pred_value = as_number(predicted)
        if pred_value is not None:
            return float(pred_value == gold_value)
    verdict = _math_verify(gold, predicted)
    return None if verdict is None else float(verdict)


def accuracy(prompts, completions, answer=None, task=None, **_) -> list[float | None]:
    """1.0 when the extracted answer equals the gold ``answer``; dispatches on ``task``."""
    if answer is None:
        raise ValueError("accuracy reward needs an 'answer' column")
    tasks = task or ["math"] * len(completions)
    out = []
    for completion, gold, kind in zip(completions, answer, tasks):
        if kind not in (None, "math"):
            raise ValueError(f"accuracy: no grader for task {kind!r}")
        out.append(grade_math(completion_text(completion), gold))
    return out

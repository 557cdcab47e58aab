"""Math answer equivalence.

Plain numbers compare exactly by value in-process (``1,000`` = ``1000.0``,
``0.5`` = ``1/2`` = ``\\frac{1}{2}``). Anything else goes to math-verify, in a
process pool with a per-item timeout, since LaTeX parsing and symbolic
comparison can hang on hostile input.
"""

from __future__ import annotations

import os
import re

from r1pipe.rewards.extract import as_number, extract_answer

# No real final answer is this long; longer ones are wrong without being parsed.
MAX_ANSWER_CHARS = 1000
UNPARSEABLE = "unparseable"


def verify(gold: str, predicted: str | None):
    """1.0 / 0.0, or UNPARSEABLE when the gold answer cannot be parsed. Runs in a pool worker."""
    from math_verify import parse
    from math_verify import verify as mv_verify

    gold_parsed = _parse(parse, gold)
    if not gold_parsed:
        return UNPARSEABLE
    if predicted is None:
        return 0.0
    pred_parsed = _parse(parse, predicted)
    return float(bool(pred_parsed) and mv_verify(gold_parsed, pred_parsed))


_DELIMITED = re.compile(r"\$|\\\[|\\\(|\\boxed")
# Digits with a comma that is no thousands separator (``1,22``, ``1000,99``): a decimal comma, which
# math-verify's expression reader takes as such; as LaTeX, ``$1,22$`` would be a pair.
_DECIMAL_COMMA = re.compile(r"^\s*-?\d+,\d+\s*$")


def _parse(parse, text: str):
    """math-verify finds LaTeX only between delimiters: wrap bare LaTeX in $...$, but never text that already
    has its own (``$28$ %`` wrapped again is ``$$28$ %$``, which parses to something else), nor a number
    with a decimal comma."""
    if _DELIMITED.search(text) or _DECIMAL_COMMA.match(text):
        return parse(text)
    return parse(f"${text}$") or parse(text)


def _fast(gold: str, predicted: str | None) -> float | None:
    """The in-process verdict for numbers, or None when math-verify must decide."""
    gold_value = as_number(gold)
    if gold_value is None:
        return None
    if predicted is None:
        return 0.0
    pred_value = as_number(predicted)
    return None if pred_value is None else float(pred_value == gold_value)


def grade_math(texts: list[str], golds: list[str], timeout: float = 5.0, workers: int | None = None) -> list:
    """Accuracy of each completion text against its gold answer; None where the gold is unparseable."""
    out: list[float | None] = [None] * len(texts)
    slow = []
    for i, (text, gold) in enumerate(zip(texts, golds)):
        gold = str(gold).strip()
        if not gold:
            continue
        predicted = extract_answer(text)
        if predicted is not None and len(predicted) > MAX_ANSWER_CHARS:
            predicted = None
        verdict = _fast(gold, predicted)
        if verdict is not None:
            out[i] = verdict
        else:
            slow.append((i, gold, predicted))
    if slow:
        from r1pipe.rewards.pool import shared_pool

        pool = shared_pool("r1pipe.rewards.math:verify", workers or min(4, os.cpu_count() or 1), timeout)
        # A timed-out or crashed comparison counts as wrong, never as skipped.
        verdicts = pool.map([(gold, predicted) for _, gold, predicted in slow], default=0.0)
        for (i, _, _), v in zip(slow, verdicts):
            out[i] = None if v == UNPARSEABLE else v
    return out


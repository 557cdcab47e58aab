"""Math answer equivalence: math-verify's verdict, plus a few documented readings of r1pipe's own.

A completion is graded in this order; the first reading that accepts it wins:

1. **Where the answer is** (r1pipe's contract). A completion with ``<answer>`` tags is graded on the
   last block's content; one without, on the final answer it marks (``\\boxed{}``, GSM8K's ``#### n``,
   an ``Answer:`` line, "the answer is n": ``extract_answer``), taken whole (``$14{,}916$`` is one
   number, where math-verify reading the whole response finds 14). A response that marks no answer
   scores 0, where math-verify would take the last number it finds.
2. **Exact numbers** (a fast path, in-process): a gold answer and a final answer that are both plain
   numbers (``1,000``, ``\\$7.50``, ``50\\%``, ``\\frac{1}{2}``) are right when their values are equal.
   It only ever accepts; a mismatch still goes to math-verify.
3. **math-verify's reading** of the graded text, with its default extraction settings:
   ``verify(parse(gold), parse(text))``, where text without math delimiters is given inside
   ``$...$`` (an answer is math: read bare, math-verify takes ``(3, 4)`` for 4, ``14{,}916`` for 14 and
   ``x^2+1`` for nothing).
4. **r1pipe's readings** of the final answer, for what math-verify reads wrong (each is a rule in
   :data:`READINGS`, and ``tests/test_grader_rewritings.py`` lists where each changes a verdict):
   the final answer alone (the last ``\\boxed{}`` in the block), currency signs dropped
   (math-verify reads ``\\$7.50`` as nothing), a number's unit in words dropped (``72 dollars`` inside
   ``$...$`` is a product of letters), a lone number with a decimal comma read as such (``1,22``: the
   pair 1, 22 in ``$...$``, 1.22 bare), and a list written with "and" as one with commas.

The gold answer is parsed as math-verify would be given it: as is when it has math delimiters, else
inside ``$...$`` (MATH's bare LaTeX). Steps 3 and 4 run in a process
pool with a per-item timeout, since LaTeX parsing and symbolic comparison can hang on hostile input.
"""

from __future__ import annotations

import functools
import os
import re

from r1pipe.answers import as_number, extract_answer, tagged_answer
from r1pipe.rewards.limits import GRADING_TIMEOUT

# No real final answer is this long; longer ones are wrong without being parsed.
MAX_ANSWER_CHARS = 1000
UNPARSEABLE = "unparseable"

_DELIMITED = re.compile(r"\$|\\\[|\\\(|\\boxed")
# Digits with a comma that is no thousands separator (``1,22``, ``1000,99``): a pair inside ``$...$``, or a
# number with a decimal comma, as math-verify's expression reader takes it bare. Both readings are tried.
_DECIMAL_COMMA = re.compile(r"^\s*-?\d+,\d+\s*$")
# A currency sign: an escaped dollar, a dollar before a number that is no math delimiter (the only one in
# the answer), or another currency's symbol.
_CURRENCY = re.compile(r"\\\$|^\$(?=\s*-?\d)(?!.*\$)|[€£¥₹]|\\(?:euro|pounds)\b")
_AND = re.compile(r"\s*,?\s*\band\b\s*")


def _wrapped(text: str) -> str:
    """``text`` as math: inside ``$...$`` unless it has math delimiters of its own."""
    return text if _DELIMITED.search(text) else f"${text}$"


def as_math(answer: str) -> str:
    """An answer as math-verify is given it: bare text is LaTeX, wrapped in ``$...$``."""
    return _wrapped(answer)


def _no_currency(answer: str) -> str | None:
    bare = _CURRENCY.sub("", answer)
    return _wrapped(bare.strip()) if bare != answer else None


# A number, then its unit in words: "72 dollars", "5 \\text{ cm}", "3 apples." (as math, the words would be
# a product of letters).
_UNIT_WORDS = re.compile(r"^(.*?\d)\s*(?:\\(?:text|mbox|mathrm)\{\s*[A-Za-z][A-Za-z .]*\}|[A-Za-z][A-Za-z ]*)\.?$")


def _no_unit(answer: str) -> str | None:
    m = _UNIT_WORDS.match(answer.strip())
    return as_math(m.group(1)) if m else None


def _and_list(answer: str) -> str | None:
    listed = _AND.sub(", ", answer)
    return _wrapped(listed.strip(" ,")) if listed != answer else None


# r1pipe's readings of a final answer (rule 4), each a name and a function that gives the text to parse
# (None: the rule does not apply).
READINGS = [
    ("final answer", as_math),
    ("currency sign dropped", _no_currency),
    ("unit words dropped", _no_unit),
    ("decimal comma", lambda answer: answer if _DECIMAL_COMMA.match(answer) else None),
    ("list with 'and'", _and_list),
]


@functools.lru_cache(maxsize=4096)  # a group's completions share their gold answer
def parse_gold(gold: str):
    """A gold answer is math: bare LaTeX is read inside ``$...$`` (MATH's ``-1,8`` is the pair -1 and 8)."""
    from math_verify import parse

    return parse(_wrapped(gold)) or parse(gold)


def verdict(gold: str, graded: str | None, answer: str | None) -> tuple[float | str, str]:
    """(1.0 / 0.0, or UNPARSEABLE for a gold answer that cannot be parsed; the rule that decided).

    ``graded`` is the text math-verify reads (rule 1), ``answer`` the final answer in it. Runs in a pool
    worker (through :func:`verify`), or in-process for the tests.
    """
    from math_verify import parse
    from math_verify import verify as mv_verify

    gold_parsed = parse_gold(gold)
    if not gold_parsed:
        return UNPARSEABLE, "unparseable gold"
    if graded is None:
        return 0.0, "no answer"
    text = as_math(graded)
    seen = {text}
    if mv_verify(gold_parsed, parse(text)):
        return 1.0, "answer as math"
    for rule, reading in READINGS:
        text = reading(answer) if answer else None
        if text and text not in seen:
            seen.add(text)
            if mv_verify(gold_parsed, parse(text)):
                return 1.0, rule
    return 0.0, "answer as math"


def verify(gold: str, graded: str | None, answer: str | None):
    return verdict(gold, graded, answer)[0]


def graded_text(text: str) -> tuple[str | None, str | None]:
    """(what is graded, the final answer in it) of a completion, by rule 1; (None, None) without an answer."""
    answer = extract_answer(text)
    if answer is None or len(answer) > MAX_ANSWER_CHARS:
        return None, None
    inner = tagged_answer(text)
    return (inner if inner is not None else answer), answer


def fast(gold: str, answer: str | None) -> float | None:
    """Rule 2: 1.0 when gold and answer are plain numbers of equal value, else None (decide in the pool)."""
    gold_value = as_number(gold)
    if gold_value is None or answer is None:
        return None
    return 1.0 if as_number(answer) == gold_value else None


def grade_one(gold: str, text: str) -> tuple[float | str | None, str]:
    """One completion's verdict and the rule that gave it, in-process (what :func:`grade_math` does in bulk)."""
    graded, answer = graded_text(text)
    if fast(gold, answer) is not None:
        return 1.0, "exact numbers"
    return verdict(gold, graded, answer)


def grade_math(texts: list[str], golds: list[str], timeout: float = GRADING_TIMEOUT,
               workers: int | None = None) -> list:
    """Accuracy of each completion text against its gold answer; None where the gold is unparseable."""
    out: list[float | None] = [None] * len(texts)
    slow = []
    for i, (text, gold) in enumerate(zip(texts, golds)):
        gold = str(gold).strip()
        if not gold:
            continue
        graded, answer = graded_text(text)
        if fast(gold, answer) is not None:
            out[i] = 1.0
        else:
            slow.append((i, gold, graded, answer))
    if slow:
        from r1pipe.rewards.pool import shared_pool

        pool = shared_pool("r1pipe.rewards.math:verify", workers or min(4, os.cpu_count() or 1), timeout)
        # A timed-out or crashed comparison counts as wrong, never as skipped.
        verdicts = pool.map([(gold, graded, answer) for _, gold, graded, answer in slow], default=0.0)
        for (i, _, _, _), v in zip(slow, verdicts):
            out[i] = None if v == UNPARSEABLE else v
    return out

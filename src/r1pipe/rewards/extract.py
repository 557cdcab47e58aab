"""Pulling the final answer out of a completion, and normalising it for comparison."""

from __future__ import annotations

import re
from fractions import Fraction

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_GSM8K = re.compile(r"####\s*([^\n]+)")
_ANSWER_LINE = re.compile(r"^\s*(?:A|Answer|Final answer)\s*:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
# "The answer is 42." is how small instruct models end an untagged solution.
_ANSWER_IS = re.compile(r"\banswer is\s*:?\s*\$?(-?\d[\d,]*(?:\.\d+)?)", re.IGNORECASE)


def completion_text(completion) -> str:
    """TRL passes completions as strings or as chat messages; rewards want the text."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    return str(completion)


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}``, with nested braces balanced."""
    start = text.rfind("\\boxed")
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        return None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j].strip()
    return None


def extract_answer(text: str) -> str | None:
    """The final answer: the last <answer> block, else the last \\boxed{}, else GSM8K's ``#### n``,
    else a final ``Answer: x`` / ``A: x`` line, else a number after "the answer is"."""
    found = _ANSWER.findall(text)
    if found:
        inner = found[-1].strip()
        return last_boxed(inner) or inner
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    for pattern in (_GSM8K, _ANSWER_LINE, _ANSWER_IS):
        found = pattern.findall(text)
        if found:
            return found[-1].strip()
    return None


_FRAC = re.compile(r"^\\[dt]?frac\{(-?\d+)\}\{(-?\d+)\}$")


def as_number(text: str) -> Fraction | None:
    """Exact value of a plain number: ``1,000`` = ``1000.0``, ``0.5`` = ``1/2`` = ``\\frac{1}{2}``."""
    s = text.strip().strip("$").strip()
    s = re.sub(r"^\\text\{(.*)\}$", r"\1", s)
    s = s.replace("\\!", "").replace("{,}", "").replace(",", "").replace(" ", "")
    s = s.rstrip(".").removesuffix("\\%").removesuffix("%")
    m = _FRAC.match(s)
    if m:
        num, den = int(m.group(1)), int(m.group(2))
        return Fraction(num, den) if den else None
    if len(s) > 64:
        return None
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def normalize(answer: str) -> str:
    """A canonical string for majority voting: numbers by value, other text by its squeezed form."""
    value = as_number(answer)
    if value is not None:
        return str(value)
    return re.sub(r"\s+", "", answer).rstrip(".").lower()

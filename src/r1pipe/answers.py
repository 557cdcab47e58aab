"""Pulling the final answer out of a completion, and normalising it for comparison: plain text functions that the
rewards, the metrics and the data loaders share (a leaf: it imports nothing from r1pipe)."""

from __future__ import annotations

import re
from fractions import Fraction

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_GSM8K = re.compile(r"####\s*([^\n]+)")
_ANSWER_LINE = re.compile(r"^\s*(?:A|Answer|Final answer)\s*:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
# Inside a number: a digit, or a thousands separator as text or LaTeX writes it (1,000  1{,}000  1\,000  1\!000).
_DIGIT_OR_SEP = r"(?:\d|,|\{,\}|\\[,!]|\\ |~)"
# "The answer is 42." is how small instruct models end an untagged solution. The number is taken whole,
# separators included, so that "$14{,}916$" is never read as 14.
_ANSWER_IS = re.compile(rf"\banswer is\s*:?\s*\$?(-?\d{_DIGIT_OR_SEP}*(?:\.\d+)?)", re.IGNORECASE)


def completion_text(completion) -> str:
    """TRL passes completions as strings or as chat messages; rewards want the text."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    return str(completion)


def turn_text(completion, think_prefilled: bool = False) -> str:
    """The model's whole turn. A chat template that ends the generation prompt with ``<think>`` (Qwen3, the
    R1 distills) makes the completion start inside the reasoning: the tag is the prompt's, put it back."""
    text = completion_text(completion)
    return "<think>" + text if think_prefilled else text


def turns(completions, think_prefilled=None) -> list[str]:
    """``turn_text`` of each completion; ``think_prefilled`` is the dataset column of that name, if any."""
    flags = think_prefilled or [False] * len(completions)
    return [turn_text(c, bool(p)) for c, p in zip(completions, flags)]


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


def tagged_answer(text: str) -> str | None:
    """The content of the last ``<answer>`` block, or None without one."""
    found = _ANSWER.findall(text)
    return found[-1].strip() if found else None


def extract_answer(text: str) -> str | None:
    """The final answer: the last <answer> block, else the last \\boxed{}, else GSM8K's ``#### n``,
    else a final ``Answer: x`` / ``A: x`` line, else a number after "the answer is"."""
    inner = tagged_answer(text)
    if inner is not None:
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


# Thousands separators are only read as such where they group digits by three: 1,000 and 12,345.6, never
# 0,111 or 1,22 (a decimal comma in much of the world). Those are no plain number: math-verify decides.
_GROUPED = re.compile(r"^-?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$")


def as_number(text: str) -> Fraction | None:
    """Exact value of a plain number: ``1,000`` = ``1000.0``, ``0.5`` = ``1/2`` = ``\\frac{1}{2}``; a currency
    amount by its value (``\\$7.50`` = ``7.5``)."""
    s = text.strip().replace("\\$", "").strip("$").strip()
    s = re.sub(r"^\\text\{(.*)\}$", r"\1", s)
    s = s.replace("{,}", ",").replace("\\,", ",").replace("\\!", ",").replace("\\ ", ",").replace("~", ",")
    s = s.replace(" ", "").rstrip(".").removesuffix("\\%").removesuffix("%")
    if "," in s:
        if not _GROUPED.match(s):
            return None
        s = s.replace(",", "")
    if len(s) > 64 or "_" in s:  # Fraction() reads 1_000 as 1000, but 110001_2 is a number in base 2
        return None
    m = _FRAC.match(s)
    if m:
        num, den = int(m.group(1)), int(m.group(2))
        return Fraction(num, den) if den else None
    exponent = re.search(r"[eE]([-+]?\d+)$", s)
    if exponent and abs(int(exponent.group(1))) > 400:  # Fraction("1e999999999") would build a billion digits
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

"""The ways models write a gold answer, generated from every gold answer in the shared GSM8K and MATH files,
for checking r1pipe's math grader against math-verify's own verdict (tests/test_grader_rewritings.py and
bench/grader_agreement.py).

Each rewriting is (kind, text, right): ``right`` says whether it means the gold answer (a form of it) or
not (a changed value, another problem's answer).
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

from r1pipe.answers import as_number, extract_answer

GSM8K = ["gsm8k_train.jsonl", "gsm8k_test.jsonl"]
MATH = ["math_train_7500.jsonl", "math500_test.jsonl"]


def gold_answers(data: Path) -> list[str]:
    """Every distinct gold answer of the GSM8K and MATH files, in a fixed order."""
    golds: dict[str, None] = {}
    for name in GSM8K:
        for line in (data / name).read_text().splitlines():
            golds[extract_answer(json.loads(line)["answer"])] = None
    for name in MATH:
        for line in (data / name).read_text().splitlines():
            row = json.loads(line)
            golds[row.get("answer") or extract_answer(row["solution"])] = None
    return [g.strip() for g in golds if g and g.strip()]


def top_level_items(gold: str) -> list[str]:
    """``gold`` split at the commas outside any brackets (one item when there is none)."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(gold):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0 and not gold[i - 1] == "{" and not gold[i + 1 : i + 2] == "}":
            items.append(gold[start:i].strip())
            start = i + 1
    return [*items, gold[start:].strip()]


def _number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.10g}"


def _grouped(n: int) -> str:
    return f"{n:,}"


def number_forms(gold: str, value: Fraction) -> list[tuple[str, str]]:
    plain = _number(value)
    forms = [("plain", plain), ("$...$", f"${plain}$"), ("\\(...\\)", f"\\({plain}\\)"),
             ("\\boxed{}", f"\\boxed{{{plain}}}"), ("period", f"{plain}."),
             ("unit", f"{plain} cm"), ("\\text unit", f"{plain}\\text{{ cm}}"), ("percent", f"{plain}\\%")]
    if value >= 0:
        forms += [("currency $", f"${plain}"), ("currency \\$", f"\\${plain}"),
                  ("\\boxed{\\$}", f"\\boxed{{\\${plain}}}"), ("dollars", f"{plain} dollars")]
    if value.denominator == 1:
        if value >= 0:
            forms += [("currency .00", f"\\${plain}.00")]
        if abs(value) >= 1000:
            grouped = _grouped(value.numerator)
            forms += [("thousands ,", grouped), ("thousands {,}", grouped.replace(",", "{,}")),
                      ("thousands \\,", grouped.replace(",", "\\,")), ("thousands \\boxed", f"\\boxed{{{grouped}}}")]
    else:
        sign = "-" if value < 0 else ""
        forms += [("\\frac", f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"),
                  ("a/b", f"{value.numerator}/{value.denominator}")]
        if 10**6 % value.denominator == 0:
            forms += [("decimal", plain)]
    return forms


def rewritings(gold: str, other: str) -> list[tuple[str, str, bool]]:
    """Right and wrong ways to write ``gold``; ``other`` is another problem's gold answer (a wrong one)."""
    value = as_number(gold)
    if value is not None:
        out = [(kind, text, True) for kind, text in number_forms(gold, value)]
        wrong = value + 1
        out += [(f"wrong {kind}", text, False) for kind, text in number_forms(gold, wrong)
                if kind in ("plain", "currency \\$", "thousands ,", "\\frac")]
        return out
    items = top_level_items(gold)
    out = [("latex $...$", f"${gold}$", True), ("latex \\(...\\)", f"\\({gold}\\)", True),
           ("latex \\boxed{}", f"\\boxed{{{gold}}}", True), ("latex bare", gold, True),
           ("latex period", f"${gold}$.", True)]
    if len(items) > 1:
        out += [("list spaced", ", ".join(items), True), ("list \\boxed", f"\\boxed{{{', '.join(items)}}}", True),
                ("list and", (", ".join(items[:-1]) + (", and " if len(items) > 2 else " and ") + items[-1]), True),
                ]
        if items[-1] not in items[:-1]:  # without it, the set is another one
            out += [("wrong list: one item fewer", ", ".join(items[:-1]), False),
                    ("wrong list: one item fewer, and", " and ".join(items[:-1]), False)]
    out += [("wrong: another answer $...$", f"${other}$", False), ("wrong: another answer bare", other, False),
            ("wrong: another answer \\boxed", f"\\boxed{{{other}}}", False)]
    return out

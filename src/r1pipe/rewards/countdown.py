"""Countdown: the equation in <answer> uses each given number exactly once and hits the target.

The expression is parsed with ``ast`` and evaluated by walking the tree with
exact fractions; nothing is ever passed to ``eval()``.
"""

from __future__ import annotations

import ast
import operator
import re
from collections import Counter
from fractions import Fraction

from r1pipe.answers import extract_answer

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_ALLOWED = re.compile(r"^[\d\s+\-*/().]+$")


def _evaluate(node: ast.AST, used: list[int]) -> Fraction:
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _evaluate(node.left, used), _evaluate(node.right, used)
        return _OPS[type(node.op)](left, right)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        used.append(node.value)
        return Fraction(node.value)
    raise ValueError("only integers and + - * / are allowed")


def check_equation(equation: str | None, numbers: list[int], target: int) -> float:
    if not equation:
        return 0.0
    equation = equation.split("=")[0].strip()  # "3 * 4 + 1 = 13" -> "3 * 4 + 1"
    if not equation or len(equation) > 200 or not _ALLOWED.match(equation):
        return 0.0
    try:
        used: list[int] = []
        value = _evaluate(ast.parse(equation, mode="eval").body, used)
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
        return 0.0
    if Counter(used) != Counter(int(n) for n in numbers):
        return 0.0
    return float(value == Fraction(int(target)))


def grade_countdown(texts: list[str], numbers: list, targets: list) -> list[float]:
    return [check_equation(extract_answer(t), n, tg) for t, n, tg in zip(texts, numbers, targets)]

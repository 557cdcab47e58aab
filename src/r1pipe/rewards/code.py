"""Code accuracy: run the completion's last fenced code block against the tests, sandboxed, with verdicts the
completion cannot reach.

Two test styles are understood:

- MBPP: ``tests`` is a list of assert statements (``setup`` runs first);
- HumanEval: ``tests`` is code defining ``check(candidate)``; each statement of
  ``check`` that contains an assert is one test, run with ``candidate`` bound to
  ``entry_point``.

How a test is judged (``rewards/harness.py`` is the program the sandbox runs; docs/rewards.md says what a
completion can and cannot do). The completion's code runs in an interpreter of its own that holds nothing
else: no test, no expected value, no way to write a result. A judge beside it, which the completion cannot
read, asks it for values and writes the results:

- **An assert** (``assert add(1, 2) == 3``, ``assert abs(candidate(x) - 0.5) < 1e-6``, ``assert not f(s)``: 1,176
  of HumanEval's 1,181 tests and all of MBPP's) is split where it compares: each operand that needs the
  completion's code (any name beyond a few pure builtins) is computed by the completion's interpreter and
  handed back as plain data only (``None``, bool, int, float, complex, str, bytes, and lists, tuples, sets,
  frozensets and dicts of them; a subclass of one of these is read through the base type's own methods, so
  no override runs); the expected side (``3``, ``(3 + 5 + 7, 3 * 5 * 7)``) never leaves this process, and the
  comparison runs here, on the plain values.
- **Any other test** (a ``for`` loop around asserts: 5 of HumanEval's) runs in the judge, where each name the
  completion defines is a stand-in whose calls come back as plain data: the loop, its asserts and its
  arithmetic never run the completion's code.
- Whatever the completion does to its interpreter, it can only hand back values; to pass it has to hand back
  the right ones. Each test counts at most once, so the reward is the fraction of tests passed, in [0, 1]
  (``mode="fraction"``), or 1.0 only when all passed (``"binary"``).
"""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import json
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor

from r1pipe.rewards import harness
from r1pipe.rewards.harness import from_plain
from r1pipe.rewards.limits import GRADING_TIMEOUT
from r1pipe.rewards.sandbox import run_python

_FENCE = re.compile(r"```[ \t]*(?:python|py|Python)?[ \t]*\n(.*?)```", re.DOTALL)


def last_code_block(text: str) -> str | None:
    blocks = _FENCE.findall(text)
    return blocks[-1] if blocks else None


def split_tests(tests, entry_point: str | None) -> tuple[str, list[str]]:
    """(setup code, list of test snippets) for either test style."""
    if isinstance(tests, (list, tuple)):
        return "", [str(t) for t in tests]
    tree = ast.parse(str(tests))
    setup, snippets = [], []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "check":
            binding = f"candidate = {entry_point}\n" if entry_point else ""
            for stmt in node.body:
                code = ast.unparse(stmt)
                if any(isinstance(n, ast.Assert) for n in ast.walk(stmt)):
                    snippets.append(binding + code)
                else:
                    setup.append(code)  # e.g. imports inside check: shared by the tests after them
        else:
            setup.append(ast.unparse(node))
    if not snippets:  # a test file without check(): run it whole as one test
        return "", [str(tests)]
    return "\n".join(setup), snippets


# What an expected side, and the arithmetic around an operand, may use here: pure functions of plain data.
SAFE = {**{name: getattr(builtins, name) for name in (
    "abs", "len", "round", "sorted", "set", "frozenset", "tuple", "list", "dict", "sum", "min", "max", "int",
    "float", "complex", "str", "bytes", "bool", "all", "any", "divmod", "pow", "range", "reversed", "isinstance",
    "type", "zip", "enumerate", "map", "filter", "repr", "hash", "chr", "ord")}, "math": math}
# Nodes an operand can sit inside and still be computed here once its operand is a plain value.
_THROUGH = (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.IfExp, ast.Subscript, ast.Slice, ast.Tuple,
            ast.List, ast.Set, ast.Dict, ast.Call)


def bound_names(*sources: str) -> set[str]:
    """Every name the code binds at its top level (defs, classes, assignments, imports): a test's ``sum`` or
    ``math`` means the completion's own then, not the builtin."""
    names: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
    return names


def _outside(node: ast.AST, safe: set[str]) -> bool:
    """Whether ``node`` can be evaluated here: constants, operators, and the ``safe`` names (``math.<name>`` too)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id not in safe:
            return False
        if isinstance(sub, ast.Attribute) and not (isinstance(sub.value, ast.Name) and sub.value.id == "math"):
            return False
        if isinstance(sub, (ast.Lambda, ast.NamedExpr, ast.comprehension, ast.Starred, ast.Await, ast.Yield)):
            return False
    return True


def split_assert(test: ast.expr, shadowed: set[str] = frozenset()) -> tuple[ast.Expression, list[str]]:
    """(the assert's expression with each operand that needs the sandbox replaced by a name ``__h<k>``, the
    source of those operands). It splits through every operator, comparison, container and call of a safe
    function, so an operand is as small as it can be (``candidate(x)`` of ``abs(candidate(x) - 0.5) < 1e-6``):
    everything around it runs here on plain values, never the completion's own operators."""
    safe = set(SAFE) - set(shadowed)
    holes: list[str] = []

    def split(node: ast.expr) -> ast.expr:
        if _outside(node, safe):
            return node
        if isinstance(node, _THROUGH) and not (isinstance(node, ast.Call) and not _outside(node.func, safe)):
            node = copy.copy(node)
            for field, value in ast.iter_fields(node):
                if isinstance(value, ast.expr):
                    setattr(node, field, split(value))
                elif isinstance(value, list):
                    setattr(node, field, [split(v) if isinstance(v, ast.expr) else v for v in value])
            if isinstance(node, ast.Call):
                node.keywords = [ast.keyword(k.arg, split(k.value)) for k in node.keywords]
            return node
        holes.append(ast.unparse(node))
        return ast.Name(f"__h{len(holes) - 1}", ast.Load())

    return ast.fix_missing_locations(ast.Expression(split(test))), holes


def plan_test(snippet: str, shadowed: set[str] = frozenset()) -> dict:
    """How one test runs: ``{"prelude", "holes", "judge"}`` for a final assert (``judge``: the expression judged
    here), ``{"run"}`` for anything else."""
    try:
        body = ast.parse(snippet).body
    except SyntaxError:
        return {"run": snippet}
    if body and isinstance(body[-1], ast.Assert):
        prelude = "\n".join(ast.unparse(s) for s in body[:-1])
        judge, holes = split_assert(body[-1].test, set(shadowed) | bound_names(prelude))
        return {"prelude": prelude, "holes": holes, "judge": judge}
    return {"run": snippet}


_HARNESS_SOURCE = inspect.getsource(harness)


def program(solution: str, setup: str, plans: list[dict]) -> str:
    """The program the sandbox runs: the judge of ``rewards/harness.py``, with this solution, setup and tests
    (``plan_test``'s). The judge gets each test's operands, never its expected side."""
    tests = [{"run": p["run"]} if "run" in p else {"prelude": p["prelude"], "holes": p["holes"]} for p in plans]
    payload = {"solution": solution, "setup": setup, "tests": tests}
    return f"{_HARNESS_SOURCE}\njudge({payload!r}, {_HARNESS_SOURCE!r})\n"


def verdicts(stdout: str, plans: list[dict]) -> list[bool]:
    """Which tests passed, from the judge's lines: an assert when each of its operands came back exactly once
    as plain data and its expression holds here on them; another test when the judge ran it to its end. Any
    line that is not one of the judge's records counts for nothing."""
    seen: dict[tuple, list] = {}
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except Exception:  # noqa: BLE001 - not JSON, or nested past the parser's reach
            continue
        if isinstance(record, list) and len(record) >= 2 and all(type(r) in (int, str) for r in record[:2]):
            seen.setdefault(tuple(record[:2]), []).append(record[2:])
    passed = []
    for i, plan in enumerate(plans):
        if "run" in plan:
            passed.append(seen.get((i, "passed")) == [[]])
            continue
        try:
            values = {}
            for k in range(len(plan["holes"])):
                reports = seen.get((i, k), [])
                if len(reports) != 1 or len(reports[0]) != 1:
                    raise ValueError("missing or repeated")
                values[f"__h{k}"] = from_plain(reports[0][0])
            # Plain values and the dataset's own expression, with only pure builtins in reach.
            passed.append(bool(eval(compile(plan["judge"], "<judge>", "eval"), {"__builtins__": SAFE}, values)))
        except Exception:  # noqa: BLE001 - a value that is not plain data, or one that does not compare: failed
            passed.append(False)
    return passed


def run_tests(text: str, tests, entry_point: str | None = None, setup: str = "",
              timeout: float = GRADING_TIMEOUT) -> float:
    """Fraction of tests the completion's code passes; 0.0 when it has no code block."""
    code = last_code_block(text)
    if code is None:
        return 0.0
    try:
        test_setup, snippets = split_tests(tests, entry_point)
    except SyntaxError:
        return 0.0
    shadowed = bound_names(code, setup, test_setup)
    plans = [plan_test(s, shadowed) for s in snippets]
    result = run_python(program(code, "\n".join(filter(None, [setup, test_setup])), plans), timeout)
    return sum(verdicts(result.stdout, plans)) / len(plans)


def grade_code(texts: list[str], tests: list, entry_points: list | None = None, setups: list | None = None,
               timeout: float = GRADING_TIMEOUT, mode: str = "fraction", workers: int | None = None) -> list[float]:
    """Grade many completions at once; each runs in its own sandboxed process."""
    entry_points = entry_points or [None] * len(texts)
    setups = setups or [""] * len(texts)
    with ThreadPoolExecutor(workers or min(4, os.cpu_count() or 1)) as pool:
        fractions = list(pool.map(lambda a: run_tests(*a, timeout=timeout), zip(texts, tests, entry_points, setups)))
    return [float(f == 1.0) for f in fractions] if mode == "binary" else fractions

"""Code accuracy: run the completion's last fenced code block against the tests, sandboxed, with a verdict the
completion cannot reach.

Two test styles are understood:

- MBPP: ``tests`` is a list of assert statements (``setup`` runs first);
- HumanEval: ``tests`` is code defining ``check(candidate)``; each statement of
  ``check`` that contains an assert is one test, run with ``candidate`` bound to
  ``entry_point``.

How a test is judged (docs/rewards.md says what a completion can and cannot do):

- **An assert** (``assert add(1, 2) == 3``, ``assert abs(candidate(x) - 0.5) < 1e-6``, ``assert not f(s)``: 1,176
  of HumanEval's 1,181 tests and all of MBPP's) is split where it compares: each operand that needs the
  completion's code (any name beyond a few pure builtins) is computed in the sandbox and handed back as plain
  data only (``None``, bool, int, float, complex, str, bytes, and lists, tuples, sets, frozensets and dicts of
  them; a subclass of one of these is read through the base type's own methods, so no override runs); the
  expected side (``3``, ``(3 + 5 + 7, 3 * 5 * 7)``) never enters the sandbox, and the comparison runs here, on
  the plain values. Whatever the completion does to its interpreter, it can only hand back values; to pass it
  has to hand back the right ones. Every function the completion defines returns plain data too, so the
  test's own arithmetic in the sandbox (``abs(candidate(x) - 0.5)``) never runs the completion's operators.
- **Any other test** (a ``for`` loop around asserts: 5 of HumanEval's) runs in the sandbox and reports that
  it finished. The builtins are restored before each test and interpreter hooks cleared, but a completion
  that reaches into the harness's own frames can forge such a report: it is the one place left to fool.
- Each test counts at most once (a report repeated or out of range counts as nothing), so the reward is the
  fraction of tests passed, in [0, 1] (``mode="fraction"``), or 1.0 only when all passed (``"binary"``).
"""

from __future__ import annotations

import ast
import builtins
import copy
import json
import math
import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor

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


# The program the sandbox runs. It keeps what it needs before the completion runs, runs the completion in a
# namespace of its own, restores the builtins and clears the interpreter's hooks before each test, and writes
# one line per operand (its plain value) or per other test (that it finished), under a nonce, straight to file
# descriptor 1.
_HARNESS = r"""
import builtins as _b, json as _json, os as _os, sys as _sys, types as _types
_sys.set_int_max_str_digits(0)
_write, _dumps, _type, _issubclass, _len = _os.write, _json.dumps, type, issubclass, len
_bdict, _saved, _BaseException, _exec, _eval, _compile = vars(_b), dict(vars(_b)), BaseException, exec, eval, compile
_NONCE, _SOLUTION, _SETUP, _TESTS = __NONCE__, __SOLUTION__, __SETUP__, __TESTS__
_SCALARS = ((int, "i", int.__repr__), (float, "f", float.__repr__), (complex, "c", complex.__repr__),
            (str, "s", lambda s: str.__getitem__(s, slice(None))), (bytes, "y", bytes.hex))
_CONTAINERS = ((list, "l", list.__iter__), (tuple, "t", tuple.__iter__), (set, "e", set.__iter__),
               (frozenset, "z", frozenset.__iter__))
_HEAP, _MANY = 1 << 9, 1_000_000


def _plain(x):
    # Plain data, read through the built-in types' own methods: no method of the value's class runs. A
    # generator or a built-in iterator (map, zip...) is read out, each item plain.
    t = _type(x)
    if x is None or x is True or x is False:
        return ["n", x]
    for base, tag, text in _SCALARS:
        if _issubclass(t, base):
            return [tag, text(x)]
    for base, tag, items in _CONTAINERS:
        if _issubclass(t, base):
            return [tag, [_plain(e) for e in items(x)]]
    if _issubclass(t, dict):
        return ["d", [[_plain(k), _plain(v)] for k, v in dict.items(x)]]
    if t is _types.GeneratorType or (not t.__flags__ & _HEAP and "__next__" in t.__dict__):
        out = []
        for e in x:
            out.append(_plain(e))
            if _len(out) > _MANY:
                raise ValueError("endless")
        return ["g", out]
    raise TypeError("not plain data: " + t.__name__)


def _report(*record):
    _write(1, (_NONCE + " " + _dumps(record) + "\n").encode())


def _reset():
    _sys.settrace(None)
    _sys.setprofile(None)
    _bdict.clear()
    _bdict.update(_saved)


_ns = {"__name__": "__main__", "__builtins__": _b}
try:
    _exec(_compile(_SOLUTION, "<solution>", "exec"), _ns)
    _reset()
    _exec(_compile(_SETUP, "<setup>", "exec"), _ns)
except _BaseException:
    _os._exit(0)
for _i, _test in enumerate(_TESTS):
    _reset()
    try:
        if "run" in _test:
            _exec(_compile(_test["run"], "<test>", "exec"), _ns)
            _report(_i, "ran")
            continue
        _exec(_compile(_test["prelude"], "<test>", "exec"), _ns)
        for _k, _hole in enumerate(_test["holes"]):
            _report(_i, _k, _plain(_eval(_compile(_hole, "<test>", "eval"), _ns)))
    except _BaseException:
        pass
_os._exit(0)
"""


def harness(solution: str, setup: str, plans: list[dict], nonce: str) -> str:
    """The program the sandbox runs (``_HARNESS``) for this solution, setup and tests (``plan_test``'s)."""
    tests = [{"run": p["run"]} if "run" in p else {"prelude": p["prelude"], "holes": p["holes"]} for p in plans]
    program = _HARNESS
    for name, value in (("__NONCE__", nonce), ("__SOLUTION__", solution), ("__SETUP__", setup),
                        ("__TESTS__", tests)):
        program = program.replace(name, repr(value), 1)
    return program


_REBUILD = {"i": int, "f": float, "c": complex}


def plain_value(e):
    """The value a sandbox handed back, as exact built-in types; ValueError for anything else."""
    if not (isinstance(e, list) and len(e) == 2 and isinstance(e[0], str)):
        raise ValueError(f"not a value: {e!r}"[:200])
    tag, v = e
    if tag == "n" and v in (None, True, False):
        return v
    if tag in _REBUILD and isinstance(v, str):
        return _REBUILD[tag](v)
    if tag == "s" and isinstance(v, str):
        return v
    if tag == "y" and isinstance(v, str):
        return bytes.fromhex(v)
    if tag == "d" and isinstance(v, list):
        return {plain_value(k): plain_value(x) for k, x in v}
    if tag == "g" and isinstance(v, list):  # a generator or iterator the sandbox read out
        return iter([plain_value(x) for x in v])
    if tag in ("l", "t", "e", "z") and isinstance(v, list):
        return {"l": list, "t": tuple, "e": set, "z": frozenset}[tag](plain_value(x) for x in v)
    raise ValueError(f"not a value: {e!r}"[:200])


def verdicts(stdout: str, plans: list[dict], nonce: str) -> list[bool]:
    """Which tests passed, from the sandbox's reports: an assert when each of its operands was handed back
    exactly once as plain data and its expression holds here on them; another test when it reported once."""
    seen: dict[tuple, list] = {}
    for line in stdout.splitlines():
        if not line.startswith(nonce + " "):
            continue
        try:
            record = json.loads(line[len(nonce) + 1:])
        except ValueError:
            continue
        if isinstance(record, list) and len(record) >= 2 and all(isinstance(r, (int, str)) for r in record[:2]):
            seen.setdefault(tuple(record[:2]), []).append(record[2:])
    passed = []
    for i, plan in enumerate(plans):
        if "run" in plan:
            passed.append(len(seen.get((i, "ran"), [])) == 1)
            continue
        try:
            values = {}
            for k in range(len(plan["holes"])):
                reports = seen.get((i, k), [])
                if len(reports) != 1 or len(reports[0]) != 1:
                    raise ValueError("missing or repeated")
                values[f"__h{k}"] = plain_value(reports[0][0])
            # Plain values and the dataset's own expression, with only pure builtins in reach.
            passed.append(bool(eval(compile(plan["judge"], "<judge>", "eval"), {"__builtins__": SAFE}, values)))
        except Exception:  # a value that is not plain data, or one that does not compare: failed
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
    nonce = "R1PIPE-" + secrets.token_hex(8)
    result = run_python(harness(code, "\n".join(filter(None, [setup, test_setup])), plans, nonce), timeout)
    return sum(verdicts(result.stdout, plans, nonce)) / len(plans)


def grade_code(texts: list[str], tests: list, entry_points: list | None = None, setups: list | None = None,
               timeout: float = GRADING_TIMEOUT, mode: str = "fraction", workers: int | None = None) -> list[float]:
    """Grade many completions at once; each runs in its own sandboxed process."""
    entry_points = entry_points or [None] * len(texts)
    setups = setups or [""] * len(texts)
    with ThreadPoolExecutor(workers or min(4, os.cpu_count() or 1)) as pool:
        fractions = list(pool.map(lambda a: run_tests(*a, timeout=timeout), zip(texts, tests, entry_points, setups)))
    return [float(f == 1.0) for f in fractions] if mode == "binary" else fractions

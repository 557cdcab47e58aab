"""Code accuracy: run the completion's last fenced code block against the tests, sandboxed.

Two test styles are understood:

- MBPP: ``tests`` is a list of assert statements (``setup`` runs first);
- HumanEval: ``tests`` is code defining ``check(candidate)``; each statement of
  ``check`` that contains an assert is one test, run with ``candidate`` bound to
  ``entry_point``.

The reward is the fraction of tests that passed (``mode="fraction"``) or 1.0 only
when all passed (``mode="binary"``).
"""

from __future__ import annotations

import ast
import json
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


def harness(solution: str, setup: str, tests: list[str], nonce: str) -> str:
    """The program the sandbox runs: solution, setup, then each test, reporting with a nonce."""
    return "\n".join([
        solution,
        setup,
        f"__r1pipe_tests = {json.dumps(tests)}",
        "for __i, __t in enumerate(__r1pipe_tests):",
        "    try:",
        "        exec(__t, globals())",
        f"        print('{nonce}', __i, flush=True)",
        "    except BaseException:",
        "        pass",
    ])


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
    nonce = "R1PIPE-PASS-" + secrets.token_hex(8)
    # If the solution does not compile, nothing runs: all tests fail.
    result = run_python(harness(code, "\n".join(filter(None, [setup, test_setup])), snippets, nonce), timeout)
    passed = {line.split()[1] for line in result.stdout.splitlines() if line.startswith(nonce + " ")}
    return len(passed) / len(snippets)


def grade_code(texts: list[str], tests: list, entry_points: list | None = None, setups: list | None = None,
               timeout: float = GRADING_TIMEOUT, mode: str = "fraction", workers: int | None = None) -> list[float]:
    """Grade many completions at once; each runs in its own sandboxed process."""
    entry_points = entry_points or [None] * len(texts)
    setups = setups or [""] * len(texts)
    with ThreadPoolExecutor(workers or min(4, os.cpu_count() or 1)) as pool:
        fractions = list(pool.map(lambda a: run_tests(*a, timeout=timeout), zip(texts, tests, entry_points, setups)))
    return [float(f == 1.0) for f in fractions] if mode == "binary" else fractions

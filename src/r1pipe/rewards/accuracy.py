"""Accuracy: is the final answer right? Dispatches on the ``task`` column.

- ``math`` (the default): gold answer in ``answer``;
- ``code``: tests in ``tests``, optional ``entry_point`` and ``setup``;
- ``countdown``: ``numbers`` and ``target``;
- ``general``: no rule applies (None); reward models score these rows (``helpfulness``, ``harmlessness``).

Rows are graded in groups per task, so each grader batches its own work
(math-verify in a process pool, code in parallel sandboxes).
"""

from __future__ import annotations

from typing import get_args

from r1pipe import R1pipeError
from r1pipe.answers import completion_text
from r1pipe.config import TaskName
from r1pipe.rewards.code import grade_code
from r1pipe.rewards.countdown import grade_countdown
from r1pipe.rewards.limits import GRADING_TIMEOUT
from r1pipe.rewards.math import grade_math

TASKS = get_args(TaskName)


def _column(columns: dict, name: str, task: str, idx: list[int], required: bool = True):
    values = columns.get(name)
    if values is None:
        if required:
            raise R1pipeError(f"accuracy: task {task!r} needs a {name!r} column")
        return None
    return [values[i] for i in idx]


def grade(completions, columns: dict, timeout: float = GRADING_TIMEOUT, code_mode: str = "fraction",
          workers: int | None = None) -> list[float | None]:
    texts = [completion_text(c) for c in completions]
    tasks = columns.get("task") or ["math"] * len(texts)
    out: list[float | None] = [None] * len(texts)
    for task in sorted(set(tasks)):
        idx = [i for i, t in enumerate(tasks) if t == task]
        sub = [texts[i] for i in idx]
        if task == "math":
            scores = grade_math(sub, _column(columns, "answer", task, idx), timeout=timeout, workers=workers)
        elif task == "code":
            scores = grade_code(sub, _column(columns, "tests", task, idx),
                                _column(columns, "entry_point", task, idx, required=False),
                                _column(columns, "setup", task, idx, required=False),
                                timeout=timeout, mode=code_mode, workers=workers)
        elif task == "general":
            scores = [None] * len(idx)
        elif task == "countdown":
            scores = grade_countdown(sub, _column(columns, "numbers", task, idx), _column(columns, "target", task, idx))
        else:
            raise R1pipeError(f"accuracy: no grader for task {task!r} (known: {', '.join(TASKS)})")
        for i, s in zip(idx, scores):
            out[i] = s
    return out

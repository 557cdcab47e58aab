"""Turning raw task rows (a file's or a hub dataset's) into r1pipe prompt rows, per task type.

Every prompt row has the same columns whatever its task, so that rows of
different tasks can share one dataset:

- ``question`` (turned into ``prompt`` chat messages later), ``answer`` (gold, a string),
  ``solution`` (a worked solution, or "");
- ``code``: ``tests`` (test code: HumanEval's ``check`` or MBPP's asserts, one per line),
  ``entry_point`` and ``setup``;
- ``countdown``: ``numbers`` and ``target``.

``columns`` maps r1pipe's names to the source's (``{question: problem}``), and
``question_template`` can wrap the question (``"Complete this function:\\n{question}"``).
"""

from __future__ import annotations

from typing import get_args

from r1pipe import R1pipeError
from r1pipe.config import COLUMNS, WORKED_ANSWERS, TaskName
from r1pipe.data.files import gold_from, solution_from

TASKS = get_args(TaskName)
EMPTY = {"answer": "", "solution": "", "tests": "", "entry_point": "", "setup": "", "numbers": [], "target": 0}
assert set(EMPTY) | {"question"} == set(COLUMNS), "a row field that `columns` cannot map, or the reverse"
REQUIRED = {"math": ["question", "answer"], "code": ["question", "tests"], "countdown": ["numbers", "target"],
            "general": ["question"]}
COUNTDOWN_QUESTION = ("Using the numbers {numbers}, create an equation that equals {target}. You can use "
                      "+, -, * and /, and each number exactly once. Give only the equation as the answer.")


def to_row(raw: dict, task: str, columns: dict[str, str], answer_format: str = "plain",
           question_template: str | None = None, where: str = "", index: int = 0) -> dict:
    mapping = {**{k: k for k in [*EMPTY, "question"]}, **columns}
    for key in REQUIRED[task]:
        if mapping[key] not in raw:
            raise R1pipeError(f"{where}: row {index}: missing column {mapping[key]!r} (have: {', '.join(raw)})")

    def get(key):
        value = raw.get(mapping[key])
        return EMPTY[key] if value is None else value

    row = dict(EMPTY)
    if task == "math":
        row["answer"] = gold_from(raw[mapping["answer"]], answer_format)
        if not row["answer"]:
            raise R1pipeError(f"{where}: row {index}: cannot read a {answer_format} answer from {mapping['answer']!r}")
        worked = raw.get(mapping["solution"])
        if worked is None and answer_format in WORKED_ANSWERS:
            worked = raw[mapping["answer"]]
        row["solution"] = "" if worked is None else solution_from(worked, answer_format)
    elif task == "general":  # no rule-based answer: reward models or a judge score these
        row["answer"] = str(get("answer"))
    elif task == "code":
        tests = raw[mapping["tests"]]
        row["tests"] = "\n".join(tests) if isinstance(tests, list) else str(tests)
        row["entry_point"], row["setup"] = str(get("entry_point")), str(get("setup"))
    else:
        row["numbers"] = [int(n) for n in raw[mapping["numbers"]]]
        row["target"] = int(raw[mapping["target"]])
        row["answer"] = str(row["target"])
    fields = {**raw, **{k: row[k] for k in EMPTY}}
    question = str(raw[mapping["question"]]) if mapping["question"] in raw else ""
    template = question_template or ("{question}" if question else COUNTDOWN_QUESTION)
    try:
        row["question"] = template.format(**{**fields, "question": question})
    except (KeyError, IndexError) as e:
        raise R1pipeError(f"{where}: question_template names a missing field {e}") from None
    return row


def to_rows(raws: list[dict], task: str, columns: dict[str, str], answer_format: str = "plain",
            question_template: str | None = None, where: str = "") -> list[dict]:
    return [to_row(r, task, columns, answer_format, question_template, where, i) for i, r in enumerate(raws)]

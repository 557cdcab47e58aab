"""Eval benchmarks: ready-made definitions, and loading one into prompt rows.

A benchmark's source is ``prompts`` (the test split that ``prepare`` wrote), a
local file, or a hub dataset id. A ready-made benchmark reads its local copy
from ``eval.data_dir`` when one is there, and its hub dataset otherwise.
"""

from __future__ import annotations

from pathlib import Path

from r1pipe import R1pipeError
from r1pipe.config import is_local
from r1pipe.config.sampling import Benchmark
from r1pipe.data.files import read_hub, read_rows
from r1pipe.data.tasks import to_rows
from r1pipe.data.templates import make_prompt

HUMANEVAL_QUESTION = "Complete the following Python function. Answer with the whole function.\n```python\n{question}```"
MBPP_QUESTION = "{question}\nYour code should pass these tests:\n{tests}"

# name -> fields of Benchmark, plus `local` (a path under data_dir) and `hub` (dataset id).
READY: dict[str, dict] = {
    "arithmetic": {"source": "prompts"},
    # The prepared validation split (prepare's n_validation): where settings are chosen, never on test.
    "validation": {"source": "prompts", "split": "validation"},
    "gsm8k": {"local": "math/gsm8k_test.jsonl", "hub": "openai/gsm8k", "subset": "main", "answer_format": "gsm8k"},
    # GSM8K at a 135M model's level: problems whose reference solution takes at most two lines.
    "gsm8k_easy": {"local": "math/gsm8k_test.jsonl", "hub": "openai/gsm8k", "subset": "main", "answer_format": "gsm8k",
                   "max_solution_lines": 2},
    "math500": {"local": "math/math500_test.jsonl", "hub": "HuggingFaceH4/MATH-500",
                "columns": {"question": "problem"}},
    "aime2024": {"local": "math/aime2024.jsonl", "hub": "HuggingFaceH4/aime_2024", "split": "train",
                 "columns": {"question": "problem"}},
    "aime2025": {"local": "math/aime2025.jsonl", "hub": "yentinglin/aime_2025", "split": "train",
                 "columns": {"question": "problem"}},
    "amc23": {"local": "math/amc23.jsonl", "hub": "math-ai/amc23", "columns": {"question": "problem"}},
    "humaneval": {"local": "code/HumanEval.jsonl.gz", "hub": "openai/openai_humaneval", "task": "code",
                  "columns": {"question": "prompt", "tests": "test"}, "question_template": HUMANEVAL_QUESTION},
    "mbpp": {"local": "code/mbpp.jsonl", "hub": "google-research-datasets/mbpp", "subset": "full", "task": "code",
             "columns": {"question": "text", "tests": "test_list", "setup": "test_setup_code"},
             "question_template": MBPP_QUESTION},
    "countdown": {"local": "countdown/countdown_test_2000.jsonl", "hub": "Jiayi-Pan/Countdown-Tasks-3to4",
                  "task": "countdown", "columns": {"numbers": "nums"}},
}


def check_benchmarks(benchmarks: list[Benchmark]) -> list[Benchmark]:
    """Every benchmark is ready-made or says where its rows come from."""
    for b in benchmarks:
        if b.name not in READY and b.source is None:
            raise ValueError(f"{b.name}: not a ready-made benchmark ({', '.join(READY)}), so it needs a source")
    return benchmarks


def resolve(bench: Benchmark, data_dir: str | None) -> Benchmark:
    """Fill the fields a benchmark leaves out from its ready-made definition."""
    ready = dict(READY.get(bench.name, {}))
    local, hub = ready.pop("local", None), ready.pop("hub", None)
    if bench.source is None:
        if local and data_dir and (Path(data_dir) / local).is_file():
            ready["source"] = str(Path(data_dir) / local)
        elif hub:
            ready["source"] = hub
    given = bench.model_dump(exclude_none=True)
    defaults = {"task": "math", "columns": {}, "answer_format": "plain"}
    return Benchmark(**{**defaults, **ready, **given})


def _solution_lines(raw: dict, bench: Benchmark) -> int:
    """Non-empty lines of a reference solution, its final ``#### answer`` line left out."""
    text = str(raw.get(bench.columns.get("answer", "answer"), ""))
    return sum(1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith("####"))


def load(bench: Benchmark, prompts_dir: Path, system_prompt: str) -> list[dict]:
    """A resolved benchmark's rows, with ``prompt`` chat messages, at most ``limit`` of them."""
    if bench.source == "prompts":
        from r1pipe.data.io import load_split

        rows = load_split(prompts_dir, bench.split or "test").to_list()
    else:
        if is_local(bench.source):
            raw = read_rows(bench.source)
        else:
            raw = read_hub(bench.source, bench.split or "test", bench.subset)
        if bench.max_solution_lines is not None:
            raw = [r for r in raw if _solution_lines(r, bench) <= bench.max_solution_lines]
        rows = to_rows(raw[: bench.limit], bench.task, bench.columns, bench.answer_format, bench.question_template,
                       where=bench.source)
        for i, row in enumerate(rows):
            row.update(prompt=make_prompt(system_prompt, row.pop("question")), task=bench.task,
                       id=f"{bench.name}/{i}", source=bench.name)
    if not rows:
        raise R1pipeError(f"benchmark {bench.name}: no rows in {bench.source}")
    return rows[: bench.limit]

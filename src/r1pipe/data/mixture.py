"""The prompt set of a GRPO run: reasoning prompts, plus general prompts at a set ratio (rl_all)."""

from __future__ import annotations

import random
from pathlib import Path

from datasets import Dataset

from r1pipe import R1pipeError
from r1pipe.config.grpo import GRPOSection
from r1pipe.data.files import read_rows
from r1pipe.data.io import load_split, require_columns
from r1pipe.data.tasks import EMPTY
from r1pipe.data.templates import apply_template, make_prompt


def system_prompt(messages: list[dict]) -> str:
    """The system prompt `prepare` gave a row (its first message), or "" where it gave none."""
    return messages[0]["content"] if messages and messages[0]["role"] == "system" else ""


def rl_prompts(data: Path, cfg: GRPOSection) -> Dataset:
    """The training prompts of a GRPO run; general prompts get the system prompt the prepared ones have."""
    reasoning = load_split(data, "train")
    require_columns(reasoning, ["prompt", "answer", "task"], data)
    if cfg.max_prompts:
        reasoning = reasoning.select(range(min(cfg.max_prompts, len(reasoning))))
    rows = reasoning.to_list()
    if cfg.general_prompts and cfg.general_ratio > 0:
        general = read_rows(cfg.general_prompts)
        random.Random(cfg.seed).shuffle(general)
        n = round(len(rows) * cfg.general_ratio / (1 - cfg.general_ratio))
        columns = [c for c in rows[0] if c not in ("prompt", "task", "id", "source")]
        system = system_prompt(rows[0]["prompt"])
        for i, g in enumerate(general[:n]):
            if "question" not in g:
                raise R1pipeError(f"{cfg.general_prompts}: row {i}: missing column 'question' (have: {', '.join(g)})")
            rows.append({**{c: EMPTY.get(c, "") for c in columns}, "id": f"general/{i}", "source": "general",
                         "task": "general", "prompt": make_prompt(system, str(g["question"]))})
    random.Random(cfg.seed).shuffle(rows)
    for r in rows:
        r["prompt"] = apply_template(r["prompt"], cfg.template)
    return Dataset.from_list(rows)


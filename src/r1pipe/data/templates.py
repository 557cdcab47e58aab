"""Prompt and completion templates shared by prepare, coldstart and the tiny tokenizer."""

from __future__ import annotations

THINK_TAGS = ["<think>", "</think>", "<answer>", "</answer>"]

SYSTEM_PROMPT = (
    "You are a helpful assistant. First think about the problem step by step inside "
    "<think> </think> tags, then give only the final answer inside <answer> </answer> tags."
)


def make_prompt(system_prompt: str, question: str) -> list[dict]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": question}]


def render_completion(solution: str, answer: str) -> str:
    """The R1 output format: reasoning in <think>, the final answer alone in <answer>."""
    return f"<think>\n{solution.strip()}\n</think>\n<answer>{answer}</answer>"

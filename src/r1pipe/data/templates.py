"""Prompt and completion templates shared by prepare, coldstart and the tiny tokenizer."""

from __future__ import annotations

THINK_TAGS = ["<think>", "</think>", "<answer>", "</answer>"]



# The paper's R1-Zero template (Table 1): plain text, no chat template, for a base model.
ZERO_TEMPLATE = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with "
    "the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> "
    "tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. "
    "User: {question}. Assistant:"
)


def apply_template(prompt: list[dict], template: str):
    """``chat``: the messages as they are; ``zero``: the user's question in the R1-Zero text template."""
    if template == "zero":
        return ZERO_TEMPLATE.format(question=prompt[-1]["content"])
    return prompt


def make_prompt(system_prompt: str, question: str) -> list[dict]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": question}]


def render_completion(solution: str, answer: str) -> str:
    """The R1 output format: reasoning in <think>, the final answer alone in <answer>."""
    return f"<think>\n{solution.strip()}\n</think>\n<answer>{answer}</answer>"

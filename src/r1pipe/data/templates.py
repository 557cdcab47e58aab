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
    """``chat``: the messages as they are; ``zero``: the user's question in the R1-Zero text template;
    ``zero_think``: the same, ending with an opened ``<think>`` (as TinyZero's template does)."""
    if template in ("zero", "zero_think"):
        text = ZERO_TEMPLATE.format(question=prompt[-1]["content"])
        return text + " <think>" if opens_think(template) else text
    return prompt


def opens_think(template: str, chat_template_opens: bool = False) -> bool:
    """Whether the prompt ends inside an opened think block, so that the rewards score each completion as the
    turn it continues (``think_prefilled``): ``zero_think`` opens it, and so does a chat template that opens
    it itself (Qwen3; ``chat_template_opens``, from ``engines.base.think_prefilled``)."""
    return template == "zero_think" or template == "chat" and chat_template_opens


def make_prompt(system_prompt: str, question: str) -> list[dict]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": question}]


def render_completion(solution: str, answer: str) -> str:
    """The R1 output format: reasoning in <think>, the final answer alone in <answer>."""
    return f"<think>\n{solution.strip()}\n</think>\n<answer>{answer}</answer>"

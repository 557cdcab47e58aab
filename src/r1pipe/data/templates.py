"""Prompt and completion templates shared by prepare, coldstart and the tiny tokenizer, and the one rule for a
prompt that ends inside an opened ``<think>`` (``opens_think``), which every stage that scores completions uses."""

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


def chat_template_opens_think(tok) -> bool:
    """Whether the tokenizer's chat template opens the think block itself, ending the generation prompt with
    ``<think>`` (Qwen3, the R1 distills): the completion then starts inside the reasoning."""
    if not getattr(tok, "chat_template", None):
        return False
    text = tok.apply_chat_template([{"role": "user", "content": "1+1?"}], add_generation_prompt=True, tokenize=False)
    return text.rstrip().endswith("<think>")


def opens_think(template: str, chat_template_opens: bool = False) -> bool:
    """Whether the prompt ends inside an opened think block, so that the rewards score each completion as the
    turn it continues (``think_prefilled``): ``zero_think`` opens it, and so does a chat template that opens
    it itself (Qwen3; ``chat_template_opens``, from :func:`chat_template_opens_think`)."""
    return template == "zero_think" or template == "chat" and chat_template_opens


def mark_prefilled(rows: list[dict], template: str, chat_template_opens: bool) -> list[dict]:
    """Rows with ``think_prefilled`` set where :func:`opens_think` says so, for the rewards (format, language),
    which then score each completion as the turn it continues (``answers.turn_text``)."""
    if not opens_think(template, chat_template_opens):
        return rows
    return [{**row, "think_prefilled": True} for row in rows]


def make_prompt(system_prompt: str, question: str) -> list[dict]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": question}]


def render_completion(solution: str, answer: str) -> str:
    """The R1 output format: reasoning in <think>, the final answer alone in <answer>."""
    return f"<think>\n{solution.strip()}\n</think>\n<answer>{answer}</answer>"

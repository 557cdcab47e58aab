"""What every generation engine shares: prompt formatting, and the sampling settings (``config/sampling.py``)
and completions (``data/completion.py``) it is given and returns."""

from __future__ import annotations

from r1pipe.config.sampling import Sampling
from r1pipe.data.completion import Completion

__all__ = ["Completion", "Sampling", "format_prompts", "think_prefilled"]


def think_prefilled(tok) -> bool:
    """Whether the tokenizer's chat template opens the think block itself, ending the generation prompt with
    ``<think>`` (Qwen3, the R1 distills): the completion then starts inside the reasoning."""
    if not getattr(tok, "chat_template", None):
        return False
    text = tok.apply_chat_template([{"role": "user", "content": "1+1?"}], add_generation_prompt=True, tokenize=False)
    return text.rstrip().endswith("<think>")


def format_prompts(tok, prompts: list) -> list[str]:
    """Chat messages through the model's chat template; a plain string (R1-Zero's template) as it is.

    Both engines format prompts here, so they see exactly the same text.
    """
    return [p if isinstance(p, str) else tok.apply_chat_template(p, add_generation_prompt=True, tokenize=False)
            for p in prompts]

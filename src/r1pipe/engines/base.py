"""What every generation engine shares: sampling settings, completions, and prompt formatting."""

from __future__ import annotations

from dataclasses import dataclass

from r1pipe.config.sampling import SamplingSection

_SECTION = SamplingSection.model_fields


@dataclass(frozen=True)
class Sampling:
    """One generation's settings; left out, the generation sections' defaults (config/sampling.py)."""

    temperature: float = _SECTION["temperature"].default
    top_p: float = _SECTION["top_p"].default
    max_new_tokens: int = _SECTION["max_new_tokens"].default


@dataclass(frozen=True)
class Completion:
    text: str
    n_tokens: int
    finished: bool  # ended with eos rather than running into max_new_tokens
    token_ids: tuple[int, ...] | None = None


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

"""What every generation engine shares: prompt formatting, and the sampling settings (``config/sampling.py``)
and completions (``data/completion.py``) it is given and returns."""

from __future__ import annotations

from r1pipe import distributed, hardware
from r1pipe.config.sampling import Sampling
from r1pipe.data.completion import Completion

__all__ = ["Completion", "Sampling", "format_prompts", "generation_dtype"]


def generation_dtype(setting: str, on_cpu: bool) -> str:
    """The dtype an engine loads its weights in for a ``dtype`` setting (``hardware.resolve_dtype``), with the
    one-line warning where bf16 is asked of a CPU that emulates it."""
    dtype = hardware.resolve_dtype(setting)
    if (warning := hardware.emulated_bf16(dtype, on_cpu)) and distributed.is_main():
        from r1pipe.progress import console

        console.print(warning)
    return dtype


def format_prompts(tok, prompts: list) -> list[str]:
    """Chat messages through the model's chat template; a plain string (R1-Zero's template) as it is.

    Both engines format prompts here, so they see exactly the same text.
    """
    return [p if isinstance(p, str) else tok.apply_chat_template(p, add_generation_prompt=True, tokenize=False)
            for p in prompts]

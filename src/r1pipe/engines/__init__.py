"""Generation behind one interface, used by reject-sample and eval.

``make_engine(name, model_dir)`` returns an object with
``generate(prompts, n, sampling, seed) -> list[list[Completion]]``: for each
prompt (chat messages), ``n`` completions with their token counts.
``engine: auto`` picks vLLM when it is installed and a GPU is present, and
transformers otherwise.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import torch

from r1pipe import R1pipeError


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 256


@dataclass(frozen=True)
class Completion:
    text: str
    n_tokens: int
    finished: bool  # ended with eos rather than running into max_new_tokens
    token_ids: tuple[int, ...] | None = None


def pick_engine(name: str) -> str:
    if name == "auto":
        has_vllm = importlib.util.find_spec("vllm") is not None
        return "vllm" if has_vllm and torch.cuda.is_available() else "hf"
    return name


def format_prompts(tok, prompts: list) -> list[str]:
    """Chat messages through the model's chat template; a plain string (R1-Zero's template) as it is.

    Both engines format prompts here, so they see exactly the same text.
    """
    return [p if isinstance(p, str) else tok.apply_chat_template(p, add_generation_prompt=True, tokenize=False)
            for p in prompts]


def make_engine(name: str, model_dir, batch_size: int = 16, tensor_parallel_size: int = 1):
    kind = pick_engine(name)
    if kind == "hf":
        from r1pipe.engines.hf import HFEngine

        return HFEngine(model_dir, batch_size=batch_size)
    if importlib.util.find_spec("vllm") is None:
        raise R1pipeError("engine 'vllm' requested but vllm is not installed (pip install 'r1pipe[vllm]')")
    from r1pipe.engines.vllm import VLLMEngine

    return VLLMEngine(model_dir, tensor_parallel_size=tensor_parallel_size)



def open_engine(cfg, model, engine=None):
    """The engine ``cfg.engine`` picks for ``model`` (a SamplingSection), unless one is given (tests)."""
    if engine is not None:
        return engine
    from r1pipe.models import require_model_dir

    require_model_dir(model)
    return make_engine(cfg.engine, model, batch_size=cfg.batch_size, tensor_parallel_size=cfg.tensor_parallel_size)

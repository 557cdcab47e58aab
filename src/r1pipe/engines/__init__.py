"""Generation behind one interface, used by reject-sample and eval.

``make_engine(name, model_dir)`` returns an object with
``generate(prompts, n, sampling, seed, label, journal) -> list[list[Completion]]``: for each
prompt (chat messages), ``n`` completions with their token counts, and ``think_prefilled``:
whether the model's chat template opens the think block itself. Both generate in
batches of ``batch_size`` prompts, which a ``journal`` (``engines/journal.py``) keeps on
disk as they finish, so that a killed stage resumes.
``engine: auto`` picks vLLM when it is installed and a GPU is present, and
transformers otherwise.
"""

from __future__ import annotations

import importlib.util

import torch

from r1pipe import R1pipeError
from r1pipe.engines.base import Completion, Sampling, format_prompts

__all__ = ["Completion", "Sampling", "format_prompts", "make_engine", "open_engine", "pick_engine"]


def pick_engine(name: str) -> str:
    if name == "auto":
        has_vllm = importlib.util.find_spec("vllm") is not None
        return "vllm" if has_vllm and torch.cuda.is_available() else "hf"
    return name


def make_engine(name: str, model_dir, batch_size: int = 16, tensor_parallel_size: int = 1, dtype: str = "auto"):
    kind = pick_engine(name)
    if kind == "hf":
        from r1pipe.engines.hf import HFEngine

        return HFEngine(model_dir, batch_size=batch_size, dtype=dtype)
    if importlib.util.find_spec("vllm") is None:
        raise R1pipeError("engine 'vllm' requested but vllm is not installed (pip install 'r1pipe[vllm]')")
    from r1pipe.engines.vllm import VLLMEngine

    return VLLMEngine(model_dir, tensor_parallel_size=tensor_parallel_size, batch_size=batch_size, dtype=dtype)


def open_engine(cfg, model, engine=None):
    """The engine ``cfg.engine`` picks for ``model`` (a SamplingSection), unless one is given (tests)."""
    if engine is not None:
        return engine
    from r1pipe.models import require_model_dir

    require_model_dir(model)
    return make_engine(cfg.engine, model, batch_size=cfg.batch_size, tensor_parallel_size=cfg.tensor_parallel_size,
                       dtype=cfg.dtype)

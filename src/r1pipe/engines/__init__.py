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


def make_engine(name: str, model_dir, batch_size: int = 16):
    kind = pick_engine(name)
    if kind == "hf":
        from r1pipe.engines.hf import HFEngine

        return HFEngine(model_dir, batch_size=batch_size)
    if importlib.util.find_spec("vllm") is None:
        raise R1pipeError("engine 'vllm' requested but vllm is not installed (pip install 'r1pipe[vllm]')")
    raise R1pipeError("engine 'vllm' is not available in this version of r1pipe; use engine: hf")


def sample_prompts(cfg, model, data, split: str, n: int, label: str, engine=None):
    """Load a split's prompt rows (at most ``cfg.max_prompts``) and sample ``n`` completions for each.

    Shared by reject-sample and eval; ``cfg`` is a SamplingSection. ``engine`` may be
    given (tests use a fake one); otherwise ``cfg.engine`` picks one for ``model``.
    """
    from r1pipe.data.io import load_split, require_columns
    from r1pipe.models import require_model_dir
    from r1pipe.seed import seed_everything

    seed_everything(cfg.seed)
    rows = load_split(data, split)
    require_columns(rows, ["prompt", "answer"], data)
    if cfg.max_prompts:
        rows = rows.select(range(min(cfg.max_prompts, len(rows))))
    rows = rows.to_list()
    if engine is None:
        require_model_dir(model)
        engine = make_engine(cfg.engine, model, batch_size=cfg.batch_size)
    sampling = Sampling(cfg.temperature, cfg.top_p, cfg.max_new_tokens)
    return rows, engine.generate([r["prompt"] for r in rows], n, sampling, cfg.seed, label=label)

"""Resolve a model reference and load models for training and generation.

A reference is ``tiny`` (built offline from a seed), a local ``save_pretrained``
directory, or a hub id. Whatever it is, stages after ``base`` only ever see
ordinary local model directories.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from r1pipe import R1pipeError
from r1pipe.config import ModelRef

# r1pipe draws its own rich progress; transformers' tqdm bars would interleave with it.
hf_logging.disable_progress_bar()


def _fix_special_tokens(model, tok):
    """Chat turns end with eos; pad must exist for batching. Set both explicitly, everywhere."""
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model.config.pad_token_id = tok.pad_token_id
    model.config.eos_token_id = tok.eos_token_id
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tok.pad_token_id
        model.generation_config.eos_token_id = tok.eos_token_id
    return model, tok


def resolve(ref: ModelRef, seed: int):
    """Return (model, tokenizer) for a reference, in float32."""
    if ref.model == "tiny":
        from r1pipe.models import tiny

        return _fix_special_tokens(*tiny.build(ref.tiny, seed))
    if Path(ref.model).is_dir():
        return load_model(ref.model), load_tokenizer(ref.model)
    try:
        model = AutoModelForCausalLM.from_pretrained(ref.model, dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(ref.model)
    except OSError as e:
        raise R1pipeError(
            f"cannot resolve model {ref.model!r}: not 'tiny', not a local directory, "
            f"and the hub did not provide it ({str(e).splitlines()[0][:120]})"
        ) from None
    return _fix_special_tokens(model, tok)


def materialize(ref: ModelRef, seed: int, out_dir: Path) -> None:
    model, tok = resolve(ref, seed)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)


def require_model_dir(path: str | Path) -> Path:
    path = Path(path)
    if not (path / "config.json").is_file():
        raise R1pipeError(f"model not found: {path} (expected a save_pretrained directory with config.json)")
    return path


def load_model(path: str | Path, dtype=torch.float32):
    """Training keeps float32 master weights: bf16 weights swallow small updates silently."""
    model = AutoModelForCausalLM.from_pretrained(require_model_dir(path), dtype=dtype)
    return model


def load_tokenizer(path: str | Path):
    tok = AutoTokenizer.from_pretrained(require_model_dir(path))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok

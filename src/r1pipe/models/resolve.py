"""Resolve a model reference and load models for training and generation.

A reference is ``tiny`` (built offline from a seed), a named model that resolves
without the hub (``smollm2-135m-instruct``, see :mod:`r1pipe.models.known`), a
local ``save_pretrained`` directory, or a hub id, optionally cut down to fewer
layers (``layers: N``, for a student). Whatever it is, stages after ``base`` only ever see
ordinary local model directories.
"""

from __future__ import annotations

import copy
import os
import re
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from r1pipe import R1pipeError
from r1pipe.config.models import ModelRef
from r1pipe.models.known import KNOWN, load_known

# r1pipe draws its own rich progress; transformers' tqdm bars would interleave with it.
hf_logging.disable_progress_bar()


def _fix_special_tokens(model, tok, eos: str | None = None):
    """Chat turns end with eos; pad must exist for batching. Set both explicitly, everywhere.

    SmolLM2's GGUF tokenizer is the reason to be explicit: depending on the
    transformers version it has no pad token, or its eos falls back to ``<|im_start|>``.
    """
    if eos is not None:
        tok.eos_token = eos
        tok.pad_token = eos
    with_pad(tok)
    model.config.pad_token_id = tok.pad_token_id
    model.config.eos_token_id = tok.eos_token_id
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tok.pad_token_id
        model.generation_config.eos_token_id = tok.eos_token_id
    return model, tok


def resolve(ref: ModelRef, seed: int):
    """Return (model, tokenizer, source) for a reference, in float32; ``source`` says where it came from."""
    if ref.model == "tiny":
        from r1pipe.models import tiny

        return *_fix_special_tokens(*tiny.build(ref.tiny, seed)), "tiny"
    if ref.model in KNOWN:
        model, tok, source = load_known(ref.model)
        return *_fix_special_tokens(model, tok, KNOWN[ref.model].eos), source
    if Path(ref.model).is_dir():
        return load_model(ref.model), load_tokenizer(ref.model), f"local:{ref.model}"
    try:
        model = AutoModelForCausalLM.from_pretrained(ref.model, dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(ref.model)
    except OSError as e:
        raise R1pipeError(
            f"cannot resolve model {ref.model!r}: not 'tiny', not one of {sorted(KNOWN)}, not a local directory, "
            f"and the hub did not provide it ({str(e).splitlines()[0][:120]})"
        ) from None
    return *_fix_special_tokens(model, tok), f"hub:{ref.model}"


def keep_layers(model, n: int):
    """A smaller copy: ``n`` of the decoder layers, evenly spread, the first and the last always kept.

    The copy is a fresh model built from the config with ``n`` layers, so layer
    indices (which the KV cache uses) are renumbered.
    """
    total = model.config.num_hidden_layers
    if not 1 <= n <= total:
        raise R1pipeError(f"layers: {n} is not between 1 and the model's {total} layers")
    kept = [round(i * (total - 1) / max(n - 1, 1)) for i in range(n)]
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = n
    if getattr(config, "layer_types", None):
        config.layer_types = [config.layer_types[i] for i in kept]
    small = type(model)(config)
    state = {}
    for key, value in model.state_dict().items():
        match = re.match(r"(.*\.layers\.)(\d+)(\..*)", key)
        if match is None:
            state[key] = value
        elif int(match[2]) in kept:
            state[f"{match[1]}{kept.index(int(match[2]))}{match[3]}"] = value
    small.load_state_dict(state, strict=True)
    small.generation_config = copy.deepcopy(model.generation_config)
    return small


def materialize(ref: ModelRef, seed: int, out_dir: Path) -> str:
    """Save the reference as a plain model directory; return where it came from."""
    model, tok, source = resolve(ref, seed)
    if ref.layers is not None:
        total = model.config.num_hidden_layers
        model = keep_layers(model, ref.layers)
        source = f"{source}, {ref.layers} of {total} layers"
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return source


def require_model_dir(path: str | Path) -> Path:
    path = Path(path)
    if not (path / "config.json").is_file():
        raise R1pipeError(f"model not found: {path} (expected a save_pretrained directory with config.json)")
    return path


@contextmanager
def _readable(path: Path, what: str):
    """A model directory that exists but does not load (truncated weights, bad JSON) is a one-line error."""
    try:
        yield
    except R1pipeError:
        raise
    except Exception as e:  # noqa: BLE001 - transformers, safetensors and tokenizers each raise their own
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise R1pipeError(f"{path}: cannot load the {what} ({type(e).__name__}: {reason})") from None


# Set to 1 to load a model whose files lack weights its config needs (they start random): for the rare run that
# means it, such as a model grown by layers on purpose.
ALLOW_MISSING = "R1PIPE_ALLOW_MISSING_WEIGHTS"


def load_model(path: str | Path, dtype=torch.float32):
    """Training keeps float32 master weights: bf16 weights swallow small updates silently.

    transformers fills a weight the files lack at random and only says so in a log line; a checkpoint cut
    short or a config with more layers than its weights would then train or be scored as if whole. So any
    missing, unexpected or mismatched tensor stops here, named (unless ``R1PIPE_ALLOW_MISSING_WEIGHTS=1``)."""
    path = require_model_dir(path)
    with _readable(path, "model"):
        model, info = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, output_loading_info=True)
    wrong = {kind: sorted(str(k[0] if isinstance(k, tuple) else k) for k in info.get(kind) or [])
             for kind in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    wrong = {kind: names for kind, names in wrong.items() if names}
    if wrong and os.environ.get(ALLOW_MISSING) != "1":
        said = "; ".join(f"{len(names)} {kind.replace('_keys', '')} ({', '.join(names[:3])}"
                         f"{', ...' if len(names) > 3 else ''})" for kind, names in wrong.items())
        raise R1pipeError(f"{path}: its weight files do not match its config: {said}; transformers would fill "
                          f"the missing ones at random (set {ALLOW_MISSING}=1 if that is meant)")
    # A NaN or inf weight (a diverged run saved, a broken conversion) makes every later loss and sample NaN or
    # garbage, and a trainer fails on it far from the cause: one pass over the weights here names it.
    broken = next((name for name, w in model.state_dict().items() if w.is_floating_point() and
                   not torch.isfinite(w).all()), None)
    if broken:
        raise R1pipeError(f"{path}: weight {broken} holds NaN or inf values; this model cannot train or generate "
                          "(retrain it, or load an earlier checkpoint)")
    return model


def load_tokenizer(path: str | Path):
    path = require_model_dir(path)
    with _readable(path, "tokenizer"):
        return with_pad(AutoTokenizer.from_pretrained(path))


def with_pad(tok):
    """Batching needs a pad token: the eos, where the tokenizer has none."""
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok

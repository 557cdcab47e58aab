"""Sampling's draw with one uniform number per row, where transformers' ``generate`` calls ``torch.multinomial``.

Timed alone on a 2-core CPU, temperature, softmax and ``torch.multinomial`` over a 49,152-token vocabulary take
38 ms at GRPO's 32 rows (a float32 decode step is ~200 ms) and 150 ms at reject-sample's 128; with this draw,
7 and 39 ms (``bench/generation.md``). It reads the same distribution by its inverse CDF: the softmax of the
processed logits, its running sum in float64, one uniform ``u`` in (0, total] per row, and the first token
whose running sum reaches ``u``. Token ``i`` is drawn with
probability ``p_i`` (to float64 rounding of the running sum), a token of probability 0 never (its running sum
equals its predecessor's, which reaches ``u`` first). So the completions come from the policy's distribution,
as before; seed for seed they differ from ``multinomial``'s, whose random stream is its own.

``generate_kwargs`` turns a sampling call into a greedy one whose processors end in the draw: transformers'
own warpers (temperature, top-k, top-p, min-p, in the order ``generate`` applies them), then ``InverseCDFDraw``,
whose output keeps only the drawn token for greedy's argmax. Settings it does not rebuild (beams, typical-p,
epsilon or eta cutoffs, top-h, watermarking, renormalized logits) keep transformers' own path.
"""

from __future__ import annotations

import copy
import math

import torch
from transformers import LogitsProcessor, LogitsProcessorList
from transformers.generation.logits_process import (
    MinPLogitsWarper,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)


class InverseCDFDraw(LogitsProcessor):
    """One token per row, drawn from ``softmax(scores)``; returns scores of 0 at that token and -inf elsewhere."""

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        cdf = scores.softmax(-1).cumsum(-1, dtype=torch.float64)
        if not bool(torch.isfinite(cdf[:, -1]).all()):  # a row of inf or nan logits: nothing to draw from
            # torch.multinomial's own words, which training.stage turns into the divergence it is
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        u = (1 - torch.rand((scores.shape[0], 1), dtype=torch.float64, device=scores.device)) * cdf[:, -1:]
        token = torch.searchsorted(cdf, u)
        return torch.full_like(scores, -math.inf).scatter_(1, token, 0.0)


def only_transformers_draws(config) -> bool:
    """Whether ``config`` asks for something the draw's path does not rebuild: beams, or a warper other than
    temperature, top-k, top-p and min-p (each tested as ``generate`` tests it before applying it)."""
    return ((config.num_beams or 1) > 1 or config.top_h is not None or (config.typical_p or 1.0) < 1.0
            or 0.0 < (config.epsilon_cutoff or 0.0) < 1.0 or 0.0 < (config.eta_cutoff or 0.0) < 1.0
            or config.watermarking_config is not None or config.renormalize_logits is True)


def warpers(config) -> LogitsProcessorList:
    """The sampling warpers ``generate`` would apply for ``config``, in its order, and the draw after them."""
    chain = LogitsProcessorList()
    if config.temperature is not None and config.temperature != 1.0:
        chain.append(TemperatureLogitsWarper(config.temperature))
    if config.top_k:
        chain.append(TopKLogitsWarper(top_k=config.top_k))
    if config.top_p is not None and config.top_p < 1.0:
        chain.append(TopPLogitsWarper(top_p=config.top_p))
    if config.min_p is not None:
        chain.append(MinPLogitsWarper(min_p=config.min_p))
    chain.append(InverseCDFDraw())
    return chain


def generate_kwargs(model, kwargs: dict) -> dict:
    """``model.generate``'s keyword arguments with a sampling call's draw made by ``InverseCDFDraw``; a greedy
    call, or one with a setting only transformers' path has (``only_transformers_draws``), as given.

    The settings are resolved as ``generate`` resolves them (the model's generation config under the call's)."""
    loose = {k: v for k, v in kwargs.items() if k != "generation_config"}
    config, rest = model._prepare_generation_config(kwargs.get("generation_config"), **loose)
    if not config.do_sample or only_transformers_draws(config):
        return kwargs
    off = {"do_sample": False, "temperature": None, "top_k": None, "top_p": None, "min_p": None}
    greedy = dict(kwargs)
    if kwargs.get("generation_config") is not None:  # the call's own config, so generate resolves it as before
        greedy["generation_config"] = copy.deepcopy(kwargs["generation_config"])
        greedy["generation_config"].update(**off)
    else:
        greedy.update(off)
    greedy["logits_processor"] = LogitsProcessorList([*(rest.get("logits_processor") or []), *warpers(config)])
    return greedy

"""transformers' ``generate``, with the prompt positions that rows share computed once, in its own KV cache.

``generate`` runs every row's prompt in full. Rows share two kinds of work:

- a repeated prompt: GRPO's ``num_generations`` completions of one prompt, reject-sample's ``n`` samples, eval's
  ``k``: the prompt runs once and its cache is copied to each of its samples;
- the head every prompt of a batch starts with (the system prompt, the chat template's opening): it runs once for
  the batch.

The rows are laid out ``[shared head][padding][rest of the prompt]`` instead of ``[padding][prompt]``. Positions
come from the attention mask, as in ``generate``, so every token keeps its position, and padding in the middle is
masked as padding on the left is. The cache (a ``DynamicCache``, copied row by row with its ``reorder_cache``)
holds every prompt position but each row's last, which ``generate`` runs, as after its own prefill.

The logits are those of today's path up to float rounding (other matrix shapes): greedy outputs can differ where
two tokens are within rounding of each other (``bench/cpu_compute.py`` counts them).
"""

from __future__ import annotations

import torch
from transformers import DynamicCache


def shared_head(rows: list[tuple[int, ...]]) -> int:
    """The length of the head all ``rows`` share, each row keeping at least its last token for ``generate``."""
    if not rows:
        return 0
    first, limit = rows[0], min(len(r) for r in rows) - 1
    n = 0
    while n < limit and all(r[n] == first[n] for r in rows):
        n += 1
    return n


@torch.no_grad()
def generate(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, generate_fn=None,
             **kwargs) -> tuple[torch.Tensor, int]:
    """``model.generate(input_ids, attention_mask, **kwargs)`` (or ``generate_fn``'s), each shared prompt position
    run once. Returns the sequences (the prompt as given, then the new tokens) and the prompt positions run
    before decoding, padding included."""
    generate_fn = generate_fn or model.generate
    rows = [tuple(r[m.bool()].tolist()) for r, m in zip(input_ids, attention_mask)]
    unique = list(dict.fromkeys(rows))
    head = shared_head(unique)
    config = kwargs.get("generation_config")
    returns = kwargs.get("num_return_sequences") or getattr(config, "num_return_sequences", 1) or 1
    if (returns > 1 or (len(unique) == len(rows) and head == 0) or not model._supports_default_dynamic_cache()
            or getattr(config, "cache_implementation", None)):
        return generate_fn(input_ids=input_ids, attention_mask=attention_mask, **kwargs), input_ids.numel()

    width, device = input_ids.shape[1], input_ids.device
    ids = torch.zeros((len(unique), width), dtype=input_ids.dtype)  # 0 where masked
    mask = torch.zeros_like(ids, dtype=attention_mask.dtype)
    for i, row in enumerate(unique):  # laid out on the CPU, moved once
        ids[i, :head], ids[i, width - (len(row) - head):] = torch.tensor(row[:head]), torch.tensor(row[head:])
        mask[i, :head], mask[i, width - (len(row) - head):] = 1, 1
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)

    cache = DynamicCache(config=model.config)
    if head:
        model(input_ids=ids[:1, :head], attention_mask=mask[:1, :head], position_ids=positions[:1, :head],
              past_key_values=cache, use_cache=True, logits_to_keep=1)
        cache.batch_repeat_interleave(len(unique))
    if width - 1 > head:
        model(input_ids=ids[:, head:-1], attention_mask=mask[:, :-1], position_ids=positions[:, head:-1],
              past_key_values=cache, use_cache=True, logits_to_keep=1)
    where = {r: i for i, r in enumerate(unique)}
    select = torch.tensor([where[r] for r in rows], device=device)
    cache.reorder_cache(select)
    out = generate_fn(input_ids=ids[select], attention_mask=mask[select], past_key_values=cache, **kwargs)
    prefill = head + len(unique) * (width - 1 - head) + len(rows)  # generate runs each row's last prompt token
    return torch.cat([input_ids, out[:, width:]], dim=1), prefill


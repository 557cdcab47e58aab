"""DAPO's dynamic sampling on top of TRL's GRPOTrainer, which does not have it.

A group whose completions all got the same reward has every advantage 0: it adds nothing to the gradient
but still counts in the loss's normalisation. With ``dynamic_sampling: N`` in a GRPO section, such groups
are dropped and refilled: up to N more rounds of generation, each on as many fresh prompts (drawn from
the training set with a seed of the step and the round, so a resumed run draws the same ones), until the
batch holds only informative groups. If the rounds run out first, the batch is topped up with copies of
the informative groups it has (DAPO keeps sampling instead; a cap keeps a step's cost bounded); a batch
with no informative group at all is left as it is, and learns nothing.

One process only for now: under N processes a group's rows can sit on several processes, and the rounds
would have to be agreed between them.
"""

from __future__ import annotations

import math
import random

import torch

# Keys of TRL's generation batch that are left-padded; every other per-row tensor is right-padded.
LEFT_PADDED = ("prompt_ids", "prompt_mask")


def informative(advantages: torch.Tensor, group: int) -> torch.Tensor:
    """Per row: does its group have any non-zero advantage (did its completions' rewards differ)?"""
    return (advantages.view(-1, group) != 0).any(dim=1).repeat_interleave(group)


def _cat(key: str, a: torch.Tensor, b: torch.Tensor, pad_id: int) -> torch.Tensor:
    """The rows of ``a`` then ``b``, padded to the wider of the two the way TRL pads that key."""
    if a.dim() == 1:
        return torch.cat([a, b])
    width = max(a.size(1), b.size(1))

    def padded(t: torch.Tensor) -> torch.Tensor:
        fill = torch.full((t.size(0), width - t.size(1)), pad_id if key.endswith("_ids") else 0, dtype=t.dtype,
                          device=t.device)
        return torch.cat([fill, t] if key in LEFT_PADDED else [t, fill], dim=1)

    return torch.cat([padded(a), padded(b)])


class DynamicSampling:
    """A GRPOTrainer mixin; ``dynamic_sampling_rounds`` (0: off) is set before training."""

    dynamic_sampling_rounds = 0

    def _generate_and_score_completions(self, inputs):
        batch = super()._generate_and_score_completions(inputs)
        if not self.dynamic_sampling_rounds or not self.model.training:
            return batch
        group, rows = self.num_generations, len(inputs)
        keep = informative(batch["advantages"], group)
        rounds = 0
        while int(keep.sum()) < rows and rounds < self.dynamic_sampling_rounds:
            rounds += 1
            more = super()._generate_and_score_completions(self._fresh_prompts(rows // group, rounds))
            total = len(keep)
            batch = {k: _cat(k, v, more[k], self._tokenizer.pad_token_id) if torch.is_tensor(v) and v.dim() and
                     v.size(0) == total else v for k, v in batch.items()}
            keep = torch.cat([keep, informative(more["advantages"], group)])
        chosen = keep.nonzero().squeeze(1)
        if len(chosen) == 0:
            chosen = torch.arange(rows)
        chosen = chosen.repeat(math.ceil(rows / len(chosen)))[:rows]  # whole groups: both are multiples of G
        total = len(keep)
        out = {k: v[chosen.to(v.device)] if torch.is_tensor(v) and v.dim() and v.size(0) == total else v
               for k, v in batch.items()}
        out["num_items_in_batch"] = out["completion_mask"].sum().to(batch["num_items_in_batch"].dtype)
        self._metrics["train"]["dynamic_sampling/rounds"].append(rounds)
        self._metrics["train"]["dynamic_sampling/informative_groups"].append(int(keep.sum()) // group)
        return out

    def _fresh_prompts(self, n: int, round_: int) -> list[dict]:
        """``n`` training rows, each repeated once per completion of its group, as TRL's sampler gives them."""
        rng = random.Random(f"{self.args.seed}/{self.state.global_step}/{round_}")
        picked = rng.sample(range(len(self.train_dataset)), min(n, len(self.train_dataset)))
        while len(picked) < n:
            picked.append(rng.randrange(len(self.train_dataset)))
        return [self.train_dataset[i] for i in picked for _ in range(self.num_generations)]

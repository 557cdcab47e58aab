"""How GRPO samples its completions on TRL's own transformers path, with less work than TRL's loop does.

- **Each prompt prefilled once.** TRL repeats a prompt for its ``num_generations`` completions and
  ``generate`` runs each copy's prompt in full; here the prompt (and the head all prompts share) runs once,
  through transformers' KV cache (``prompt_cache.py``). Same completions up to float rounding: at
  temperature 0, and seed for seed at temperature > 0 against TRL's loop drawing as below, the tiny model's
  are identical (``tests/test_compute.py``).
- **One uniform number per row for each sampled token** (``token_draw.py``) instead of ``torch.multinomial``
  over the vocabulary: the same distribution; sampling's part of a 32-row step on a 2-core CPU, 38 → 7 ms.
- **bf16 weights where training runs in bf16.** TRL's ``bf16`` trains under autocast (float32 master weights),
  which casts every weight again at every matmul of every generated token. With ``bf16: true`` the completions
  come from a bf16 copy of the policy, whose trainable weights are refreshed after every optimizer step, the way
  RL engines sync weights into their inference engine.
- **Its work counted** (``r1pipe.work``): generation's prefill and decode positions and the tokens kept, into the
  trainer's ``work`` (``training.stage.CountsWork``, whose ``ForwardCounter`` counts the other forwards and backwards).

Everything else is TRL's ``_generate_single_turn``: padding, the end-of-sequence mask. vLLM, continuous
batching, images, DeepSpeed and FSDP keep TRL's path unchanged.
"""

from __future__ import annotations

import copy
import time
from contextlib import ExitStack, contextmanager, nullcontext

import torch

from r1pipe import prompt_cache, token_draw


class PolicySampling:
    """Mixin for GRPOTrainer: completions with each prompt prefilled once, from a bf16 copy under ``bf16``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._copy, self._copy_step = None, None

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        trls_own = (self.use_vllm or self.use_transformers_continuous_batching or images or multimodal_fields
                    or self.is_deepspeed_enabled or self.is_fsdp_enabled)
        with nullcontext() if trls_own else self._sampling():
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                 has_tool_images)

    @contextmanager
    def _sampling(self):
        """TRL's generate call, on the model TRL unwraps for it, replaced for the duration (an instance attribute
        shadows the method)."""
        model = self.accelerator.unwrap_model(self.model)
        sampler = self._sampler(model)
        own = model.generate if sampler is model else sampler.generate
        eos = torch.tensor(self.eos_token_ids)

        def generate(input_ids, attention_mask, **kwargs):
            started = time.perf_counter()
            for counter in self.counters:
                counter.paused = True  # counted here, as generation
            try:
                out, prefill = prompt_cache.generate(sampler, input_ids, attention_mask, generate_fn=own,
                                                     **token_draw.generate_kwargs(sampler, kwargs))
            finally:
                for counter in self.counters:
                    counter.paused = False
            new = out[:, input_ids.shape[1]:].cpu()
            ended = torch.isin(new, eos)
            kept = torch.where(ended.any(1), ended.int().argmax(1) + 1, new.shape[1])
            self.work.generation(prefill, new.numel() - new.shape[0], int(kept.sum()), self.counters[0].cost().n,
                                 time.perf_counter() - started)
            return out

        model.generate = generate
        try:
            yield
        finally:
            del model.generate

    def _sampler(self, model):
        """The model to sample from: the policy itself, or under ``bf16`` its bf16 copy, refreshed if the policy
        took an optimizer step since."""
        if not self.args.bf16:
            return model
        if self._copy is None:
            with ExitStack() as detached:  # the copy's forwards are generation's, counted by its caller
                for counter in self.counters:
                    detached.enter_context(counter.detached())
                self._copy = copy.deepcopy(model).to(torch.bfloat16).eval()
        if self._copy_step != self.state.global_step:
            weights = dict(model.named_parameters())
            with torch.no_grad():
                for name, weight in self._copy.named_parameters():
                    if weights[name].requires_grad:  # frozen weights never change
                        weight.copy_(weights[name])
            self._copy_step = self.state.global_step
        return self._copy

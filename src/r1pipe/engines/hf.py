"""transformers generation: batched, left-padded, KV-cached, on CPU or GPU; each shared prompt position runs once
(``prompt_cache.py``), sampled tokens drawn by ``token_draw.py``, in the dtype ``dtype`` picks."""

from __future__ import annotations

import time

import torch

from r1pipe import distributed, prompt_cache, token_draw
from r1pipe.data.templates import chat_template_opens_think
from r1pipe.engines.base import Completion, Sampling, format_prompts, generation_dtype
from r1pipe.engines.journal import Journal, batch_sizes, call_key, run_batches
from r1pipe.models import load_model, load_tokenizer
from r1pipe.progress import progress
from r1pipe.work import ParamCounts, Work


class HFEngine:
    def __init__(self, model_dir, batch_size: int = 16, dtype: str = "auto"):
        cuda = torch.cuda.is_available()
        # Under N processes each one generates on its own GPU.
        self.device = torch.device("cuda", distributed.local_rank()) if cuda else "cpu"
        self.dtype = generation_dtype(dtype, on_cpu=not cuda)
        self.model = load_model(model_dir, dtype=getattr(torch, self.dtype)).to(self.device).eval()
        self.tok = load_tokenizer(model_dir)
        self.tok.padding_side = "left"
        self.think_prefilled = chat_template_opens_think(self.tok)
        self.batch_size = batch_size
        self.params, self.work = ParamCounts.of(self.model).n, Work()

    @torch.no_grad()
    def generate(self, prompts: list[list[dict] | str], n: int, sampling: Sampling, seed: int,
                 label: str = "generating", journal: Journal | None = None) -> list[list[Completion]]:
        """``n`` completions per prompt. Prompts go in batches of ``batch_size``; each batch is seeded from
        ``seed`` and its position, and under N processes each takes every N-th batch, so the completions
        are the same whatever the number of processes. With a ``journal``, finished batches are kept on disk
        and a rerun reads them back instead of generating them again."""
        texts = format_prompts(self.tok, prompts)
        starts = range(0, len(texts), self.batch_size)

        def batch(b: int) -> list[list[Completion]]:
            torch.manual_seed(seed + starts[b])
            return self._generate(texts[starts[b] : starts[b] + self.batch_size], n, sampling)

        sizes = batch_sizes(len(texts), self.batch_size)
        with progress() as bar:
            task = bar.add_task(label, total=len(texts), status="")
            # The others go at about the same pace.
            parts = run_batches(journal, sizes, n, batch, call_key(texts, n, sampling, seed, self.batch_size, "hf"),
                                label, advance=lambda b: bar.advance(task, sizes[b] * distributed.world()))
        return [group for part in parts for group in part]

    def _generate(self, batch: list[str], n: int, sampling: Sampling) -> list[list[Completion]]:
        eos = self.tok.eos_token_id
        enc = self.tok(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        sample = sampling.temperature > 0
        started = time.perf_counter()
        # Each prompt repeated for its n samples, as generate's num_return_sequences would; it runs once.
        settings = dict(do_sample=sample, temperature=sampling.temperature if sample else None,
                        top_p=sampling.top_p if sample else None, top_k=0 if sample else None,
                        max_new_tokens=sampling.max_new_tokens, pad_token_id=self.tok.pad_token_id, eos_token_id=eos)
        out, prefill = prompt_cache.generate(
            self.model,
            enc["input_ids"].repeat_interleave(n, dim=0),
            enc["attention_mask"].repeat_interleave(n, dim=0),
            **token_draw.generate_kwargs(self.model, settings),
        )
        rows, prompt_len = len(batch) * n, enc["input_ids"].shape[1]
        new = out[:, prompt_len:].tolist()
        steps = out.shape[1] - prompt_len  # the first new token comes from the prefill's last position
        groups = []
        for i in range(len(batch)):
            group = []
            for ids in new[i * n : (i + 1) * n]:
                finished = eos in ids
                ids = ids[: ids.index(eos) + 1] if finished else ids
                group.append(Completion(self.tok.decode(ids, skip_special_tokens=True), len(ids), finished,
                                        tuple(ids)))
            groups.append(group)
        self.work.generation(prefill=prefill, decode=rows * max(steps - 1, 0),
                             generated=sum(c.n_tokens for g in groups for c in g), params=self.params,
                             seconds=time.perf_counter() - started)
        return groups

"""transformers generation: batched, left-padded, KV-cached, on CPU or GPU."""

from __future__ import annotations

import torch

from r1pipe.engines.base import Completion, Sampling, format_prompts, think_prefilled
from r1pipe.models import load_model, load_tokenizer
from r1pipe.progress import progress


class HFEngine:
    def __init__(self, model_dir, batch_size: int = 16):
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        self.model = load_model(model_dir, dtype=dtype).to(self.device).eval()
        self.tok = load_tokenizer(model_dir)
        self.tok.padding_side = "left"
        self.think_prefilled = think_prefilled(self.tok)
        self.batch_size = batch_size

    @torch.no_grad()
    def generate(self, prompts: list[list[dict] | str], n: int, sampling: Sampling, seed: int,
                 label: str = "generating") -> list[list[Completion]]:
        torch.manual_seed(seed)
        texts = format_prompts(self.tok, prompts)
        eos = self.tok.eos_token_id
        results: list[list[Completion]] = []
        with progress() as bar:
            task = bar.add_task(label, total=len(texts), status="")
            for start in range(0, len(texts), self.batch_size):
                batch = texts[start : start + self.batch_size]
                enc = self.tok(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
                sample = sampling.temperature > 0
                out = self.model.generate(
                    **enc,
                    do_sample=sample,
                    temperature=sampling.temperature if sample else None,
                    top_p=sampling.top_p if sample else None,
                    top_k=0 if sample else None,
                    max_new_tokens=sampling.max_new_tokens,
                    num_return_sequences=n,
                    pad_token_id=self.tok.pad_token_id,
                    eos_token_id=eos,
                )
                new = out[:, enc["input_ids"].shape[1] :].tolist()
                for i in range(len(batch)):
                    group = []
                    for ids in new[i * n : (i + 1) * n]:
                        finished = eos in ids
                        ids = ids[: ids.index(eos) + 1] if finished else ids
                        text = self.tok.decode(ids, skip_special_tokens=True)
                        group.append(Completion(text, len(ids), finished, tuple(ids)))
                    results.append(group)
                bar.advance(task, len(batch))
        return results

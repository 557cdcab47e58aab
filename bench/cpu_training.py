"""CPU training step: TRL's chunked log-prob kernel vs r1pipe's CPU path, and partial training.

TRL 1.16 computes SFT losses and GRPO log-probs with a chunked LM-head kernel
written for Triton; on a CPU it runs a torch fallback. r1pipe's CPU trainers use
the model's own logits instead (tests/test_cpu_trainers.py checks they agree).
This script times the forward and backward of one SFT step both ways, with every layer trained and with
``train_layers`` (the top N layers only), in the same process.

    python bench/cpu_training.py --model models/base            # SmolLM2-135M after `dvc repro base`
    python bench/cpu_training.py                                # the tiny model
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from datasets import Dataset
from trl import SFTConfig, SFTTrainer

from r1pipe.config import SYSTEM_PROMPT
from r1pipe.config.models import TinyModel
from r1pipe.config.trl import common_defaults
from r1pipe.data.arithmetic import generate
from r1pipe.data.templates import make_prompt, render_completion
from r1pipe.models import load_model, load_tokenizer
from r1pipe.models.tiny import build
from r1pipe.training.model import trainable
from r1pipe.training.sft import CPUSFTTrainer


def step_seconds(trainer_class, model_dir, rows, train_layers, batch_size, steps) -> float:
    model, tok = (load_model(model_dir), load_tokenizer(model_dir)) if model_dir else build(TinyModel(), 0)
    trainable(model, train_layers)
    with tempfile.TemporaryDirectory() as out:
        args = SFTConfig(output_dir=out, per_device_train_batch_size=batch_size, completion_only_loss=True,
                         max_steps=steps, learning_rate=1e-5, **common_defaults(), seed=0, logging_steps=1000)
        trainer = trainer_class(model=model, args=args, train_dataset=rows, processing_class=tok)
        trainer.current_gradient_accumulation_steps = 1  # set by train(); training_step divides by it
        times = []
        batches = iter(trainer.get_train_dataloader())
        for _ in range(steps):
            batch = next(batches)
            start = time.perf_counter()
            trainer.training_step(model, batch, None)
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:])  # the first step warms up allocators


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None, help="a save_pretrained dir (default: the tiny model)")
    parser.add_argument("--train-layers", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    problems = generate(64, 1, seed=0)
    rows = Dataset.from_list([{"prompt": make_prompt(SYSTEM_PROMPT, p["question"]),
                               "completion": [{"role": "assistant",
                                               "content": render_completion(p["solution"], p["answer"])}]}
                              for p in problems])
    layers = args.train_layers if args.model else 1
    results = {}
    for name, cls, train_layers in [("TRL SFTTrainer, all layers", SFTTrainer, None),
                                    ("r1pipe CPU path, all layers", CPUSFTTrainer, None),
                                    (f"r1pipe CPU path, top {layers} layers", CPUSFTTrainer, layers)]:
        results[name] = step_seconds(cls, args.model, rows, train_layers, args.batch_size, args.steps)
        print(f"{name:40s} {results[name]:7.2f} s/step", flush=True)
    base = results["TRL SFTTrainer, all layers"]
    for name, sec in results.items():
        print(f"{name:40s} x{base / sec:.2f} vs TRL")


if __name__ == "__main__":
    main()

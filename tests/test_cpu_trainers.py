"""The CPU trainer paths compute exactly what TRL's own (chunked-kernel) paths compute."""

import torch
from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer, SFTConfig, SFTTrainer

from r1pipe.config.models import TinyModel
from r1pipe.config.trl import common_defaults
from r1pipe.models.tiny import build
from r1pipe.training.grpo import CPUGRPOTrainer
from r1pipe.training.sft import CPUSFTTrainer

ROWS = [{"prompt": [{"role": "user", "content": f"Ava has {i} apples, then gets 2 more. How many?"}],
         "completion": [{"role": "assistant", "content": f"<think>\n{i} + 2 = {i + 2}\n</think>\n<answer>{i + 2}"
                                                         "</answer>"}]} for i in range(8)]


def test_sft_loss_on_cpu_equals_trl_loss(tmp_path):
    model, tok = build(TinyModel(), seed=0)
    args = SFTConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, completion_only_loss=True,
                     **common_defaults(), seed=0, logging_steps=1)
    trainer = CPUSFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(ROWS), processing_class=tok)
    batch = next(iter(trainer.get_train_dataloader()))
    assert (batch["labels"] == -100).any() and (batch["labels"] != -100).any()  # prompt masked, completion scored
    ours = trainer.compute_loss(model, dict(batch))
    trls = SFTTrainer.compute_loss(trainer, model, dict(batch))
    assert torch.allclose(ours, trls, atol=1e-5), (ours, trls)


def test_grpo_log_probs_on_cpu_equal_trl_log_probs(tmp_path):
    model, tok = build(TinyModel(), seed=0)
    prompts = Dataset.from_list([{"prompt": r["prompt"]} for r in ROWS])
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=4,
                      temperature=0.7, max_completion_length=8, **common_defaults(), seed=0, logging_steps=1)
    trainer = CPUGRPOTrainer(model=model, reward_funcs=[lambda completions, **_: [0.0] * len(completions)],
                             args=args, train_dataset=prompts, processing_class=tok)
    ids = torch.randint(0, tok.vocab_size, (3, 12))
    mask = torch.ones_like(ids)
    mask[0, :2] = 0  # a left-padded row
    ours = trainer._get_per_token_logps_and_entropies(model, ids, mask, 5, batch_size=2, compute_entropy=True)
    trls = GRPOTrainer._get_per_token_logps_and_entropies(trainer, model, ids, mask, 5, batch_size=2,
                                                          compute_entropy=True)
    assert ours[0].shape == (3, 5)
    assert torch.allclose(ours[0], trls[0], atol=1e-4)
    assert torch.allclose(ours[1], trls[1], atol=1e-4)

"""r1pipe's GRPO trainer checked against what the model really ran and what TRL itself computes, on a tiny random
model (no chain needed): the bf16 sampling copy and its refresh, each prompt prefilled once, the positions and
FLOPs counted, and each ``loss_type``'s loss against TRL's own GRPOTrainer on one fixed batch.

Each test reads the thing itself (the weights the sampler holds, a forward hook on the model, torch's own FLOP
counter, TRL's loss), never a label or a count derived from the code under test."""

import pytest
import torch
from datasets import Dataset
from torch.utils.flop_counter import FlopCounterMode
from trl import GRPOConfig, GRPOTrainer

from conftest import REPO
from r1pipe.config.grpo import GRPOSection
from r1pipe.config.models import TinyModel
from r1pipe.config.trl import common_defaults
from r1pipe.models import load_model, load_tokenizer
from r1pipe.models.tiny import build
from r1pipe.training.grpo import CPUGRPOTrainer, grpo_args
from r1pipe.training.model import trainable
from r1pipe.work import ParamCounts, matmul_params

# A shared system prompt (the head every prompt starts with) and questions of different lengths.
SYSTEM = {"role": "system", "content": "Think step by step, then answer."}
PROMPTS = [{"prompt": [SYSTEM, {"role": "user", "content": f"Ava has {i} apples" + ", then more" * (i % 3) + "?"}]}
           for i in range(8)]


def tiny(tmp_path):
    """A tiny random model and its tokenizer, saved (vLLM's parameter count reads the files)."""
    model, tok = build(TinyModel(num_layers=3), seed=0)
    model.save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    return load_model(tmp_path / "model"), tok


def length_reward(completions, **_):
    """Varies within every group, so every advantage is non-zero and the loss sees them all."""
    return [float(len(c[0]["content"])) for c in completions]


def config(tmp_path, **settings) -> GRPOConfig:
    return GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, num_generations=4,
                      max_completion_length=10, learning_rate=1e-3, temperature=1.0, lr_scheduler_type="constant",
                      **{**common_defaults(), "bf16": False, **settings}, seed=0)


def snapshot(model, only_trainable=False) -> dict:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad or not only_trainable}


class Watched(CPUGRPOTrainer):
    """r1pipe's CPU trainer, recording at each generation what it sampled from and what the policy held then, and
    every forward of the model it sampled from (a hook added after the copy is made)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.draws, self.sampler_forwards, self.hooked = [], {}, set()

    def _sampler(self, model):
        sampler = super()._sampler(model)
        step = self.state.global_step
        if id(sampler) not in self.hooked:
            self.hooked.add(id(sampler))
            sampler.register_forward_pre_hook(
                lambda *_: self.sampler_forwards.update({self.state.global_step:
                                                         self.sampler_forwards.get(self.state.global_step, 0) + 1}))
        self.draws.append({"step": step, "sampler": sampler, "held": snapshot(sampler),
                           "policy": snapshot(model, only_trainable=True)})
        return sampler


def test_grpo_samples_from_a_bf16_copy_refreshed_after_every_optimizer_step(tmp_path):
    model, tok = tiny(tmp_path)
    trainer = Watched(model=model, reward_funcs=[length_reward], args=config(tmp_path, bf16=True, max_steps=3),
                      train_dataset=Dataset.from_list(PROMPTS), processing_class=tok)
    trainer.train()
    assert [d["step"] for d in trainer.draws] == [0, 1, 2]  # one generation per optimizer step
    for before, draw in zip([None, *trainer.draws], trainer.draws):
        assert draw["sampler"] is not model
        assert {w.dtype for w in draw["held"].values()} == {torch.bfloat16}
        # Equal to the policy as it is at this step, rounded to bf16 (a copy the refresh skipped holds the old one).
        for name, weight in draw["policy"].items():
            assert torch.equal(draw["held"][name], weight.to(torch.bfloat16)), (draw["step"], name)
        if before is not None:  # the policy moved, and the copy with it
            assert any(not torch.equal(before["policy"][n], w) for n, w in draw["policy"].items())
            assert any(not torch.equal(before["held"][n], w) for n, w in draw["held"].items())
    # Sampling really ran on the copy: its forwards at every step, one per generated position at least.
    assert all(trainer.sampler_forwards.get(step, 0) >= 10 for step in (0, 1, 2)), trainer.sampler_forwards


class Hooked(CPUGRPOTrainer):
    """r1pipe's CPU trainer, with a forward hook on the policy that counts, while it generates, the prompt positions
    (those before the prompt's padded width) and the decoding positions the model really ran."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.width, self.rows, self.padded, self.ran = None, 0, 0, {"prefill": 0, "decode": 0}
        self.hooked = set()

    def _sampler(self, model):
        sampler = super()._sampler(model)  # the policy, or under bf16 its copy
        if id(sampler) not in self.hooked:
            self.hooked.add(id(sampler))
            sampler.register_forward_pre_hook(self._count, with_kwargs=True)
        return sampler

    def _generate_single_turn(self, prompt_ids, *args, **kwargs):
        self.width, self.rows = max(map(len, prompt_ids)), self.rows + len(prompt_ids)
        self.padded += len(prompt_ids) * self.width  # what TRL's path prefills: every row's prompt, padded
        try:
            return super()._generate_single_turn(prompt_ids, *args, **kwargs)
        finally:
            self.width = None

    def _count(self, module, args, kwargs):
        if self.width is None:
            return  # training's forwards
        ids = kwargs["input_ids"]
        cache = kwargs.get("past_key_values")
        past = cache.get_seq_length() if cache is not None else 0
        prompt = max(0, min(ids.shape[1], self.width - past))  # positions of this call inside the prompt
        self.ran["prefill"] += ids.shape[0] * prompt
        self.ran["decode"] += ids.shape[0] * (ids.shape[1] - prompt)


@pytest.mark.parametrize("bf16", [False, True], ids=["float32", "bf16"])
def test_grpo_prefills_each_prompt_once_by_a_hook_on_the_model(tmp_path, bf16):
    """Two steps; the counts of the run log are what the model ran, and the prompts' shared positions ran once:
    fewer prompt positions than TRL's path runs (every row's prompt in full)."""
    model, tok = tiny(tmp_path)
    trainer = Hooked(model=model, reward_funcs=[length_reward], args=config(tmp_path, max_steps=2, bf16=bf16),
                     train_dataset=Dataset.from_list(PROMPTS), processing_class=tok)
    trainer.train()
    assert trainer.rows == 2 * 8
    assert (trainer.work.prefill, trainer.work.decode) == (trainer.ran["prefill"], trainer.ran["decode"])
    assert trainer.ran["decode"] > 0
    # 2 prompts x 4 completions a step: each prompt ran once, and the system prompt once for both.
    assert trainer.ran["prefill"] < trainer.padded / 3, (trainer.ran, trainer.padded)


@pytest.mark.parametrize("train_layers", [None, 1], ids=["all", "top-layer"])
def test_the_flop_count_is_torchs_own_count_of_the_matmuls(tmp_path, train_layers):
    """A forward is 2N per position and a trained position 2(N + N_act + N_grad): what torch's FLOP counter
    counts of the matmuls the model ran (attention's own products, left out by both, are not matmuls of
    weights). And the N the vLLM engine reads from the files is the N of the loaded model."""
    model, _ = tiny(tmp_path)
    assert matmul_params(tmp_path / "model") == ParamCounts.of(model).n
    ids = torch.randint(0, 300, (3, 17), generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), FlopCounterMode(display=False) as forward:
        model(input_ids=ids)
    assert forward.get_total_flops() == 2 * ParamCounts.of(model).n * ids.numel()
    model = trainable(model, train_layers)
    with FlopCounterMode(display=False) as trained:
        model(input_ids=ids).logits.float().sum().backward()
    assert trained.get_total_flops() == ParamCounts.of(model).trained_flops(ids.numel())
    if train_layers:  # the backward stops at the lowest trainable layer
        assert trained.get_total_flops() < 3 * forward.get_total_flops()


# TRL's loss types, each with the settings TRL requires of it.
LOSS_TYPES = {"grpo": {}, "bnpo": {}, "dr_grpo": {}, "dapo": {}, "cispo": {}, "sapo": {},
              "luspo": {"importance_sampling_level": "sequence"}, "vespo": {}}


@pytest.fixture(scope="module")
def fixed_batch(tmp_path_factory):
    """One batch generated and scored by TRL's own GRPOTrainer, made to exercise every term of the losses:
    completions of 3 to 10 tokens (the tiny random model never ends one), and an old policy whose log-probs are
    the model's own moved by noise, so that the ratios differ from 1 and some are clipped."""
    tmp_path = tmp_path_factory.mktemp("batch")
    model, tok = tiny(tmp_path)
    trainer = GRPOTrainer(model=model, reward_funcs=[length_reward], args=config(tmp_path, max_steps=1),
                          train_dataset=Dataset.from_list(PROMPTS), processing_class=tok)
    trainer.model.train()
    torch.manual_seed(0)
    batch = trainer._generate_and_score_completions(PROMPTS)
    assert batch["advantages"].abs().min() > 0  # every completion carries a signal
    mask = batch["completion_mask"]
    lengths = torch.arange(mask.shape[0]) % (mask.shape[1] - 2) + 3
    batch["completion_mask"] = (torch.arange(mask.shape[1]) < lengths[:, None]).to(mask.dtype)
    batch["num_items_in_batch"] = batch["completion_mask"].sum()
    with torch.no_grad():
        logps, _, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model, torch.cat([batch["prompt_ids"], batch["completion_ids"]], 1),
            torch.cat([batch["prompt_mask"], batch["completion_mask"]], 1), mask.shape[1])
    batch["old_per_token_logps"] = logps + 0.3 * torch.randn(logps.shape, generator=torch.Generator().manual_seed(1))
    return tmp_path, batch


def loss(trainer_class, args, tmp_path, batch) -> float:
    trainer = trainer_class(model=load_model(tmp_path / "model"), reward_funcs=[length_reward], args=args,
                            train_dataset=Dataset.from_list(PROMPTS),
                            processing_class=load_tokenizer(tmp_path / "model"))
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer's training loop, which this call skips
    return trainer.compute_loss(trainer.model, dict(batch)).item()


def test_each_loss_type_from_params_is_the_loss_trls_trainer_computes(fixed_batch):
    """r1pipe's trainer built from a params section (``grpo_args``) against TRL's GRPOTrainer given TRL's config
    directly, on the same batch: the same loss for every loss type, and the loss types do differ."""
    tmp_path, batch = fixed_batch
    losses = {}
    for loss_type, settings in LOSS_TYPES.items():
        section = GRPOSection(loss_type=loss_type, beta=0.0, bf16=False, rewards={"accuracy": 1.0}, num_generations=4,
                              per_device_train_batch_size=8, max_completion_length=10, learning_rate=1e-3,
                              temperature=1.0, **settings)
        ours = loss(CPUGRPOTrainer, grpo_args(section, tmp_path / "ours"), tmp_path, batch)
        theirs = loss(GRPOTrainer, config(tmp_path, max_steps=1, loss_type=loss_type, **settings), tmp_path, batch)
        assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-7), loss_type
        losses[loss_type] = ours
    # Normalised per sequence, per token of the batch, by a constant; clipped two ways: different numbers.
    assert len({round(value, 6) for value in losses.values()}) >= 5, losses
    assert len({round(losses[t], 6) for t in ("grpo", "dapo", "dr_grpo", "cispo")}) == 4, losses


def test_dynamic_sampling_leaves_trls_batch_as_it_is_where_every_group_is_informative(tmp_path):
    """``DynamicSampling._generate_and_score_completions`` against TRL's own, on the same seed: where every
    group's rewards differ there is nothing to drop or refill, and the batch is TRL's, key for key."""
    model, tok = tiny(tmp_path)
    trainer = CPUGRPOTrainer(model=model, reward_funcs=[length_reward], args=config(tmp_path, max_steps=1),
                             train_dataset=Dataset.from_list(PROMPTS), processing_class=tok, dynamic_sampling_rounds=2)
    trainer.model.train()
    torch.manual_seed(0)
    ours = trainer._generate_and_score_completions(PROMPTS)
    torch.manual_seed(0)
    theirs = GRPOTrainer._generate_and_score_completions(trainer, PROMPTS)
    assert ours["advantages"].abs().min() > 0
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        if torch.is_tensor(value):
            assert torch.equal(ours[key], value), key
        else:
            assert ours[key] == value, key


def overrides() -> dict[str, tuple[type, type]]:
    """Every method r1pipe's trainers define that TRL's or transformers' trainer also has: ``Class.method`` ->
    (r1pipe's class, the library class it overrides)."""
    from trl import SFTTrainer

    from r1pipe.training.grpo import R1GRPOTrainer
    from r1pipe.training.sft import CPUSFTTrainer

    found = {}
    for ours, library in [(CPUGRPOTrainer, GRPOTrainer), (R1GRPOTrainer, GRPOTrainer), (CPUSFTTrainer, SFTTrainer)]:
        for cls in ours.__mro__:
            if cls.__module__.startswith("r1pipe"):
                for name in vars(cls):
                    if callable(getattr(library, name, None)) and name != "__init__":
                        found[f"{cls.__name__}.{name}"] = (cls, library)
    return found


def test_each_override_of_a_library_method_is_listed_and_keeps_the_librarys_signature():
    """An upgrade of TRL that renames a method r1pipe overrides, or changes its parameters, fails here; and
    docs/layout.md lists every override with the test that holds it to the library's own path."""
    import inspect

    layout = (REPO / "docs/layout.md").read_text()
    found = overrides()
    assert {"PolicySampling._generate_single_turn", "DynamicSampling._generate_and_score_completions",
            "CPUGRPOTrainer._get_per_token_logps_and_entropies", "CPUSFTTrainer.compute_loss"} <= set(found)
    for name, (cls, library) in found.items():
        method = name.split(".")[1]
        assert f"`{name}`" in layout, f"{name} is not listed in docs/layout.md"
        theirs = list(inspect.signature(getattr(library, method)).parameters)
        params = inspect.signature(vars(cls)[method]).parameters.values()
        named = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        rest = any(p.kind is p.VAR_KEYWORD for p in params)  # the library's further parameters, passed through
        assert named == (theirs[: len(named)] if rest else theirs), f"{name}: {named} against the library's {theirs}"

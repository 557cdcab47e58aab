"""Compute: what each stage counts (by hand on the tiny model), bf16 exactly where the CPU multiplies it, GRPO's
completions with each prompt prefilled once against TRL's own path, and the report's compute table."""

import json

import pytest
import torch
from datasets import Dataset
from safetensors import safe_open
from trl import GRPOConfig, GRPOTrainer

from conftest import cli
from r1pipe import hardware, token_draw
from r1pipe.config.models import TinyModel
from r1pipe.config.sampling import EvalSection
from r1pipe.config.trl import common_defaults
from r1pipe.manifest import read_manifest
from r1pipe.models import load_model, load_tokenizer
from r1pipe.models.tiny import build
from r1pipe.training.grpo import CPUGRPOTrainer
from r1pipe.training.model import trainable
from r1pipe.work import ParamCounts

PROMPTS = [{"prompt": [{"role": "user", "content": f"Ava has {i} apples, then gets {i % 3 + 1} more. How many?"}]}
           for i in range(8)]


def by_hand(model_dir) -> tuple[int, int, int]:
    """(one decoder layer's matmul weights, the LM head's, the number of layers), from config.json's shapes."""
    c = json.loads((model_dir / "config.json").read_text())
    h, heads, kv, dim = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    layer = 2 * h * heads * dim + 2 * h * kv * dim + 3 * h * c["intermediate_size"]  # q, o; k, v; gate, up, down
    return layer, c["vocab_size"] * h, c["num_hidden_layers"]


def test_auto_picks_bf16_exactly_where_the_cpu_multiplies_it_faster(monkeypatch):
    fast, slow = {"float32": 100.0, "bfloat16": 300.0}, {"float32": 330.0, "bfloat16": 165.0}
    for flags, rates, want in (([], fast, "float32"), (["avx512_bf16"], fast, "bfloat16"),
                               (["amx_bf16", "amx_tile"], fast, "bfloat16"), (["avx512f", "avx2"], fast, "float32"),
                               (["avx512_bf16"], slow, "float32")):  # the flag, but bf16 at half the float32 rate
        assert hardware.resolve_dtype("auto", flags=flags, cuda=False, rates=rates) == want, (flags, rates)
        described = {"kind": "cpu", "model": "x", "bf16_flags": flags, "gflops": rates}
        monkeypatch.setenv(hardware.DEVICE_ENV, json.dumps(described))
        assert hardware.resolve_dtype("auto") == want, (flags, rates)  # this process's device, as described
        monkeypatch.setattr(hardware, "cpu", lambda flags=flags: {"model": "x", "bf16_flags": flags, "cores": 2})
        if not torch.cuda.is_available():
            assert common_defaults()["bf16"] is False  # training is float32 whatever auto picks (#43)
            warning = hardware.emulated_bf16("bfloat16", on_cpu=True)
            assert (warning is None) == bool(flags and "avx2" not in flags)  # asked for where it is emulated
    assert hardware.resolve_dtype("auto", flags=[], cuda=True) == "bfloat16"
    assert hardware.resolve_dtype("float32", flags=["amx_bf16"], cuda=True) == "float32"  # said: kept
    assert EvalSection().dtype == "auto"


def test_weights_count_the_backward_through_the_top_layers_by_hand(tmp_path):
    model, tok = build(TinyModel(num_layers=3), seed=0)
    model.save_pretrained(tmp_path)
    layer, head, layers = by_hand(tmp_path)
    n = layers * layer + head
    assert ParamCounts.of(model) == ParamCounts(n, n, n)  # everything trains: 6N per position
    top = ParamCounts.of(trainable(model, 1))
    # Gradients pass through the head and the top layer; only that layer's weights get their own.
    assert top == ParamCounts(n, head + layer, layer)
    assert top.trained_flops(10) == 2 * (n + head + layer + layer) * 10


def _first_completions(trainer_class, model_dir, tmp_path, **settings) -> list:
    model, tok = load_model(model_dir), load_tokenizer(model_dir)
    seen = []

    def record(completions, **_):
        seen.extend(c[0]["content"] for c in completions)
        return [0.0] * len(completions)

    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=8, num_generations=4, max_steps=1,
                      max_completion_length=12, **{**common_defaults(), "bf16": False}, seed=0, **settings)
    trainer = trainer_class(model=model, reward_funcs=[record], args=args, train_dataset=Dataset.from_list(PROMPTS),
                            processing_class=tok)
    trainer.train()
    return seen


class TRLDrawingAsR1pipe(GRPOTrainer):
    """TRL's own GRPOTrainer and generation loop, each prompt run in full for each completion, with only the draw
    of a sampled token made as r1pipe makes it (``token_draw``): what prefilling each prompt once must match."""

    def _generate_single_turn(self, *args, **kwargs):
        model = self.accelerator.unwrap_model(self.model)
        plain = model.generate
        model.generate = lambda **settings: plain(**token_draw.generate_kwargs(model, settings))
        try:
            return super()._generate_single_turn(*args, **kwargs)
        finally:
            del model.generate


@pytest.mark.parametrize("settings", [{"temperature": 0.7}, {"generation_kwargs": {"do_sample": False}}],
                         ids=["sampled", "greedy"])
def test_grpo_prefilling_each_prompt_once_samples_what_trls_own_path_samples(chain, tmp_path, settings):
    """Seed for seed at temperature 0.7 (both drawing through ``token_draw``), and greedy against TRL's trainer
    unchanged: r1pipe's trainer (each prompt prefilled once for its 4 completions) gives the same completions on
    the tiny chain's A."""
    ours = _first_completions(CPUGRPOTrainer, chain / "models/A", tmp_path / "ours", **settings)
    reference = TRLDrawingAsR1pipe if "temperature" in settings else GRPOTrainer
    trls = _first_completions(reference, chain / "models/A", tmp_path / "trl", **settings)
    assert len(ours) == 8 and ours == trls
    if "temperature" in settings:
        assert len(set(ours)) > 1  # the samples differ; greedy, the tiny A answers them all alike


def test_a_tiny_grpo_run_and_sft_count_their_flops_by_hand(chain):
    """FLOPs from the run logs' token counts and config.json's shapes: 2N per generated or scored position (the
    reference model's log-probs), 6N per trained one (every weight trains in the tiny preset)."""
    layer, head, layers = by_hand(chain / "models/A")
    n = layers * layer + head
    work = json.loads((chain / "models/B.run.json").read_text())["work"]
    assert work["prefill"] > 0 and work["decode"] > 0 and work["trained"] > 0
    assert work["scored"] == work["trained"]  # beta > 0: the reference model scores every trained position
    assert work["flops"] == 2 * n * (work["prefill"] + work["decode"] + work["scored"]) + 6 * n * work["trained"]
    # 3 steps x 4 prompts x 4 completions; each prompt's positions once, bar its last token, run for each sample
    assert work["generated"] <= 3 * 16 * 64 and work["prefill"] < work["trained"]
    sft = json.loads((chain / "models/A.run.json").read_text())["work"]
    assert sft["flops"] == 6 * n * sft["trained"] and sft["prefill"] == sft["decode"] == sft["scored"] == 0
    assert sft["dtype"] == work["dtype"] == "float32"  # the tiny preset fixes it, whatever `auto` would pick
    assert 0 < sft["share_of_gemm"] and sft["machine"]["gemm_gflops"]["float32"] > 0


def test_the_report_has_one_compute_row_per_stage_that_ran(chain):
    """In the report's run log (run logs vary between runs, so report.md holds none of it), and printed."""
    from r1pipe.report.render import compute_table

    rows = json.loads((chain / "reports.run.json").read_text())["compute_by_stage"]
    outputs = [row["output"] for row in rows]
    assert len(outputs) == len(set(outputs))
    # Every stage behind the seven models (through inputs and parents), and their evals; the seed's own run
    # stands beside B, not in the chain.
    assert set(outputs) == {"data/prompts", "data/sft", "models/base", "models/A", "models/B", "models/C",
                            "models/D", "models/base_student", "models/student", "models/zero",
                            *(f"metrics/eval/{m}.json" for m in ("base", "A", "B", "C", "D", "zero", "student"))}
    b = next(row for row in rows if row["output"] == "models/B")
    log = json.loads((chain / "models/B.run.json").read_text())
    assert (b["seconds"], b["tflop"], b["trained"]) == (log["seconds"], log["work"]["tflop"], log["work"]["trained"])
    table = compute_table(rows)
    assert f"On {hardware.describe(b['machine'])}." in table and f"| {b['tflop']:.3f} |" in table
    assert "## Compute" not in (chain / "reports/report.md").read_text()


@pytest.mark.slow
def test_the_tiny_chain_in_bf16_trains_evaluates_and_says_so(tmp_path):
    """bf16 asked for explicitly: TRL's autocast for training, bf16 weights for GRPO's sampling and for eval.
    Here, where the CPU may emulate bf16, it runs, with the warning; the manifests and run logs say bf16."""
    import yaml

    from conftest import TINY

    params = yaml.safe_load(TINY.read_text())
    for section in ("coldstart", "rl_reasoning"):
        params[section]["bf16"] = True
    params["rl_reasoning"]["max_steps"] = 2
    params["eval"]["dtype"] = "bfloat16"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    said = ""
    for args in (("base", "--out", "models/base"), ("prepare", "--out", "data/prompts"),
                 ("coldstart", "--model", "models/base", "--data", "data/prompts", "--out", "models/A"),
                 ("grpo", "--section", "rl_reasoning", "--model", "models/A", "--data", "data/prompts",
                  "--out", "models/B"),
                 ("eval", "--model", "models/B", "--data", "data/prompts", "--out", "metrics/B.json")):
        said += cli(*args, cwd=tmp_path).output
    for name in ("A", "B"):
        assert read_manifest(tmp_path / "models" / name)["params"]["trl"]["settings"]["bf16"] is True
        assert json.loads((tmp_path / f"models/{name}.run.json").read_text())["work"]["dtype"] == "bfloat16"
    with safe_open(str(tmp_path / "models/A/model.safetensors"), "pt") as a, \
            safe_open(str(tmp_path / "models/B/model.safetensors"), "pt") as b:
        assert a.get_tensor("lm_head.weight" if "lm_head.weight" in a.keys() else "model.norm.weight").dtype \
            == torch.float32  # master weights stay float32
        assert any(not torch.equal(a.get_tensor(k), b.get_tensor(k)) for k in a.keys())  # RL moved them
    assert json.loads((tmp_path / "metrics/B.json").read_text())["dtype"] == "bfloat16"
    assert json.loads((tmp_path / "metrics/B.run.json").read_text())["work"]["dtype"] == "bfloat16"
    if not hardware.bf16_native(hardware.cpu()["bf16_flags"]) and not torch.cuda.is_available():
        assert said.count("bf16 on this CPU is emulated") == 3  # coldstart, grpo, eval

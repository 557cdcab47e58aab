"""LoRA through peft in the training stages: the output is an ordinary model with the adapter merged in, the
adapter kept beside it; the merged weights differ from the start only by the adapter's low-rank update."""

import json

import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from conftest import TINY, cli
from r1pipe import R1pipeError
from r1pipe.config.sft import ColdstartSection
from r1pipe.training.model import lora_config

LORA = {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"], "layers": 1}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("lora")
    params = yaml.safe_load(TINY.read_text())
    params["coldstart"].update(lora=LORA, learning_rate=1e-2, num_train_epochs=1)
    params["rl_reasoning"].update(lora={"r": 8, "alpha": 16}, max_steps=2, learning_rate=1e-2)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    cli("base", "--out", "models/base", cwd=root)
    cli("prepare", "--out", "data/prompts", cwd=root)
    cli("coldstart", "--out", "models/A", cwd=root)
    return root


def test_merged_weights_differ_from_the_base_only_by_the_adapters_low_rank_update(root):
    base, merged = load_file(root / "models/base/model.safetensors"), load_file(root / "models/A/model.safetensors")
    adapter = load_file(root / "models/A/adapter/adapter_model.safetensors")
    config = json.loads((root / "models/A/adapter/adapter_config.json").read_text())
    assert config["r"] == 4 and config["lora_alpha"] == 8 and config["layers_to_transform"] == [1]
    assert set(merged) == set(base)  # no peft names: an ordinary model
    adapted = set()
    for key, weight in base.items():
        diff = merged[key] - weight
        module = key.removesuffix(".weight")
        a = adapter.get(f"base_model.model.{module}.lora_A.weight")
        if a is None:
            assert torch.equal(diff, torch.zeros_like(diff)), f"{key} changed without an adapter"
            continue
        b = adapter[f"base_model.model.{module}.lora_B.weight"]
        update = (b @ a) * (8 / 4)
        assert diff.abs().max() > 1e-4, f"{key}: the adapter did not train"
        assert torch.allclose(diff, update, atol=1e-6), key
        assert torch.linalg.matrix_rank(diff, atol=1e-5) <= 4
        adapted.add(module)
    assert adapted == {"model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"}


def test_merged_model_loads_without_peft_and_its_logits_equal_base_plus_adapter(root):
    from peft import PeftModel

    merged = AutoModelForCausalLM.from_pretrained(root / "models/A").eval()
    with_adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(root / "models/base"),
                                             root / "models/A/adapter").eval()
    ids = torch.randint(0, merged.config.vocab_size, (2, 24), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, with_adapter(ids).logits, atol=1e-5)
        assert not torch.allclose(merged(ids).logits,
                                  AutoModelForCausalLM.from_pretrained(root / "models/base")(ids).logits, atol=1e-3)


def test_grpo_trains_an_adapter_too(root):
    cli("grpo", "--section", "rl_reasoning", "--model", "models/A", "--out", "models/B", "--live", "dvclive/B",
        cwd=root)
    start, merged = load_file(root / "models/A/model.safetensors"), load_file(root / "models/B/model.safetensors")
    assert (root / "models/B/adapter/adapter_model.safetensors").is_file()
    changed = {k for k in start if not torch.equal(start[k], merged[k])}
    assert changed and all(k.endswith("proj.weight") for k in changed)  # all-linear: the layers' projections
    assert json.loads((root / "models/B/r1pipe.json").read_text())["params"]["lora"]["r"] == 8


def test_lora_and_train_layers_are_one_or_the_other(root):
    with pytest.raises(ValueError, match="either train_layers or lora"):
        ColdstartSection(train_layers=2, lora=LORA)
    model = AutoModelForCausalLM.from_pretrained(root / "models/base")
    with pytest.raises(R1pipeError, match="lora.layers: 9 is more than the model's 2 layers"):
        lora_config(ColdstartSection(lora={**LORA, "layers": 9}).lora, model)


def test_the_gpu_presets_lora_variant_is_a_valid_section():
    from conftest import REPO
    from r1pipe.config.grpo import GRPOSection

    text = (REPO / "stages/presets/gpu.yaml").read_text()
    assert "  # lora: {" in text
    params = yaml.safe_load(text.replace("  # lora: {", "  lora: {"))
    section = GRPOSection.model_validate(params["rl_reasoning"])
    assert section.lora.r == 64 and section.lora.target_modules == "all-linear"

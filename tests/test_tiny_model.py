import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from r1pipe.config.models import ModelRef, TinyModel
from r1pipe.models import materialize


def test_tiny_model_is_deterministic_and_reloads_identically(tmp_path):
    ref = ModelRef(model="tiny", tiny=TinyModel(hidden_size=64, num_layers=1, head_dim=32))
    materialize(ref, seed=3, out_dir=tmp_path / "a")
    materialize(ref, seed=3, out_dir=tmp_path / "b")
    materialize(ref, seed=4, out_dir=tmp_path / "c")
    a, b, c = (AutoModelForCausalLM.from_pretrained(tmp_path / n) for n in "abc")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.model.embed_tokens.weight, c.model.embed_tokens.weight)
    assert a.config.hidden_size == 64 and a.config.num_hidden_layers == 1

    tok = AutoTokenizer.from_pretrained(tmp_path / "a")
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert a.generation_config.eos_token_id == tok.eos_token_id
    text = "<think>\nJanet’s ducks: 16 - 3 = 13\n</think>\n<answer>13</answer>"
    ids = tok(text)["input_ids"]
    # The tags are non-special added tokens: they survive skip_special_tokens decoding.
    assert tok.decode(ids, skip_special_tokens=True) == text
    assert tok.convert_tokens_to_ids("<think>") in ids
    prompt = tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False)
    assert prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"

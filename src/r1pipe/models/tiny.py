"""A tiny Qwen2-shaped model and BPE tokenizer, built offline and deterministically.

The tokenizer is trained locally on fixed arithmetic text (``tiny_corpus``) with Qwen2's
exact normalizer and pre-tokenizer, then wrapped in ``Qwen2Tokenizer`` so that
``AutoTokenizer`` rebuilds it identically on reload. The think/answer tags are
*non-special* added tokens: TRL decodes with ``skip_special_tokens=True`` and
special tags would vanish from completions.
"""

from __future__ import annotations

import json

import torch
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import (
    AddedToken,
    GenerationConfig,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen2Tokenizer,
)
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

from r1pipe.config.models import TinyModel
from r1pipe.data.templates import THINK_TAGS
from r1pipe.models.tiny_corpus import TEXTS

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _corpus() -> list[str]:
    """Fixed training text (``tiny_corpus``): the tokenizer must not depend on any params but its size, nor on
    the task generator's code."""
    return list(TEXTS)


def build_tokenizer(vocab_size: int) -> Qwen2Tokenizer:
    bpe = Tokenizer(models.BPE())
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_corpus(), trainer=trainer)
    vocab = bpe.get_vocab(with_added_tokens=False)
    merges = json.loads(bpe.to_str())["model"]["merges"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in merges]
    tok = Qwen2Tokenizer(vocab=vocab, merges=merges, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                         unk_token=None)
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in THINK_TAGS])
    tok.chat_template = CHATML
    return tok


def build(cfg: TinyModel, seed: int):
    """Return (model, tokenizer) for a tiny config; same seed, same weights."""
    tok = build_tokenizer(cfg.vocab_size)
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_kv_heads,
        head_dim=cfg.head_dim,
        max_position_embeddings=cfg.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return model, tok


def build_reward_model(cfg: TinyModel, seed: int, out_dir) -> None:
    """A tiny sequence-classification reward model (one score), for testing rl_all offline."""
    from transformers import Qwen2ForSequenceClassification

    model, tok = build(cfg, seed)
    config = model.config
    config.num_labels = 1
    torch.manual_seed(seed)
    rm = Qwen2ForSequenceClassification(config)
    rm.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)


__all__ = ["build", "build_reward_model", "build_tokenizer"]

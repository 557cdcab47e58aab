"""Chat templates that open the think block themselves (Qwen3, the R1 distills): the completion starts inside
the reasoning, and format and extraction score it as the turn it continues."""

import json
import shutil

import pytest
import yaml

from conftest import cli
from r1pipe.config.sampling import EvalSection
from r1pipe.data.templates import apply_template, mark_prefilled
from r1pipe.data.templates import chat_template_opens_think as think_prefilled
from r1pipe.engines import Completion, Sampling
from r1pipe.models import load_tokenizer
from r1pipe.models.tiny import CHATML
from r1pipe.rewards import get_reward
from r1pipe.stages.eval import evaluate

PREFILLING = CHATML.replace("'<|im_start|>assistant\n'", "'<|im_start|>assistant\n<think>\n'")
assert PREFILLING != CHATML


def prefilling_copy(src, dst):
    shutil.copytree(src, dst)
    (dst / "chat_template.jinja").write_text(PREFILLING)
    return dst


def test_the_template_is_recognised(chain, tmp_path):
    assert not think_prefilled(load_tokenizer(chain / "models/A"))
    assert think_prefilled(load_tokenizer(prefilling_copy(chain / "models/A", tmp_path / "A")))


def test_rewards_score_the_turn_the_completion_continues():
    fmt, tags, lang = get_reward("format"), get_reward("format_tags"), get_reward("language")
    inside = "two and two make four\n</think>\n<answer>4</answer>"
    assert fmt(None, [inside], think_prefilled=[True]) == [1.0]
    assert fmt(None, [inside], think_prefilled=[False]) == fmt(None, [inside]) == [0.0]
    assert fmt(None, ["<think>again</think><answer>4</answer>"], think_prefilled=[True]) == [0.0]  # opened twice
    assert tags(None, [inside], think_prefilled=[True]) == [1.0] and tags(None, [inside]) == [0.75]
    assert lang(None, [inside], think_prefilled=[True]) == [1.0]
    assert get_reward("accuracy")(None, [inside], answer=["4"], task=["math"], think_prefilled=[True]) == [1.0]


class Prefilling:
    """An engine whose chat template opens <think>: its completions start inside the reasoning."""

    think_prefilled = True

    def generate(self, prompts, n, sampling, seed, label="", journal=None):
        return [[Completion("four\n</think>\n<answer>4</answer>", 9, True)] * n for _ in prompts]


def test_eval_scores_prefilled_completions(chain):
    rows = [{"prompt": [{"role": "user", "content": "2+2?"}], "answer": "4", "task": "math", "id": "x/0"}] * 3
    cfg = EvalSection(k=1, temperature=0.0)
    metrics, _, _ = evaluate(Prefilling(), rows, cfg, 1, Sampling(0.0), "test")
    assert metrics["format_rate"] == 1.0 and metrics["pass@1"] == 1.0
    Prefilling.think_prefilled = False  # the same text from a template that does not open the block
    try:
        assert evaluate(Prefilling(), rows, cfg, 1, Sampling(0.0), "test")[0]["format_rate"] == 0.0
    finally:
        Prefilling.think_prefilled = True


def test_the_zero_think_template_opens_the_block_for_any_model():
    """R1-Zero with a prefilled <think> (TinyZero's template): the prompt ends inside the block whatever the
    model's chat template, and the rows say so; the paper's plain template does not."""
    question = [{"role": "user", "content": "2+2?"}]
    assert apply_template(question, "zero_think") == apply_template(question, "zero") + " <think>"
    rows = [{"prompt": question, "answer": "4"}]
    engine = Prefilling()
    engine.think_prefilled = False  # a model whose own chat template opens nothing
    assert mark_prefilled(rows, "zero_think", engine.think_prefilled)[0]["think_prefilled"] is True
    assert "think_prefilled" not in mark_prefilled(rows, "zero", engine.think_prefilled)[0]
    assert "think_prefilled" not in mark_prefilled(rows, "chat", engine.think_prefilled)[0]
    assert mark_prefilled(rows, "chat", True)[0]["think_prefilled"] is True  # a chat template that opens it


@pytest.mark.parametrize("template", ["chat", "zero_think"])
def test_grpo_hands_the_flag_to_its_rewards(chain, template):
    """chat: a model whose chat template opens <think>; zero_think: an ordinary model under a template that
    opens it."""
    model = f"models/A_{template}"
    if template == "chat":
        prefilling_copy(chain / "models/A", chain / model)
    else:
        shutil.copytree(chain / "models/A", chain / model)
    params = yaml.safe_load((chain / "params.yaml").read_text())
    params["rl_prefill"] = {**params["rl_reasoning"], "max_steps": 1, "save_steps": 0, "sample_every": 1,
                            "rewards": {"format": 1.0}, "template": template}
    (chain / "prefill.yaml").write_text(yaml.safe_dump(params))
    out = f"models/prefill_rl_{template}"
    cli("grpo", "--params", "prefill.yaml", "--section", "rl_prefill", "--model", model,
        "--out", out, "--live", f"dvclive/rl_prefill_{template}", cwd=chain)
    samples = [json.loads(line) for line in (chain / out / "samples.jsonl").read_text().splitlines()]
    assert samples and all(s["think_prefilled"] is True for s in samples)
    if template == "zero_think":  # the policy was given the plain-text prompt that ends inside the block
        assert all(s["prompt"].endswith("Assistant: <think>") for s in samples)
    fmt = get_reward("format")
    assert all(s["format"] == fmt(None, [s["completion"]], think_prefilled=[True])[0] for s in samples)

"""Chat templates that open the think block themselves (Qwen3, the R1 distills): the completion starts inside
the reasoning, and format and extraction score it as the turn it continues."""

import json
import shutil

import yaml

from conftest import cli
from r1pipe.config.sampling import EvalSection
from r1pipe.engines import Completion, Sampling
from r1pipe.engines.base import think_prefilled
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

    def generate(self, prompts, n, sampling, seed, label=""):
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


def test_grpo_hands_the_flag_to_its_rewards(chain):
    prefilling_copy(chain / "models/A", chain / "models/A_prefill")
    params = yaml.safe_load((chain / "params.yaml").read_text())
    params["rl_prefill"] = {**params["rl_reasoning"], "max_steps": 1, "save_steps": 0, "sample_every": 1,
                            "rewards": {"format": 1.0}}
    (chain / "prefill.yaml").write_text(yaml.safe_dump(params))
    cli("grpo", "--params", "prefill.yaml", "--section", "rl_prefill", "--model", "models/A_prefill",
        "--out", "models/prefill_rl", "--live", "dvclive/rl_prefill", cwd=chain)
    samples = [json.loads(line) for line in (chain / "models/prefill_rl/samples.jsonl").read_text().splitlines()]
    assert samples and all(s["think_prefilled"] is True for s in samples)
    fmt = get_reward("format")
    assert all(s["format"] == fmt(None, [s["completion"]], think_prefilled=[True])[0] for s in samples)

import itertools
import json
import math

import pytest

from r1pipe.config.sampling import EvalSection
from r1pipe.engines import Completion
from r1pipe.metrics import eval_metrics, majority, mean_se, pass_at_k
from r1pipe.stages import eval as eval_stage


def test_majority_vote_ties_go_to_the_first_seen_answer():
    assert majority(["3", "4", "4", "3"]) == 0
    assert majority(["4", "3", "3", "4"]) == 0
    assert majority([None, "5", "1,000", "1000"]) == 2
    assert majority([None, None]) is None


def test_mean_and_standard_error():
    assert mean_se([1.0, 0.0, 1.0, 0.0]) == (0.5, pytest.approx(math.sqrt((4 * 0.25 / 3) / 4)))
    assert mean_se([0.3]) == (0.3, 0.0)


def test_eval_metrics_hand_computed():
    m = eval_metrics(
        answers=[["3", "3", "4", "5"], ["7", "8", "8", None]],
        correct=[[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]],
        formats=[[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]],
        n_tokens=[[10, 20, 30, 40], [5, 5, 5, 5]],
    )
    assert m["pass@1"] == pytest.approx((0.5 + 0.25) / 2)
    assert m["cons@k"] == pytest.approx(0.5)  # prompt 1 votes "3" (right), prompt 2 votes "8" (wrong)
    assert m["format_rate"] == pytest.approx((0.75 + 0.5) / 2)
    assert m["mean_tokens"] == pytest.approx(120 / 8)
    assert m["k"] == 4 and m["n_prompts"] == 2


class FakeEngine:
    """Returns fixed completions, so eval's numbers can be checked by hand."""

    think_prefilled = False  # its chat template opens no think block

    def __init__(self, completions):
        self.completions = completions

    def generate(self, prompts, n, sampling, seed, label="", journal=None):
        return [[Completion(t, len(t.split()), True) for t in self.completions[i][:n]] for i in range(len(prompts))]


def test_eval_stage_on_known_completions(tmp_path):
    from datasets import Dataset, DatasetDict

    rows = [{"prompt": [{"role": "user", "content": f"q{i}"}], "answer": a, "task": "math"}
            for i, a in enumerate(["12", "7", "1/2"])]
    DatasetDict({"test": Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "prompts"))
    engine = FakeEngine([
        ["<think>a</think><answer>12</answer>", "<think>b</think><answer>12</answer>", "<answer>13</answer>"],
        ["<answer>6</answer>", "<answer>6</answer>", "<think>c</think><answer>7</answer>"],
        ["<think>d</think><answer>0.5</answer>", "<answer>2</answer>", "<answer>3</answer>"],
    ])
    out = tmp_path / "metrics" / "X.json"
    result = eval_stage.run(EvalSection(k=3, pass_k=2), model=None, data=tmp_path / "prompts", out=out, engine=engine)
    m = result["arithmetic"]
    # pass@2 from 3 samples with c right: 1 - C(3-c, 2) / C(3, 2): c=2 -> 1, c=1 -> 2/3
    assert m["pass@2"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert m["pass@1"] == pytest.approx((2 / 3 + 1 / 3 + 1 / 3) / 3)
    assert m["cons@k"] == pytest.approx(2 / 3)  # "12" right; "6" wrong; 3-way tie -> first, "0.5", right
    assert m["format_rate"] == pytest.approx((2 / 3 + 1 / 3 + 1 / 3) / 3)
    # the weighted reward (accuracy 1.0 + format 0.5) averaged over the 9 samples: 4 right, 4 well formed
    assert m["reward"] == pytest.approx((4 * 1.0 + 4 * 0.5) / 9)
    assert json.loads(out.read_text())["arithmetic"] == m and out.with_suffix(".samples.json").is_file()


@pytest.mark.parametrize("n, c, k", [(5, 0, 1), (5, 2, 1), (5, 2, 2), (6, 3, 4), (8, 1, 3), (4, 4, 2), (10, 7, 5)])
def test_pass_at_k_matches_a_brute_force_count(n, c, k):
    """The estimator equals the share of all k-subsets of the n samples that hold a correct one."""
    samples = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    brute = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
    assert pass_at_k(n, c, k) == pytest.approx(brute)


def test_cons_at_k_tie_between_right_and_wrong_goes_to_the_first():
    m = eval_metrics(answers=[["1", "2"], ["2", "1"]], correct=[[1.0, 0.0], [0.0, 1.0]],
                     formats=[[1.0, 1.0], [1.0, 1.0]], n_tokens=[[1, 1], [1, 1]])
    assert m["cons@k"] == 0.5 and m["pass@1"] == 0.5

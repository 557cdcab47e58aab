"""The RL algorithms users compare, each set with TRL's own keys in a GRPO section (the README's table) and
trained on the tiny chain; and DAPO's dynamic sampling, r1pipe's own code on TRL's trainer."""

import json

import pytest
import torch
import yaml

from conftest import invoke
from r1pipe import rewards
from r1pipe.training.grpo import CPUGRPOTrainer
from test_stages import changed

# The README's table of algorithms: TRL's settings for each (the paper's values where it gives them).
ALGORITHMS = {
    "grpo": {"loss_type": "grpo", "scale_rewards": "group"},
    "dr_grpo": {"loss_type": "dr_grpo", "scale_rewards": "none"},
    "dapo": {"loss_type": "dapo", "epsilon_high": 0.28, "mask_truncated_completions": True, "dynamic_sampling": 2},
    "gspo": {"importance_sampling_level": "sequence", "loss_type": "grpo", "epsilon": 3e-4, "epsilon_high": 4e-4},
    "cispo": {"loss_type": "cispo", "epsilon_high": 5.0},
}


def run(cwd, *args):
    result = invoke(*args, cwd=cwd)
    if result.exception:
        raise result.exception
    return result


def write_params(chain, name, **changes):
    params = yaml.safe_load((chain / "params.yaml").read_text())
    params["rl_reasoning"].update({"max_steps": 2, "save_steps": 0, "learning_rate": 1e-3, **changes})
    (chain / name).write_text(yaml.safe_dump(params))
    return name


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_each_algorithm_trains_from_params(chain, algorithm):
    name = write_params(chain, f"{algorithm}.yaml", **ALGORITHMS[algorithm])
    run(chain, "grpo", "--params", name, "--section", "rl_reasoning", "--model", "models/A", "--data",
        "data/prompts", "--out", f"models/{algorithm}", "--live", f"dvclive/{algorithm}")
    assert changed(chain / "models/A", chain / f"models/{algorithm}")
    rows = (chain / f"dvclive/{algorithm}/plots/metrics/reward.tsv").read_text().splitlines()
    assert [int(r.split()[0]) for r in rows[1:]] == [1, 2]
    params = json.loads((chain / f"models/{algorithm}/r1pipe.json").read_text())["params"]
    assert {k: params[k] for k in ALGORITHMS[algorithm]} == ALGORITHMS[algorithm]


def test_dynamic_sampling_lets_no_zero_variance_group_reach_the_loss(chain, monkeypatch):
    """Half the prompts get the same reward for every completion; with dynamic sampling none of their groups,
    whose advantages are all 0, is in a batch the loss sees. In the others, one completion of four scores 1,
    so none of their advantages is 0."""
    group = 4
    constant_groups = []

    def make_split():
        def split(prompts, completions, **_):
            scores = []
            for i, prompt in enumerate(prompts):
                constant = len(str(prompt)) % 2 == 0
                if constant and i % group == 0:
                    constant_groups.append(i)
                scores.append(0.0 if constant else float(i % group == 0))
            return scores
        return split

    monkeypatch.setitem(rewards.REWARDS, "split", make_split)
    seen = []
    compute_loss = CPUGRPOTrainer.compute_loss

    def recording(self, model, inputs, *args, **kwargs):
        seen.append(inputs["advantages"].detach().clone())
        return compute_loss(self, model, inputs, *args, **kwargs)

    monkeypatch.setattr(CPUGRPOTrainer, "compute_loss", recording)
    name = write_params(chain, "dynamic.yaml", rewards={"split": 1.0}, max_steps=3, dynamic_sampling=4,
                        per_device_train_batch_size=8, num_generations=group)
    run(chain, "grpo", "--params", name, "--section", "rl_reasoning", "--model", "models/A", "--data",
        "data/prompts", "--out", "models/dynamic", "--live", "dvclive/dynamic")
    assert constant_groups, "no prompt got a constant reward: the test would prove nothing"
    assert len(seen) == 3 and all(len(a) == 8 for a in seen)
    assert all(bool((a != 0).all()) for a in seen), seen
    log = json.loads((chain / "models/dynamic/train_log.json").read_text())
    assert sum(h["dynamic_sampling/rounds"] for h in log if "dynamic_sampling/rounds" in h) > 0

    # Without it, those groups reach the loss.
    seen.clear()
    name = write_params(chain, "static.yaml", rewards={"split": 1.0}, max_steps=3, per_device_train_batch_size=8,
                        num_generations=group)
    run(chain, "grpo", "--params", name, "--section", "rl_reasoning", "--model", "models/A", "--data",
        "data/prompts", "--out", "models/static", "--live", "dvclive/static")
    assert any(bool((a == 0).any()) for a in seen)
    assert torch.cat(seen).numel() == 24

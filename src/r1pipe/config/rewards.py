"""Weighted rewards, as a section names them: what GRPO trains on and what eval and reject-sample score with.
Its own module, so that a default here reruns the stages that score and nothing else."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator


def reward_spec(spec) -> tuple[float | None, dict]:
    """``w`` or ``{weight: w, option: value}`` -> (weight, options)."""
    if isinstance(spec, dict):
        options = dict(spec)
        return options.pop("weight", None), options
    return float(spec), {}


class WeightedRewards(BaseModel):
    """Rewards by name with weights; one combiner (``r1pipe.rewards.combine``, TRL's formula) applies them.

    Names and options are checked by the rewards registry (``r1pipe.rewards.check_rewards``).
    """

    rewards: dict[str, float | dict[str, Any]] = Field(
        default_factory=lambda: {"accuracy": 1.0, "format": 0.5},
        min_length=1,
        description="Reward name -> weight, or -> {weight: w, <option>: value, ...}.",
    )
    sandbox: Literal["namespaces", "unsafe"] = Field(
        "namespaces",
        description="How graded code runs. namespaces: in the sandbox, and a stage that grades code stops at its "
        "start where the sandbox cannot start. unsafe: there, run graded programs as this user with only rlimits "
        "(recorded in the manifest, the summary and the report).",
    )

    @field_validator("rewards")
    @classmethod
    def _weighted(cls, rewards: dict) -> dict:
        for name, spec in rewards.items():
            if reward_spec(spec)[0] is None:
                raise ValueError(f"{name}: needs a weight")
        return rewards

    def reward_specs(self) -> list[tuple[str, float, dict]]:
        """(name, weight, options) per configured reward."""
        return [(name, *reward_spec(spec)) for name, spec in self.rewards.items()]

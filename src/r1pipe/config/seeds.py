"""The `seeds` section: the extra seeds of the RL stages, each its own DVC stage.

dvc.yaml repeats ``rl_reasoning`` once per seed listed here (``rl_reasoning_seed@1`` writes
``models/seeds/B-1``) and evaluates each (``eval_seed_B@1`` writes ``metrics/seeds/B-1.json``); likewise
``rl_all`` (``models/seeds/D-N``) and ``rl_zero`` (``models/seeds/zero-N``). The chain itself continues from
``models/B`` (``rl_reasoning.seed``); the report judges "B > A", "D >= C" and "zero > base" on the mean over
the chain's model and these seeds. Adding a seed runs only that seed's two stages:

    dvc exp run -S 'seeds.rl_reasoning=[1,2,3]'
"""

from __future__ import annotations

from pydantic import Field, field_validator

from r1pipe.config import Section


class SeedsSection(Section):
    """No stage reads it (its ``seed`` is unused): DVC expands dvc.yaml's per-seed stages from it."""

    rl_reasoning: list[int] = Field(
        default_factory=lambda: [1, 2],
        description="Seeds of rl_reasoning besides rl_reasoning.seed; each trains and evaluates its own B.")
    rl_all: list[int] = Field(
        default_factory=lambda: [1, 2],
        description="Seeds of rl_all besides rl_all.seed; each trains and evaluates its own D.")
    rl_zero: list[int] = Field(
        default_factory=lambda: [1, 2],
        description="Seeds of rl_zero besides rl_zero.seed; each trains and evaluates its own zero.")

    @field_validator("rl_reasoning", "rl_all", "rl_zero")
    @classmethod
    def _distinct(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"{seeds}: a seed is listed twice")
        return seeds

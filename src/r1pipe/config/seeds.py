"""The `seeds` section: the extra seeds of the training stages, each its own DVC stage.

dvc.yaml repeats ``rl_reasoning`` once per seed listed here (``rl_reasoning_seed@1`` writes
``models/seeds/B-1``) and evaluates each (``eval_seed_B@1`` writes ``metrics/seeds/B-1.json``); likewise
``rl_all`` (``models/seeds/D-N``), ``rl_zero`` (``models/seeds/zero-N``), ``coldstart`` (``A-N``), ``sft``
(``C-N``) and ``distill`` (``student-N``); and the random-reward controls ``rl_reasoning_random``
(``B_random-N``; its seeds start at 0, as it has no chain model) and ``rl_zero_random`` (``zero_random-N``).
The chain itself continues from seed 0's models (``models/A``, ``models/B``, ...: each section's own
``seed``); the report judges every claim on the mean over each side's runs, the chain's model and these seeds,
with both sides' spread in its SE. Adding a seed runs only that seed's two stages:

    dvc exp run -S 'seeds.coldstart=[1,2]'
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
    rl_reasoning_random: list[int] = Field(
        default_factory=list,
        description="Seeds of the control rl_reasoning_random (rl_reasoning with a reward that ignores correctness), "
        "each trained from A into models/seeds/B_random-N and evaluated: the report's B > B_random. Off by "
        "default: three seeds cost what rl_reasoning's three do.")
    rl_zero_random: list[int] = Field(
        default_factory=list,
        description="Seeds of the control rl_zero_random, from the base into models/seeds/zero_random-N: the "
        "report's zero > zero_random. Off by default.")
    coldstart: list[int] = Field(
        default_factory=list,
        description="Seeds of coldstart besides coldstart.seed; each trains and evaluates its own A (the chain goes "
        "on from models/A), so that the claims about A weigh its seed-to-seed spread. Off by default: two seeds "
        "add about a tenth to the default's time (bench/default_runs.md).")
    sft: list[int] = Field(
        default_factory=list,
        description="Seeds of sft besides sft.seed; each trains and evaluates its own C. Off by default, as coldstart.")
    distill: list[int] = Field(
        default_factory=list,
        description="Seeds of distill besides distill.seed; each trains and evaluates its own student. Off by "
        "default, as coldstart.")

    @field_validator("rl_reasoning", "rl_all", "rl_zero", "rl_reasoning_random", "rl_zero_random", "coldstart", "sft",
                     "distill")
    @classmethod
    def _distinct(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"{seeds}: a seed is listed twice")
        return seeds

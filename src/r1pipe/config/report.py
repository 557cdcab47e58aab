"""The `report` section."""

from __future__ import annotations

from pydantic import Field

from r1pipe.config import Section

# The chain's models in the report's row order, with the stage each comes from.
ROLES = {
    "base": "base model",
    "A": "cold start (SFT)",
    "B": "reasoning RL (GRPO)",
    "C": "SFT on rejection samples",
    "D": "all-scenario RL (the R1)",
    "zero": "R1-Zero (RL on the base)",
    "student": "distilled student",
}


class ReportSection(Section):
    models: list[str] = Field(
        default_factory=lambda: list(ROLES),
        description="Row order of the report table; names of metrics/eval/<name>.json.",
    )

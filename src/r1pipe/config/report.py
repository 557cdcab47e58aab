"""The `report` section."""

from __future__ import annotations

from pydantic import Field

from r1pipe.config import Section


class ReportSection(Section):
    models: list[str] = Field(
        default_factory=lambda: ["base", "A", "B", "C", "D", "zero", "student"],
        description="Row order of the report table; names of metrics/eval/<name>.json.",
    )

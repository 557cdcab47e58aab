"""The registries that validate their own part of a section (rewards, filters, benchmarks), by the fields a section
type has. config imports none of them; the command line hands them to ``config.load_section`` and ``check``.

A stage's code fingerprint holds this module but not, through it, every registry: the registries a section's
fields reach are the stage's own code already (tests/test_deps.py holds that).
"""

from __future__ import annotations

from r1pipe import config


def section_checks(cls) -> config.Checks:
    """The registries that validate their own part of a section: config imports none of them."""
    checks: config.Checks = {}
    if "rewards" in cls.model_fields:
        from r1pipe.rewards import check_rewards

        checks["rewards"] = check_rewards
    if "filters" in cls.model_fields:
        from r1pipe.data.filters import check_filters

        checks["filters"] = check_filters
    if "benchmarks" in cls.model_fields:
        from r1pipe.data.benchmarks import check_benchmarks

        checks["benchmarks"] = check_benchmarks
    return checks

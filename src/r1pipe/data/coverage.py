"""Whether the prompts `prepare` will write have what the later stages read, found from the params alone.

`r1pipe check` runs this before anything trains: without it a user's own data passes `prepare` and the chain
stops an hour later, at coldstart (no worked solution to train on) or at eval (no test split).
"""

from __future__ import annotations

from pathlib import Path

from r1pipe.config.prepare import PrepareSection
from r1pipe.data.benchmarks import resolve


def problems(sections: dict) -> list[str]:
    """One line per thing a later stage will miss in ``prepare``'s output (``sections``: name -> parsed section)."""
    prepare: PrepareSection | None = sections.get("prepare")
    if prepare is None:
        return []
    found = []
    if "coldstart" in sections and not any(s.gives_solutions() and s.gives("train") for s in prepare.sources):
        found.append("coldstart: no source of prepare.sources gives a worked solution, so coldstart would have "
                     "nothing to train on: map one with `columns: {solution: <column>}`, or use answer_format "
                     "gsm8k or boxed, whose answer column is one")
    if "eval" in sections:
        names = {s.name for s in prepare.sources}
        for bench in sections["eval"].benchmarks:
            bench = resolve(bench, None)
            if bench.source != "prompts":
                continue
            split = bench.split or "test"
            if not any(s.gives(split) for s in prepare.sources):
                found.append(f"eval.benchmarks: {bench.name} reads the prepared {split} split, and no source of "
                             f"prepare.sources has one: give a source `{split}: <file>`, or cut one out of its train "
                             f"file with `{split}_size: 0.1`")
            elif bench.name == "arithmetic" and "arithmetic" not in names:
                found.append(f"eval.benchmarks: arithmetic is the prepared test split of an arithmetic source, and "
                             f"prepare has none; name the benchmark after yours: `benchmarks: [{{name: "
                             f"{sorted(names)[0]}, source: prompts}}]`")
    return found


def missing_files(sections: dict, produced: set[str]) -> list[str]:
    """One line per local file or folder a section names that is not there and that no stage makes
    (``produced``: the outputs dvc.yaml declares)."""
    return [f"{name}: {path} ({role}) is not there" for name, section in sections.items()
            for role, path in section.local_files().items()
            if not Path(path).exists() and Path(path).as_posix() not in produced]

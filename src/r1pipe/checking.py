"""`r1pipe check`: every problem of a params file at once, and `--explain` of a key.

Its own module, out of the command line that every stage runs, so that a change to what `check` says reruns no
stage.
"""

from __future__ import annotations

from pathlib import Path

from r1pipe import R1pipeError, config
from r1pipe.registries import section_checks


def problems(params: Path, default_sections: dict[str, str]) -> list[str]:
    """One line per problem of ``params``: each section's (pydantic's, TRL's, the registries'), then what the
    stages need of each other (``data.coverage``), then, in a DVC project, each file a stage reads that its deps
    miss. ``default_sections``: each command's section where dvc.yaml gives no ``--section``."""
    from r1pipe.data.coverage import missing_files
    from r1pipe.data.coverage import problems as coverage_problems

    raw = config.load_params(params)
    sections, problems = {}, []
    for name, body in raw.items():
        cls = config.section_class(name)
        try:
            sections[name] = config.validate(params, name, cls, body, section_checks(cls))
        except R1pipeError as e:
            problems += str(e).splitlines()
    if not problems:
        problems = [f"{params}: {line}" for line in [*coverage_problems(sections),
                                                      *missing_files(sections, _dvc_outputs())]]
    if not problems and Path("dvc.yaml").is_file():  # a DVC project: does it depend on every file these read?
        from r1pipe.dvcdeps import missing_in_project

        def reads_of(name: str):
            return sections[name].local_files() if name in sections and name != "launch" else None

        from dvc.exceptions import DvcException

        try:
            problems = missing_in_project(Path.cwd(), params, reads_of, default_sections)
        except DvcException as e:  # no .dvc, no git: `dvc repro` could not run here either
            problems = [f"dvc.yaml: DVC cannot read this project: {str(e).splitlines()[0]}"]
    return problems


def _dvc_outputs() -> set[str]:
    """The outputs the stages of ./dvc.yaml declare (a file a stage makes need not exist before it runs)."""
    import yaml

    if not Path("dvc.yaml").is_file():
        return set()
    stages = (yaml.safe_load(Path("dvc.yaml").read_text()) or {}).get("stages", {})
    return {str(next(iter(out)) if isinstance(out, dict) else out) for stage in stages.values()
            for out in [*stage.get("outs", []), *stage.get("metrics", []), *stage.get("plots", [])]}


def explain(what: str, params: Path) -> list[str]:
    """``check --explain SECTION.KEY``: the meaning and default, and each value the params file gives, as lines."""
    section, _, key = what.partition(".")
    cls = config.section_class(section)
    if cls is None:
        raise R1pipeError(f"--explain {what}: {section}: unknown section{config.did_you_mean(section)}")
    if not key:
        raise R1pipeError(f"--explain {what}: expected SECTION.KEY (keys of {section}: "
                          f"{', '.join(cls.model_fields)}, and TRL's)")
    try:
        text = cls.explain(key)
    except ValueError as e:
        raise R1pipeError(f"--explain {section}.{e}") from None
    lines = [f"{section}.{text}"]
    if params.is_file():
        for where, value in _given_values(config.load_params(params).get(section), key.split("."), section):
            lines.append(f"In {params}, {where}: " + ("not given (the default applies)" if value is _UNSET
                                                      else repr(value)))
    return lines


_UNSET = object()


def _given_values(body, parts: list[str], where: str) -> list[tuple[str, object]]:
    """The values a params file gives at a dotted key, one per item where the path runs through a list."""
    if not parts:
        return [(where, body)]
    if isinstance(body, list):
        if parts[0].isdigit():  # one item, as error messages name it (sources.0.answer_format)
            i = int(parts[0])
            return _given_values(body[i] if i < len(body) else None, parts[1:], f"{where}[{i}]")
        return [found for i, item in enumerate(body) for found in _given_values(item, parts, f"{where}[{i}]")]
    if not isinstance(body, dict) or parts[0] not in body:
        return [(".".join([where, *parts]), _UNSET)]
    return _given_values(body[parts[0]], parts[1:], f"{where}.{parts[0]}")



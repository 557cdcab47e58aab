"""The naming rule of README.md: a dvc stage is named after the params section it reads; a command is named
after its module in r1pipe/stages and takes that module's section type (`grpo` and `base` serve several
sections); the README's stage table lists each stage with its command."""

import copy
import importlib
import re
import shlex
import typing

import yaml

from conftest import REPO, TINY
from r1pipe.cli import app
from r1pipe.config import SECTIONS, section_class

# params.yaml's `launch` starts the commands that can run on N processes (config/launch.py).
LAUNCHER = {"coldstart": "${launch.train}", "grpo": "${launch.train}", "sft": "${launch.train}",
            "distill": "${launch.train}", "reject-sample": "${launch.generate}", "eval": "${launch.generate}"}


def naming_problems(stages: dict, params: dict, readme: str) -> list[str]:
    """Every way ``stages`` (dvc.yaml's), ``params`` and ``readme`` break the naming rule."""
    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    table = {m.group(1): m.group(2) for m in re.finditer(r"^\| `?(\w+)`? \| `r1pipe ([\w-]+)", readme, re.M)}
    problems = []
    for name, stage in stages.items():
        stage = stage.get("do", stage)
        launcher, command, *argv = shlex.split(stage["cmd"])
        if name == "code":  # each command's code fingerprint: it reads r1pipe's source, no params section
            problems += [] if table.get(name) == command == "code" else ["code: README's stage table lacks it"]
            continue
        section = argv[argv.index("--section") + 1] if "--section" in argv else command.replace("-", "_")
        if launcher != LAUNCHER.get(command, "r1pipe") or command not in commands:
            problems.append(f"{name}: runs {launcher} {command}, not r1pipe {command} through its launcher")
            continue
        # A stage repeated per seed reads the section it repeats: `<section>_seed`, or `<section>_seed_<model>`
        # where one section serves several models' seeds (eval_seed_B, eval_seed_D, eval_seed_zero).
        repeated = re.sub(r"_seed(_[A-Za-z0-9_]+)?$", "", name)
        if section != repeated:
            problems.append(f"{name}: reads section {section!r}, not {repeated!r}")
        if stage.get("params") != [repeated]:
            problems.append(f"{name}: declares params {stage.get('params')}, not [{repeated}]")
        if repeated not in params:
            problems.append(f"{name}: no such section in params.yaml")
        module = importlib.import_module(f"r1pipe.stages.{command.replace('-', '_')}")
        takes = typing.get_type_hints(module.run)["cfg"]
        if section_class(repeated) is None or not issubclass(section_class(repeated), takes):
            problems.append(f"{name}: section type {section_class(repeated)} is not what `r1pipe {command}` takes")
        if table.get(name) != command:
            problems.append(f"{name}: README's stage table lacks `{name}` | `r1pipe {command}`")
    return problems


def test_dvc_stage_command_module_section_and_doc_agree():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    readme = (REPO / "README.md").read_text()
    assert naming_problems(stages, params, readme) == []

    # The check can fail: a stage renamed away from its section, and a README row gone.
    wrong = copy.deepcopy(stages)
    wrong["cold_start"] = wrong.pop("coldstart")
    assert any("cold_start: reads section 'coldstart'" in p for p in naming_problems(wrong, params, readme))
    assert naming_problems(stages, params, readme.replace("| `sft` |", "| sft-stage |")) == [
        "sft: README's stage table lacks `sft` | `r1pipe sft`"]


def test_presets_and_default_cover_every_section():
    for path in [REPO / "params.yaml", TINY, REPO / "stages/presets/gpu.yaml"]:
        assert set(yaml.safe_load(path.read_text())) == set(SECTIONS), path

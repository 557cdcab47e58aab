"""One name in five places: dvc stage, command, module, params section, and the README's stage table."""

import re
import shlex

import yaml

from conftest import REPO, TINY
from r1pipe.cli import app
from r1pipe.config import SECTIONS, section_class


def dvc_stages():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        yield name, stage.get("do", stage)


def test_dvc_stage_command_module_section_and_doc_agree():
    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    readme = (REPO / "README.md").read_text()
    table = {m.group(1): m.group(2) for m in re.finditer(r"^\| `?(\w+)`? \| `r1pipe ([\w-]+)", readme, re.M)}
    for name, stage in dvc_stages():
        argv = shlex.split(stage["cmd"])
        assert argv[0] == "r1pipe"
        command = argv[1]
        section = argv[argv.index("--section") + 1] if "--section" in argv else command.replace("-", "_")
        module = f"src/r1pipe/stages/{command.replace('-', '_')}.py"
        assert command in commands, name
        assert section == name, f"dvc stage {name!r} runs section {section!r}"
        assert stage["params"] == [section], name
        assert section in params and section_class(section) is SECTIONS.get(section, section_class(section))
        assert module in stage["deps"], f"{name} does not depend on its own code {module}"
        assert (REPO / module).is_file()
        assert table.get(name) == command, f"README stage table lacks `{name}` | `r1pipe {command}`"


def test_presets_and_default_cover_every_section():
    for path in [REPO / "params.yaml", TINY, REPO / "stages/presets/gpu.yaml"]:
        assert set(yaml.safe_load(path.read_text())) == set(SECTIONS), path

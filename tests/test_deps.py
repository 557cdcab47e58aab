"""Exact invalidation: each dvc.yaml stage depends on exactly the r1pipe code its command can import, and on
every file it reads; config is a leaf; there is no import circle."""

import copy
import json
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, TINY
from r1pipe import codegraph
from r1pipe.config import section_class

STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def bodies(stages):
    for name, stage in stages.items():
        yield name, stage.get("do", stage)


def code_dep_problems(stages) -> list[str]:
    problems = []
    for name, body in bodies(stages):
        listed = [d for d in body["deps"] if d.startswith("src/")]
        wanted = codegraph.stage_code_deps(body["cmd"])
        problems += [f"{name}: imports {d} but does not depend on it" for d in wanted if d not in listed]
        problems += [f"{name}: depends on {d} but never imports it" for d in listed if d not in wanted]
    return problems


def test_every_stage_depends_on_exactly_the_code_it_imports():
    assert code_dep_problems(STAGES) == [], "run: python scripts/sync_dvc_deps.py"
    # It can fail both ways: a dep left out, and a dep the stage never loads.
    fewer = copy.deepcopy(STAGES)
    fewer["rl_reasoning"]["deps"].remove("src/r1pipe/config/grpo.py")
    assert code_dep_problems(fewer) == ["rl_reasoning: imports src/r1pipe/config/grpo.py but does not depend on it"]
    more = copy.deepcopy(STAGES)
    more["sft"]["deps"].append("src/r1pipe/config/grpo.py")
    assert code_dep_problems(more) == ["sft: depends on src/r1pipe/config/grpo.py but never imports it"]


@pytest.mark.parametrize("command", ["base", "prepare", "coldstart", "grpo", "reject_sample", "sft", "distill",
                                     "eval", "report"])
def test_the_import_graph_covers_what_a_stage_really_loads(command):
    """What importing the stage module really loads (sys.modules in a fresh interpreter) is in the static closure,
    which adds the lazy imports inside functions."""
    code = (f"import sys, json, r1pipe.stages.{command}; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('r1pipe'))))")
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                           check=True).stdout))
    assert loaded <= codegraph.closure(f"r1pipe.stages.{command}")


def test_every_stage_depends_on_the_files_it_reads():
    for name, body in bodies(STAGES):
        argv = codegraph.stage_argv(body["cmd"])
        paths = [argv[i + 1] for i, a in enumerate(argv) if a in ("--model", "--data", "--student")]
        section = argv[argv.index("--section") + 1] if "--section" in argv else argv[0].replace("-", "_")
        cfg = section_class(section).model_validate(PARAMS[section])
        for path in [*paths, *cfg.local_files().values()]:
            assert path in body["deps"] or path.replace("models/", "${item}") in body["deps"], (name, path)
    report = dict(bodies(STAGES))["report"]
    argv = codegraph.stage_argv(report["cmd"])
    report = report["deps"]
    assert argv[argv.index("--seeds-dir") + 1] in report  # each seed's eval metrics
    for model in section_class("report")().models:  # what `r1pipe report` opens
        assert {f"models/{model}/r1pipe.json", f"metrics/eval/{model}.json", f"metrics/eval/{model}.samples.json",
                f"metrics/eval/{model}.problems.json"} <= set(report)
    # Run logs vary between runs of the same inputs: the report reads them only into its own run log.
    assert not [dep for dep in report if dep.endswith(".run.json")]


def test_config_is_a_leaf_and_no_import_circle_remains():
    code = "import sys, r1pipe.config; print(sorted(m for m in sys.modules if m.startswith('r1pipe')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['r1pipe', 'r1pipe.config']"
    assert codegraph.cycles() == []


def test_data_imports_no_engine_trainer_or_stage():
    """data/ sits below engines/, training/ and stages/: the types it shares with the engines (Completion,
    Sampling) live in data/ and config/, so a filter or a mixture loads no generation code."""
    data = [str(p.relative_to(REPO / "src")).removesuffix(".py").replace("/", ".")
            for p in (REPO / "src/r1pipe/data").glob("*.py")]
    def above_data(*modules):
        return {m for m in codegraph.closure(*modules) if m.startswith(("r1pipe.engines", "r1pipe.training",
                                                                          "r1pipe.stages"))}

    assert above_data(*data) == set()
    # The check can fail: a module that loads the engines (eval's generation) is found.
    assert "r1pipe.engines.journal" in above_data("r1pipe.stages.eval")
    # The prefilled-<think> rule is data's (templates), so GRPO's trainer loads no generation engine.
    assert not {m for m in above_data("r1pipe.training.grpo") if m.startswith("r1pipe.engines")}


def test_stages_that_load_no_model_do_not_depend_on_the_model_code():
    """prepare and report read text and JSON: a change to models/ (or to the rewards, which load reward models)
    reruns neither. The answer helpers they share with the rewards live in a leaf, r1pipe.answers."""
    def deps(stage):
        return set(dict(bodies(STAGES))[stage]["deps"])

    for stage in ("prepare", "report"):
        assert not {"src/r1pipe/models", "src/r1pipe/rewards"} & deps(stage), stage
    assert "src/r1pipe/models" in deps("reject_sample")  # the check can fail: a stage that loads a model
    code = "import sys, r1pipe.answers; print(sorted(m for m in sys.modules if m.startswith('r1pipe')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['r1pipe', 'r1pipe.answers']"


def test_shared_modules_are_deps_of_every_stage():
    for name, body in bodies(STAGES):
        assert {"src/r1pipe/cli.py", "src/r1pipe/config/__init__.py", "src/r1pipe/artifacts.py"} <= set(
            body["deps"]), name


def test_presets_name_no_path_outside_the_repository():
    """Every local path a preset names exists in the repository or is written by a stage of dvc.yaml."""
    outs = {str(o if isinstance(o, str) else next(iter(o))) for _, body in bodies(STAGES)
            for o in body.get("outs", [])}
    for preset in [REPO / "params.yaml", TINY, REPO / "stages/presets/gpu.yaml"]:
        params = yaml.safe_load(preset.read_text())
        assert "../" not in preset.read_text(), preset
        for name, body in params.items():
            cfg = section_class(name).model_validate(body or {})
            for path in cfg.local_files().values():
                assert (REPO / path).exists() or path in outs, f"{preset.name}: {name} reads {path}"
            if getattr(cfg, "model", None) and "/" in cfg.model and cfg.model.startswith(("models/", ".", "/")):
                assert cfg.model in outs or (REPO / cfg.model).exists(), f"{preset.name}: {name}.model {cfg.model}"

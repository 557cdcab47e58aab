"""Exact invalidation: each dvc.yaml stage depends on its command's code fingerprint (the r1pipe code it can
import, hashed on its syntax tree) and on every file it reads; config is a leaf; there is no import circle."""

import copy
import json
import shlex
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


LAUNCHERS = ("r1pipe", "${launch.train}", "${launch.generate}")  # how a dvc.yaml command starts r1pipe


def stage_argv(cmd: str) -> list[str]:
    """A dvc.yaml ``cmd`` from the r1pipe command on: ``${launch.train} sft --out m`` -> ``[sft, --out, m]``."""
    words = shlex.split(cmd)
    start = next(i for i, w in enumerate(words) if w in LAUNCHERS)
    return words[start + 1:]


def code_dep_problems(stages) -> list[str]:
    """Each r1pipe stage depends on its command's code fingerprint and on no source file (whose bytes change with
    every comment); the fingerprints are the ``code`` stage's outputs."""
    problems = []
    for name, body in bodies(stages):
        if name == "code":
            continue
        wanted = f"code/{stage_argv(body['cmd'])[0]}.json"
        problems += [f"{name}: does not depend on {wanted}"] if wanted not in body["deps"] else []
        problems += [f"{name}: depends on {d}, a source file" for d in body["deps"] if d.startswith("src/")]
        problems += [f"{name}: depends on {d}, another command's code" for d in body["deps"]
                     if d.startswith("code/") and d != wanted]
    return problems


def test_every_stage_depends_on_its_commands_code_fingerprint():
    assert code_dep_problems(STAGES) == []
    code = STAGES["code"]
    assert code["always_changed"] and stage_argv(code["cmd"]) == ["code", "--out", "code"]
    # It can fail: a fingerprint left out, a source file listed, another command's fingerprint.
    broken = copy.deepcopy(STAGES)
    broken["rl_reasoning"]["deps"].remove("code/grpo.json")
    broken["sft"]["deps"] += ["src/r1pipe/config/grpo.py", "code/grpo.json"]
    assert code_dep_problems(broken) == ["rl_reasoning: does not depend on code/grpo.json",
                                         "sft: depends on src/r1pipe/config/grpo.py, a source file",
                                         "sft: depends on code/grpo.json, another command's code"]


def test_the_committed_fingerprints_are_todays_code(tmp_path):
    """code/*.json in the repository is what `r1pipe code` writes for today's code, so the committed dvc.lock
    shows which stages a change since the committed run reruns (`dvc status` in a fresh clone)."""
    codegraph.write_fingerprints(tmp_path)
    for written in sorted(tmp_path.glob("*.json")):
        committed = REPO / "code" / written.name
        assert committed.is_file() and committed.read_text() == written.read_text(), \
            f"code/{written.name} is not today's code: run `r1pipe code`"
    assert {p.name for p in (REPO / "code").glob("*.json")} == {p.name for p in tmp_path.glob("*.json")}


def test_a_fingerprint_follows_what_the_code_does_not_how_it_is_written(tmp_path):
    original = tmp_path / "a.py"
    original.write_text('"""Doc."""\nimport os\n\n\ndef f(x):\n    """Say what f does."""\n    return x + 1\n')
    same = tmp_path / "b.py"  # comments, docstrings, blank lines and line breaks: the same code
    same.write_text('import os  # the os\n\n\ndef f(\n    x,\n):\n    # one more\n    return (x +\n            1)\n')
    other = tmp_path / "c.py"
    other.write_text('"""Doc."""\nimport os\n\n\ndef f(x):\n    """Say what f does."""\n    return x + 2\n')
    assert codegraph.syntax_hash(original) == codegraph.syntax_hash(same) != codegraph.syntax_hash(other)
    # A string that is a statement's value, not a docstring, is code.
    value = tmp_path / "d.py"
    value.write_text('import os\n\n\ndef f(x):\n    y = "Say what f does."\n    return x + 1\n')
    assert codegraph.syntax_hash(value) != codegraph.syntax_hash(same)
    # Constants JSON has no type for keep theirs: none of these is the string beside it.
    for code, other in [('x = b"ab"', "x = \"b'ab'\""), ("x = ...", 'x = "Ellipsis"'), ("x = 1j", 'x = "1j"')]:
        original.write_text(code + "\n")
        same.write_text(other + "\n")
        assert codegraph.syntax_hash(original) != codegraph.syntax_hash(same), code


def test_every_section_type_a_command_takes_is_in_its_fingerprint():
    """``config.section_class`` imports a section's type by name ("grpo:GRPOSection"), which no import statement
    shows: the type of every section a command can be given (rl_zero, base_student, ...) must be its code."""
    from r1pipe.cli import DEFAULT_SECTIONS
    from r1pipe.config import SECTIONS

    command_of = {SECTIONS[section]: command for command, section in DEFAULT_SECTIONS.items()}
    for section, spec in SECTIONS.items():
        if section in ("launch", "seeds"):  # read by dvc.yaml's templating, by no command
            continue
        command = command_of[spec]
        module = f"r1pipe/config/{spec.split(':')[0]}.py"
        assert module in codegraph.fingerprint(f"r1pipe.stages.{command.replace('-', '_')}"), (section, command)


def test_a_change_to_one_command_moves_only_the_fingerprints_of_the_commands_that_run_it():
    """The import arrows are cut so that a module is in the fingerprint of the commands that run it only."""
    def runs(path):
        return {c for c in codegraph.commands() if path in codegraph.fingerprint(f"r1pipe.stages.{c}")}

    everything = set(codegraph.commands())
    # The task generator: only `prepare` (the tiny tokenizer's text is frozen in models/tiny_corpus.py).
    assert runs("r1pipe/data/arithmetic.py") == {"prepare"}
    assert runs("r1pipe/config/grpo.py") == {"grpo"}
    assert runs("r1pipe/config/sft.py") == {"coldstart", "sft", "distill"}
    # The shared training settings (LoRA, trainable layers) reach only the training commands.
    assert runs("r1pipe/config/training.py") == {"coldstart", "grpo", "sft", "distill"}
    assert runs("r1pipe/models/tiny.py") == everything - {"prepare", "report"}
    for shared in ("r1pipe/cli.py", "r1pipe/config/__init__.py", "r1pipe/artifacts.py", "r1pipe/codegraph.py"):
        assert runs(shared) == everything, shared


def test_the_registries_a_commands_section_reaches_are_in_its_fingerprint():
    """The command line validates a section's rewards, filters and benchmarks through their registries
    (``registries.section_checks``) before the stage runs; the fingerprint holds ``registries.py`` but not every
    registry, so each one a command's section reaches must be the stage's own code already."""
    from r1pipe.cli import DEFAULT_SECTIONS

    registry = {"rewards": "r1pipe/rewards/__init__.py", "filters": "r1pipe/data/filters.py",
                "benchmarks": "r1pipe/data/benchmarks.py"}
    assert all(f"check_{field}" in (REPO / "src/r1pipe/registries.py").read_text() for field in registry)
    reached = 0
    for command, section in DEFAULT_SECTIONS.items():
        runs = codegraph.fingerprint(f"r1pipe.stages.{command.replace('-', '_')}")
        assert "r1pipe/registries.py" in runs and "r1pipe/cli.py" in runs
        for field, module in registry.items():
            if field in section_class(section).model_fields:
                assert module in runs, (command, field)
                reached += 1
    assert reached >= 4  # grpo's, eval's and reject-sample's rewards, eval's benchmarks, reject-sample's filters


def test_a_stage_run_by_dvc_on_other_code_than_its_fingerprint_names_refuses(tmp_path):
    from r1pipe import dvcdeps

    stage = "r1pipe.stages.sft"
    current = tmp_path / "sft.json"
    current.write_text(json.dumps(codegraph.code_file(stage)))
    old = tmp_path / "old" / "sft.json"
    old.parent.mkdir()
    old.write_text(json.dumps({**codegraph.code_file(stage), "code_sha256": "0" * 64}))
    data = tmp_path / "rows.json"
    data.write_text("{}")
    now = codegraph.code_hash(stage)
    assert dvcdeps.stale_code([data, current], "sft", now) is None
    assert dvcdeps.stale_code([data, old], "sft", now) == old
    assert dvcdeps.stale_code([old], "grpo", now) is None  # another command's file is not this one's


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
        if name == "code":  # it reads r1pipe's own source, which is what it fingerprints
            continue
        argv = stage_argv(body["cmd"])
        paths = [argv[i + 1] for i, a in enumerate(argv) if a in ("--model", "--data", "--student")]
        section = argv[argv.index("--section") + 1] if "--section" in argv else argv[0].replace("-", "_")
        cfg = section_class(section).model_validate(PARAMS[section])
        for path in [*paths, *cfg.local_files().values()]:
            assert path in body["deps"] or path.replace("models/", "${item}") in body["deps"], (name, path)
    report = dict(bodies(STAGES))["report"]
    argv = stage_argv(report["cmd"])
    report = report["deps"]
    assert argv[argv.index("--seeds-dir") + 1] in report  # each seed's eval metrics
    for model in section_class("report")().models:  # what `r1pipe report` opens
        assert {f"models/{model}/r1pipe.json", f"metrics/eval/{model}.json", f"metrics/eval/{model}.samples.json",
                f"metrics/eval/{model}.problems.json"} <= set(report)
    # The run logs it reads: the training warnings and processes (into report.md), the model each eval scored
    # (a stale eval is left out), the seconds and TFLOP of every stage behind the models (its own run log).
    models = [*section_class("report")().models, "base_student"]
    logs = {f"models/{m}.run.json" for m in models} | {"data/prompts.run.json", "data/sft.run.json"}
    logs |= {f"metrics/eval/{m}.run.json" for m in section_class("report")().models}
    assert logs <= set(report) and "models/seeds" in report  # the seeds' manifests and run logs


def cycles() -> list[list[str]]:
    """Import circles among r1pipe's modules (edges to the module named, not to its parent packages)."""
    root = codegraph.ROOT
    modules = sorted(".".join(("r1pipe", *p.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
                     for p in root.rglob("*.py"))
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in codegraph.imports_of(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in codegraph.imports_of(v):
                found.append(sorted(component))

    for m in modules:
        if m not in index:
            visit(m)
    return found


def test_config_is_a_leaf_and_no_import_circle_remains():
    code = "import sys, r1pipe.config; print(sorted(m for m in sys.modules if m.startswith('r1pipe')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['r1pipe', 'r1pipe.config']"
    assert cycles() == []


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
    def runs(command):
        return {path.split("/")[1] for path in codegraph.fingerprint(f"r1pipe.stages.{command}")}

    for command in ("prepare", "report"):
        assert not {"models", "rewards"} & runs(command), command
    assert "models" in runs("reject_sample")  # the check can fail: a stage that loads a model
    code = "import sys, r1pipe.answers; print(sorted(m for m in sys.modules if m.startswith('r1pipe')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['r1pipe', 'r1pipe.answers']"


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

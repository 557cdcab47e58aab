"""The r1pipe command line: one thin command per stage of the DeepSeek-R1 recipe.

Each command loads its params section (``--params``, ``--section``; the default is the command's own,
:data:`DEFAULT_SECTIONS`), then calls ``r1pipe.stages.<name>.run``. Input and
output paths are options, so dvc.yaml can wire them. A command imports only its
own stage's code, so a stage's code fingerprint (``r1pipe code``, its DVC dep) holds only that code
(``tests/test_deps.py``); ``r1pipe check`` validates every section of a params file at once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from r1pipe import R1pipeError, config


def _fail(e: Exception) -> None:
    from rich.markup import escape

    from r1pipe.progress import console

    for line in str(e).splitlines():  # several problems at once (`check` lists them all): one line each
        console.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
    sys.exit(2)


class _App(typer.Typer):
    """Turns an R1pipeError into one red line and exit code 2, with no traceback."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except R1pipeError as e:
            _fail(e)


app = _App(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="The DeepSeek-R1 training recipe as reproducible, incremental stages.",
)

# The section each command reads when --section is not given.
DEFAULT_SECTIONS = {"base": "base", "prepare": "prepare", "coldstart": "coldstart", "grpo": "rl_reasoning",
                    "reject-sample": "reject_sample", "sft": "sft", "distill": "distill", "eval": "eval",
                    "report": "report"}

Params = Annotated[Path, typer.Option("--params", help="Params file.")]


def _section_option(command: str):
    """``--section``, with the command's default and the sections of the same type in its help."""
    default = DEFAULT_SECTIONS[command]
    kind = config.section_type(default)
    others = [name for name, t in config.SECTIONS.items() if t == kind and name != default]
    prefix = next((f", or any {p}* section" for p, t in config.PREFIXES.items() if t == kind), "")
    also = f"; also {', '.join(others)}{prefix}" if others or prefix else ""
    return Annotated[str | None, typer.Option("--section", help=f"Params section (default: {default}{also}).")]


class SectionOf:
    """Each command's ``--section`` option."""

    base, prepare, coldstart = _section_option("base"), _section_option("prepare"), _section_option("coldstart")
    reject_sample, sft, distill = _section_option("reject-sample"), _section_option("sft"), _section_option("distill")
    eval, report = _section_option("eval"), _section_option("report")


ModelDir = Annotated[Path, typer.Option("--model", help="Input model directory.")]
DataDir = Annotated[Path, typer.Option("--data", help="Input dataset directory.")]
Out = Annotated[Path, typer.Option("--out", help="Output path.")]
Seed = Annotated[int | None, typer.Option(
    help="Run the section with this seed instead of its own (dvc.yaml's per-seed stages).")]


def _section(params: Path, section: str, cls, seed: int | None = None):
    """The params section, checked; with ``seed``, that seed in place of the section's own."""
    from r1pipe.registries import section_checks

    cfg = config.load_section(params, section, cls, section_checks(cls))
    return cfg if seed is None else cfg.model_copy(update={"seed": seed})


def _main_process_only(run) -> None:
    """A stage with nothing to share out (base, prepare, report) runs on the main process of a launch;
    the others wait for it."""
    from r1pipe import distributed

    if distributed.is_main():
        run()
    distributed.barrier()


@app.command()
def check(params: Params = Path("params.yaml"),
          explain: Annotated[str | None, typer.Option(
              "--explain", help="Print what SECTION.KEY means (TRL's help for TRL's settings; a dotted key reaches "
              "inside, e.g. prepare.sources.columns), its default and its value in --params, and stop.")] = None):
    """Validate every section of a params file and what its stages need of each other; list every problem."""
    from r1pipe import checking
    from r1pipe.progress import console

    if explain:
        for line in checking.explain(explain, params):
            typer.echo(line)
        return
    problems = checking.problems(params, DEFAULT_SECTIONS)
    if problems:
        raise R1pipeError("\n".join(problems))
    console.print(f"{params}: every section is valid")


@app.command()
def code(out: Out = Path("code")):
    """Write each stage command's code fingerprint, OUT/<command>.json: the r1pipe modules it runs, each hashed on
    its syntax tree. dvc.yaml's `code` stage runs this on every `dvc repro`; each other stage depends on its
    command's file, so a comment reruns nothing and a change to what a stage runs reruns that stage."""
    from r1pipe.codegraph import write_fingerprints

    for path in write_fingerprints(out):
        typer.echo(path)


@app.command()
def base(out: Out = Path("models/base"), params: Params = Path("params.yaml"), section: SectionOf.base = None):
    """Resolve the base model (tiny, a named model, local dir or hub id) into a local model directory."""
    from r1pipe.config.models import BaseSection
    from r1pipe.stages import base as stage

    cfg = _section(params, section or DEFAULT_SECTIONS["base"], BaseSection)
    _main_process_only(lambda: stage.run(cfg, out))


@app.command()
def prepare(out: Out = Path("data/prompts"), params: Params = Path("params.yaml"), section: SectionOf.prepare = None):
    """Write train/test prompt datasets from task generators and local files."""
    from r1pipe.config.prepare import PrepareSection
    from r1pipe.stages import prepare as stage

    cfg = _section(params, section or DEFAULT_SECTIONS["prepare"], PrepareSection)
    _main_process_only(lambda: stage.run(cfg, out))


@app.command()
def coldstart(model: ModelDir = Path("models/base"), data: DataDir = Path("data/prompts"),
              out: Out = Path("models/A"), params: Params = Path("params.yaml"), section: SectionOf.coldstart = None,
              seed: Seed = None):
    """Cold-start SFT of the base on long chain-of-thought data (model A)."""
    from r1pipe.config.sft import ColdstartSection
    from r1pipe.stages import coldstart as stage

    stage.run(_section(params, section or DEFAULT_SECTIONS["coldstart"], ColdstartSection, seed), model, data, out)


# Each RL section's default input and output: the chain's order (DESIGN.md). Any other section names both.
RL_PATHS = {"rl_reasoning": ("models/A", "models/B"), "rl_all": ("models/C", "models/D"),
            "rl_zero": ("models/base", "models/zero")}


@app.command()
def grpo(model: Annotated[Path | None, typer.Option(
             "--model", help="Input model directory (default by section: rl_reasoning models/A, rl_all models/C, "
             "rl_zero models/base; required for any other section).")] = None,
         data: DataDir = Path("data/prompts"),
         out: Annotated[Path | None, typer.Option(
             "--out", help="Output model directory (default by section: rl_reasoning models/B, rl_all models/D, "
             "rl_zero models/zero; required for any other section).")] = None,
         live: Annotated[Path | None, typer.Option(help="dvclive directory (default: dvclive/<section>).")] = None,
         params: Params = Path("params.yaml"),
         section: Annotated[str, typer.Option(
             "--section", help="GRPO section: rl_reasoning, rl_all, rl_zero or any other rl_* section.")
         ] = DEFAULT_SECTIONS["grpo"],
         seed: Seed = None):
    """GRPO with rule-based rewards (rl_reasoning: A to B; rl_all: C to D; rl_zero: R1-Zero from the base)."""
    from r1pipe.config.grpo import GRPOSection
    from r1pipe.stages import grpo as stage

    defaults = RL_PATHS.get(section)
    if defaults is None and (model is None or out is None):
        raise R1pipeError(f"grpo --section {section}: has no default paths (only {', '.join(RL_PATHS)} do); "
                          "give --model and --out")
    model, out = model or Path(defaults[0]), out or Path(defaults[1])
    cfg = _section(params, section, GRPOSection, seed)
    stage.run(cfg, section, model, data, out, live or Path("dvclive") / section)


@app.command("reject-sample")
def reject_sample(model: ModelDir = Path("models/B"), data: DataDir = Path("data/prompts"),
                  out: Out = Path("data/sft"),
                  metrics: Annotated[Path, typer.Option(help="Acceptance statistics JSON.")] = Path(
                      "metrics/reject_sample.json"),
                  params: Params = Path("params.yaml"), section: SectionOf.reject_sample = None):
    """Sample from the RL model and keep correct, well-formed completions as SFT data."""
    from r1pipe.config.sampling import RejectSampleSection
    from r1pipe.stages import reject_sample as stage

    cfg = _section(params, section or DEFAULT_SECTIONS["reject-sample"], RejectSampleSection)
    stage.run(cfg, model, data, out, metrics)


@app.command()
def sft(model: ModelDir = Path("models/base"), data: DataDir = Path("data/sft"), out: Out = Path("models/C"),
        params: Params = Path("params.yaml"), section: SectionOf.sft = None, seed: Seed = None):
    """SFT of the original base on the rejection-sampled set (model C)."""
    from r1pipe.config.sft import SFTSection
    from r1pipe.stages import sft as stage

    stage.run(_section(params, section or DEFAULT_SECTIONS["sft"], SFTSection, seed), model, data, out)


@app.command()
def distill(data: DataDir = Path("data/sft"), out: Out = Path("models/student"),
            student: Annotated[Path | None, typer.Option(help="Student model dir (default: distill.student).")] = None,
            params: Params = Path("params.yaml"), section: SectionOf.distill = None, seed: Seed = None):
    """Distil the rejection-sampled set into a smaller student model."""
    from r1pipe.config.sft import DistillSection
    from r1pipe.stages import distill as stage

    stage.run(_section(params, section or DEFAULT_SECTIONS["distill"], DistillSection, seed), data, out, student)


@app.command("eval")
def eval_(model: ModelDir = Path("models/A"), data: DataDir = Path("data/prompts"),
          out: Out = Path("metrics/eval/A.json"), params: Params = Path("params.yaml"), section: SectionOf.eval = None):
    """pass@1 over k samples, cons@k and pass@k on held-out prompts and benchmarks."""
    from r1pipe.config.sampling import EvalSection
    from r1pipe.stages import eval as stage

    stage.run(_section(params, section or DEFAULT_SECTIONS["eval"], EvalSection), model, data, out)


@app.command()
def report(metrics_dir: Annotated[Path, typer.Option(help="Directory of eval metrics.")] = Path("metrics/eval"),
           models_dir: Annotated[Path, typer.Option(help="The models, with their manifests and run logs.")
                                 ] = Path("models"),
           live_dir: Annotated[Path, typer.Option(
               help="dvclive's directory: the RL curves are <live-dir>/<section>/plots/metrics.")] = Path("dvclive"),
           seeds_dir: Annotated[Path | None, typer.Option(
               help="Eval metrics of other seeds, <model>-<seed>.json: the claims about <model> use them all.")
           ] = None,
           metrics: Annotated[Path | None, typer.Option(
               help="Also write each model's pass@1 and each claim's Δ (points) to this JSON.")] = None,
           out: Out = Path("reports"), params: Params = Path("params.yaml"), section: SectionOf.report = None):
    """Render the table of every model's metrics, with plots and samples."""
    from r1pipe.config.report import ReportSection
    from r1pipe.stages import report as stage

    cfg = _section(params, section or DEFAULT_SECTIONS["report"], ReportSection)
    _main_process_only(lambda: stage.run(cfg, metrics_dir, out, models_dir, seeds_dir, metrics, live_dir))


if __name__ == "__main__":
    app()

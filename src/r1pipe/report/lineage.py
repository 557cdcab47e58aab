"""What the report reads from the stages' files: eval metrics and per-problem scores (``read_evals``), the
manifests' lineage and the run logs' warnings and compute, dvclive's RL curves (``rl_curves``).

Every file read here is a dep of dvc.yaml's ``report`` stage (tests/test_deps.py).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from r1pipe import R1pipeError
from r1pipe.manifest import manifest_sha256, read_manifest, run_log_path
from r1pipe.report.markdown import table

RL_STAGES = {"B": "rl_reasoning", "D": "rl_all", "zero": "rl_zero"}


def ancestors(path: Path) -> set[Path]:
    """``path`` and every model and dataset it was made from, through the manifests' inputs and parents."""
    seen: set[Path] = set()
    todo = [Path(path)]
    while todo:
        current = todo.pop()
        manifest = None if current in seen else read_manifest(current)
        if manifest is None:
            continue
        seen.add(current)
        todo += [Path(item["path"]) for item in manifest["inputs"].values()]
        todo += [Path(manifest["parent"])] if manifest.get("parent") else []
    return seen


def rl_completions(settings: dict, processes: int) -> int:
    """The completions a GRPO run generated, the way TRL's trainer does: each optimizer step takes
    ``per_device_train_batch_size`` completions per micro-batch, ``gradient_accumulation_steps`` micro-batches,
    on every process; a generation batch is reused for ``num_iterations`` passes."""
    per_step = settings.get("per_device_train_batch_size", 0) * settings.get("gradient_accumulation_steps", 1)
    return settings.get("max_steps", 0) * per_step * processes // max(settings.get("num_iterations", 1), 1)


def recipe_costs(models_dir: Path, left: str, right: str) -> dict[str, dict]:
    """What each side of a comparison cost beyond what both share (the base, the prompts): per side, the
    outputs counted, their RL completions (:func:`rl_completions`, from the manifests and run logs), their
    seconds and TFLOP (from the run logs)."""
    mine = {name: ancestors(Path(models_dir) / name) for name in (left, right)}
    costs = {}
    for name, other in ((left, right), (right, left)):
        cost = {"outputs": [], "rl_completions": 0, "seconds": 0.0, "tflop": 0.0}
        for path in sorted(mine[name] - mine[other]):
            log = run_log(path)
            manifest = read_manifest(path)
            cost["seconds"] += log.get("seconds", 0.0)
            cost["tflop"] += (log.get("work") or {}).get("tflop", 0.0)
            if manifest["stage"].startswith("rl_"):
                # The settings it ran with, TRL's defaults included (older manifests: the keys params gave).
                params = {**manifest["params"], **manifest["params"].get("trl", {}).get("settings", {})}
                cost["rl_completions"] += rl_completions(params, log.get("processes", 1))
            cost["outputs"].append(str(path))
        costs[name] = cost
    return costs


def load_seeds(seeds_dir: Path | None) -> dict[str, dict[int, Path]]:
    """``<model>-<seed>.json`` files of ``seeds_dir``, by model and seed."""
    found: dict[str, dict[int, Path]] = {}
    for f in sorted(Path(seeds_dir).glob("*.json")) if seeds_dir and Path(seeds_dir).is_dir() else []:
        match = re.fullmatch(r"(.+)-(\d+)\.json", f.name)
        if match:
            found.setdefault(match[1], {})[int(match[2])] = f
    return found


def lineage(models_dir: Path | None, order: list[str]) -> str:
    """Where each model came from, from the manifests the stages wrote."""
    rows = []
    for name in order:
        manifest = read_manifest(Path(models_dir or "") / name) if models_dir else None
        if manifest:
            rows.append([name, manifest["stage"], f"`{manifest.get('parent') or ''}`",
                         ", ".join(f"`{p['path']}`" for p in manifest["inputs"].values())])
    return table(["model", "stage", "from", "inputs"], rows) if rows else ""


def unsafe_runs(metrics: dict[str, dict], models_dir: Path | None, order: list[str]) -> list[str]:
    """Every run behind the report that graded code without the sandbox (``sandbox: unsafe``): evals, the
    models' own stages, and the stages that made their data, from the metrics and the manifests."""
    found = [f"eval of {name}: {m['sandbox']}" for name, m in metrics.items() if isinstance(m.get("sandbox"), str)]
    for name in order:
        manifest = read_manifest(Path(models_dir) / name) if models_dir else None
        if not manifest:
            continue
        if manifest.get("sandbox"):
            found.append(f"{manifest['stage']} ({name}): {manifest['sandbox']}")
        for item in manifest["inputs"].values():
            made = read_manifest(item["path"]) if Path(item["path"]).is_dir() else None
            if made and made.get("sandbox"):
                found.append(f"{made['stage']} (`{item['path']}`, read by {name}): {made['sandbox']}")
    return list(dict.fromkeys(found))


def model_path(models_dir: Path, name: str) -> Path:
    """Where the model behind eval name ``name`` is: ``models/B``, or a seed's ``models/seeds/B-1``."""
    chain = Path(models_dir) / name
    return chain if chain.exists() or not (Path(models_dir) / "seeds" / name).exists() else \
        Path(models_dir) / "seeds" / name


def warnings(models_dir: Path | None, order: list[str], seeds: dict[str, list[str]] | None = None
             ) -> dict[str, tuple[str, str]]:
    """The training stages' warnings (a dead run, rows cut at max_length), from their run logs, by model: the
    report's models and their seeds (``B-1`` in ``models/seeds``): (stage, warning) by model. A run log's
    ``hint`` (a falling sampled reward) is not among them: the report judges that on held-out pass@1."""
    found = {}
    for name in [*order, *(s for runs in (seeds or {}).values() for s in runs if s not in order)]:
        log = run_log(model_path(models_dir, name)) if models_dir else {}
        if log.get("warning"):
            found[name] = (log["stage"], log["warning"])
    return found


def training_dtypes(models_dir: Path | None, names: list[str]) -> dict[str, str]:
    """The dtype each trained model among ``names`` computed in (TRL's ``bf16``, from its manifest):
    ``bfloat16`` or ``float32``. Models no TRL trainer made (the base) are left out."""
    found = {}
    for name in names if models_dir else []:
        settings = ((read_manifest(model_path(models_dir, name)) or {}).get("params", {}).get("trl") or {}).get(
            "settings", {})
        if "bf16" in settings:
            found[name] = "bfloat16" if settings["bf16"] else "float32"
    return found


def rl_parents(models_dir: Path | None, names: list[str]) -> dict[str, str]:
    """Each RL model among ``names`` (its manifest's stage an ``rl_*`` section) -> the name, among ``names``,
    of the model it was trained from (``B`` and ``B-1`` -> ``A``), from the manifests."""
    if not models_dir:
        return {}
    where = {model_path(models_dir, n).resolve(): n for n in names}
    found = {}
    for name in names:
        manifest = read_manifest(model_path(models_dir, name)) or {}
        parent = manifest.get("parent")
        if manifest.get("stage", "").startswith("rl_") and parent and Path(parent).resolve() in where:
            found[name] = where[Path(parent).resolve()]
    return found


def run_log(path: Path) -> dict:
    path = run_log_path(path)
    return json.loads(path.read_text()) if path.is_file() else {}


def compute(models_dir: Path | None, metrics_dir: Path, order: list[str]) -> list[dict]:
    """One row per stage that ran, from its run log: the stages behind every model (through the manifests' inputs
    and parents) and each model's eval; the work as ``r1pipe.work`` counts it. Run logs vary between runs of the
    same inputs, so these rows go to the report's run log, not into the report."""
    outputs = sorted({p for name in order for p in ancestors(Path(models_dir) / name)}) if models_dir else []
    outputs += [Path(metrics_dir) / f"{name}.json" for name in order]
    rows = []
    for path in outputs:
        log = run_log(path)
        if log:
            work = log.get("work") or {}
            rows.append({"output": str(path), "stage": log["stage"], "seconds": log["seconds"],
                         "generated": work.get("prefill", 0) + work.get("decode", 0), "trained": work.get("trained", 0),
                         **{k: work[k] for k in ("tflop", "gflops_per_s", "share_of_gemm", "dtype", "machine")
                            if k in work}})
    return rows


def rl_curves(live_dir: Path | None) -> dict[str, list[dict]]:
    """Each RL model's curves as dvclive wrote them (``<live_dir>/<section>/plots/metrics/<curve>.tsv``, the files
    ``dvc plots`` draws), one dict per logged step: ``step`` (dvclive's column: the trainer's own step, right
    whatever ``logging_steps`` is) and the value of each curve logged at it."""
    curves = {}
    for name, section in RL_STAGES.items() if live_dir else ():
        folder = Path(live_dir) / section / "plots" / "metrics"
        if not (folder / "reward.tsv").is_file():
            continue
        steps: dict[int, dict] = {}
        for curve in ("reward", "reward_std", "completion_length"):
            if (folder / f"{curve}.tsv").is_file():
                with open(folder / f"{curve}.tsv", newline="") as f:
                    for row in csv.DictReader(f, delimiter="\t"):
                        steps.setdefault(int(row["step"]), {"step": int(row["step"])})[curve] = float(row[curve])
        curves[name] = [steps[step] for step in sorted(steps)]
    return curves


@dataclass
class Evals:
    """What the report reads: each model's eval metrics and per-problem scores, and each model's seeds."""

    metrics: dict[str, dict] = field(default_factory=dict)
    problems: dict[str, dict] = field(default_factory=dict)
    seeds: dict[str, list[str]] = field(default_factory=dict)  # a model -> its runs' names (itself first)
    left_out: list[str] = field(default_factory=list)  # evals of a model that is gone or changed, and why

    def read(self, name: str, path: Path) -> None:
        """An eval's metrics JSON, and its per-problem scores beside it where there are any."""
        self.metrics[name] = json.loads(path.read_text())
        per = path.with_name(f"{path.stem}.problems.json")
        if per.is_file():
            self.problems[name] = json.loads(per.read_text())


def read_evals(models: list[str], metrics_dir: Path, seeds_dir: Path | None, models_dir: Path | None = None,
               controls: tuple[str, ...] = ()) -> Evals:
    """Each model's eval metrics, and its other seeds'; each of ``controls`` (models that exist only as seeds,
    ``B_random-0``, ``B_random-1``, ...) by its seeds alone. With ``models_dir``, an eval whose model is not
    there, or is not the model it scored (the model's manifest changed since: retrained, or another run's
    metrics left in place), is left out, and said to be."""
    evals = Evals()
    for name in models:
        path = Path(metrics_dir) / f"{name}.json"
        if not path.is_file():
            continue
        stale = _stale(path, Path(models_dir) / name) if models_dir and Path(models_dir).is_dir() else None
        if stale:
            evals.left_out.append(f"{name}: left out, {path} {stale}")
            continue
        evals.read(name, path)
    if not evals.metrics:
        raise R1pipeError(f"no eval metrics in {metrics_dir} for any of: {', '.join(models)}")
    # A model's other seeds (``B-1``...) join the claims about it, never the tables.
    for name, files in load_seeds(seeds_dir).items():
        if name in evals.metrics or name in controls:
            evals.seeds[name] = [name] * (name in evals.metrics) + [f"{name}-{seed}" for seed in files]
            for seed, f in files.items():
                evals.read(f"{name}-{seed}", f)
    return evals


def _stale(metrics: Path, model: Path) -> str | None:
    """Why an eval's metrics no longer describe ``model``, or None."""
    if not model.is_dir():
        return f"scored {model}, which is not there"
    scored, made = (json.loads(log.read_text()) if log.is_file() else {} for log in (run_log_path(metrics),
                                                                                      run_log_path(model)))
    recorded = scored.get("model", {}).get("manifest_sha256")
    if recorded and recorded != manifest_sha256(model):
        return f"scored another {model} than the one there now (rerun its eval)"
    # An eval from before evals recorded the model: the model's run log says whether it was made after it.
    if not recorded and "finished" in scored and "finished" in made and _when(made) > _when(scored):
        return f"is older than {model} (made {made['finished']}; rerun its eval)"
    return None


def _when(log: dict):
    from datetime import datetime

    return datetime.strptime(log["finished"], "%Y-%m-%dT%H:%M:%S%z")

"""Which r1pipe source files a stage runs: its code lineage, read from the import graph.

A stage's output depends on every r1pipe module it can import, lazily imported
ones included. This module finds them from the source text alone (``ast``), so
it imports nothing and can run anywhere:

- ``closure("r1pipe.stages.grpo")``: every r1pipe module that the stage module can load;
- ``code_hash(...)``: one sha256 over those files, written into each output's run log (``<out>.run.json``);
- the test ``tests/test_deps.py`` uses the same closure to check that ``dvc.yaml``
  lists exactly these files as the stage's code deps.
"""

from __future__ import annotations

import ast
import hashlib
import shlex
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent  # src/r1pipe
PACKAGE = "r1pipe"


def module_file(name: str) -> Path | None:
    """The source file of an r1pipe module or package, or None if there is none."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = ROOT.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _resolve_relative(module: str, level: int, importer: str, is_package: bool) -> str:
    parts = importer.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([module] if module else []))


@cache
def imports_of(name: str) -> frozenset[str]:
    """The r1pipe modules that ``name`` names in any import statement, at any depth of its code."""
    path = module_file(name)
    if path is None:
        return frozenset()
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                target = _resolve_relative(target, node.level, name, path.name == "__init__.py")
            # `from r1pipe.models import tiny` names the submodule r1pipe.models.tiny (the package itself
            # runs first, which `closure` counts through parent packages)
            submodules = {f"{target}.{a.name}" for a in node.names if module_file(f"{target}.{a.name}")}
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(target)
    return frozenset(m for m in found if module_file(m) is not None)


def _with_parents(name: str) -> list[str]:
    """Importing a.b.c runs a, a.b and a.b.c."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def closure(*entries: str) -> set[str]:
    """Every r1pipe module that importing ``entries`` can load, parent packages included."""
    seen: set[str] = set()
    todo = [m for e in entries for m in _with_parents(e)]
    while todo:
        name = todo.pop()
        if name in seen or module_file(name) is None:
            continue
        seen.add(name)
        todo.extend(p for m in imports_of(name) for p in _with_parents(m))
    return seen


def files(modules: set[str]) -> list[Path]:
    return sorted(module_file(m) for m in modules)


def code_hash(*entries: str) -> str:
    """sha256 over the relative paths and contents of every file in the closure of ``entries``."""
    h = hashlib.sha256()
    for f in files(closure(*entries)):
        h.update(str(f.relative_to(ROOT)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def cycles() -> list[list[str]]:
    """Import circles among r1pipe's modules (edges to the module named, not to its parent packages)."""
    modules = sorted(
        ".".join((PACKAGE, *p.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
        for p in ROOT.rglob("*.py")
    )
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in imports_of(v):
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
            if len(component) > 1 or v in imports_of(v):
                found.append(sorted(component))

    for m in modules:
        if m not in index:
            visit(m)
    return found


def dvc_deps(*entries: str) -> list[str]:
    """The closure of ``entries`` as dvc.yaml deps, relative to the repository: a package directory when
    every module in it is in the closure, else its files one by one."""
    wanted = set(files(closure(*entries)))
    repo = ROOT.parent.parent
    out: list[str] = []

    def walk(directory: Path) -> None:
        if directory != ROOT and all(p in wanted for p in directory.rglob("*.py")):
            out.append(str(directory.relative_to(repo)))
            return
        for child in sorted(directory.iterdir()):
            if child.is_dir() and (child / "__init__.py").is_file():
                walk(child)
            elif child in wanted:
                out.append(str(child.relative_to(repo)))

    walk(ROOT)
    return out


# What a dvc.yaml command starts with: r1pipe itself, or params.yaml's launcher (config/launch.py).
LAUNCHERS = ("r1pipe", "${launch.train}", "${launch.generate}")


def stage_argv(cmd: str) -> list[str]:
    """A dvc.yaml ``cmd`` from the r1pipe command on: ``${launch.train} sft --out m`` -> ``[sft, --out, m]``."""
    words = shlex.split(cmd)
    start = next(i for i, w in enumerate(words) if w in LAUNCHERS)
    return words[start + 1 :]


def stage_code_deps(cmd: str) -> list[str]:
    """The code deps of a dvc.yaml stage that runs ``r1pipe <command> ...`` (directly or through a launcher):
    the CLI that dispatches it, and everything its stage module can import."""
    command = stage_argv(cmd)[0]
    return ["src/r1pipe/cli.py", *dvc_deps(f"{PACKAGE}.stages.{command.replace('-', '_')}")]

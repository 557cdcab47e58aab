"""Which r1pipe code a stage runs, and its fingerprint: the code lineage DVC reruns a stage on.

A stage's output depends on every r1pipe module its command can import, lazily imported ones included. This
module finds them from the source text alone (``ast``), so it imports nothing but ``disk`` and can run anywhere:

- ``closure("r1pipe.stages.grpo")``: every r1pipe module that the stage module can load;
- ``fingerprint(...)``: each of those files hashed on its syntax tree, so that a comment, a docstring or a
  reformatting changes nothing, while any change to what the code does changes the hash;
- ``code_hash(...)``: one sha256 over a fingerprint, written into each output's run log (``<out>.run.json``)
  and into the stage's work-directory stamp (a resumed run must run the same code);
- ``write_fingerprints(out)``: one ``<command>.json`` per stage command, what dvc.yaml's ``code`` stage writes
  and every other stage depends on (instead of the ``.py`` files, whose bytes change with every comment).
"""

from __future__ import annotations

import ast
import hashlib
import json
from functools import cache
from pathlib import Path

from r1pipe.disk import write_atomic

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


def stage_modules(stage: str) -> set[str]:
    """What ``r1pipe <command>`` runs for stage module ``stage`` (``r1pipe.stages.grpo``): the command line that
    dispatches it (and ``python -m r1pipe``'s entry, which every launcher but plain ``r1pipe`` starts), the
    registry checks it hands the params to, and everything the stage module can import."""
    return closure(stage) | {f"{PACKAGE}.cli", f"{PACKAGE}.__main__", f"{PACKAGE}.registries"}


def _canonical(node) -> object:
    """A syntax tree as plain data: node types and fields, without positions, docstrings, or the fields that are
    empty (None, []), so that the Python versions that add a field or print trees differently agree (3.12 also
    puts an empty string into some f-strings' parts). A constant JSON has no type for (bytes, ``...``, complex)
    keeps its type beside its repr, so ``b"ab"`` and ``"b'ab'"`` differ."""
    if isinstance(node, ast.JoinedStr):
        node = ast.JoinedStr(values=[v for v in node.values if not (isinstance(v, ast.Constant) and v.value == "")])
    if isinstance(node, ast.AST):
        body = getattr(node, "body", None)
        if (isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            body = body[1:]  # the docstring: what the code says about itself, not what it does
        fields = {name: body if name == "body" and body is not None else getattr(node, name, None)
                  for name in node._fields}
        return [type(node).__name__, {k: _canonical(v) for k, v in fields.items() if v not in (None, [])}]
    if isinstance(node, list):
        return [_canonical(v) for v in node]
    return node if isinstance(node, str | int | float | bool) or node is None else [type(node).__name__, repr(node)]


def syntax_hash(path: Path) -> str:
    """sha256 of a Python file's syntax tree: the same for every version of the file that does the same."""
    tree = ast.parse(path.read_text(), str(path))
    return hashlib.sha256(json.dumps(_canonical(tree), separators=(",", ":")).encode()).hexdigest()


def fingerprint(stage: str) -> dict[str, str]:
    """Each file that stage module ``stage`` runs (:func:`stage_modules`), relative to the package's folder
    (``r1pipe/config/grpo.py``), with its :func:`syntax_hash`."""
    return {str(f.relative_to(ROOT.parent)): syntax_hash(f) for f in files(stage_modules(stage))}


@cache
def code_hash(stage: str) -> str:
    """One sha256 over the :func:`fingerprint` of stage module ``stage``: once per process, at the stage's start,
    so that a file edited while a stage runs does not change what its run log says it ran."""
    return hashlib.sha256(json.dumps(fingerprint(stage), sort_keys=True).encode()).hexdigest()


def commands() -> list[str]:
    """Each stage command: one module of ``r1pipe.stages`` apiece (``reject_sample`` is ``r1pipe reject-sample``)."""
    return sorted(p.stem for p in (ROOT / "stages").glob("*.py") if p.stem != "__init__")


def code_file(stage: str) -> dict:
    """What ``<command>.json`` holds for stage module ``stage``: its command, :func:`code_hash` (the run logs'
    ``code_sha256``) and :func:`fingerprint`."""
    return {"command": stage.rpartition(".")[2].replace("_", "-"), "code_sha256": code_hash(stage),
            "modules": fingerprint(stage)}


def write_fingerprints(out: Path) -> list[Path]:
    """``out/<command>.json`` for every stage command (see :func:`code_file`); returns the files. A file is
    rewritten only where its contents change, so its bytes, and what DVC reruns, follow the code alone."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for command in commands():
        path = out / f"{command.replace('_', '-')}.json"
        text = json.dumps(code_file(f"{PACKAGE}.stages.{command}"), indent=1) + "\n"
        if not path.is_file() or path.read_text() != text:
            write_atomic(path, text)
        written.append(path)
    return written

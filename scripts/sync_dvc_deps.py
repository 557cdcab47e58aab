"""Rewrite the code deps of every stage in dvc.yaml from the import graph (r1pipe.codegraph).

    python scripts/sync_dvc_deps.py          # rewrite dvc.yaml in place, comments kept
    python scripts/sync_dvc_deps.py --check  # exit 1 and list the stages whose code deps are off

tests/test_deps.py runs the same check, so a new import that dvc.yaml does not know about fails the tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ruamel.yaml import YAML

from r1pipe.codegraph import stage_code_deps

DVC_YAML = Path(__file__).resolve().parents[1] / "dvc.yaml"


def main(check: bool) -> int:
    yaml = YAML()
    yaml.width = 120
    yaml.indent(mapping=2, sequence=4, offset=2)
    doc = yaml.load(DVC_YAML)
    off = []
    for name, stage in doc["stages"].items():
        body = stage.get("do", stage)
        code = stage_code_deps(body["cmd"])
        others = [d for d in body["deps"] if not str(d).startswith("src/")]
        if [d for d in body["deps"] if str(d).startswith("src/")] != code:
            off.append(name)
            body["deps"][:] = code + others
    if check:
        print("\n".join(f"{name}: code deps differ from the import graph" for name in off) or "dvc.yaml is in sync")
        return 1 if off else 0
    yaml.dump(doc, DVC_YAML)
    print(f"rewrote the code deps of {len(off)} stage(s)" if off else "dvc.yaml is in sync")
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv))

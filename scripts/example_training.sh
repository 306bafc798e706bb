#!/usr/bin/env bash
# The CLASS-IT training recipe end to end at toy scale, on the BabyLM samples in
# ../shared/data/corpora (a few minutes on 2 CPU cores): scripts/classit_recipe.py --scale toy,
#   tokenizer -> tiny pretraining with word milestones -> instruction data (Switchboard +
#   a few Wikipedia paragraphs by SmolLM2-135M-Instruct) -> the three curricula ->
#   the zero-shot fast suite (--limit) on every checkpoint -> classit-zscore.
# Usage: scripts/example_training.sh [WORK_DIR]   (default /tmp/classit-train-example)
# The paper's scale: scripts/classit_recipe.py --scale paper --corpus train_100M (a GPU).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
export CLASSIT_SHARED_DATA=${CLASSIT_SHARED_DATA:-$(cd "$REPO/.." && pwd)/shared/data}
exec "${BIN:-$REPO/.venv/bin}/python" "$REPO/scripts/classit_recipe.py" --scale toy \
    --work "${1:-/tmp/classit-train-example}" --limit "${LIMIT:-5}"

#!/usr/bin/env bash
# The CLASS-IT training recipe end to end at toy scale, on the BabyLM samples in
# ../shared/data/corpora (a few minutes on 2 CPU cores):
#   tokenizer -> tiny pretraining -> instruction data (Switchboard + a few Wikipedia
#   paragraphs by SmolLM2-135M-Instruct) -> two curricula -> lm-eval on
#   classit_zero_shot_fast (--limit) -> classit-zscore.
# Usage: scripts/example_training.sh [WORK_DIR]   (default /tmp/classit-train-example)
# The paper's scale: see docs/training.md (same commands, models/llama-100m.json, defaults).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$REPO/.venv/bin}
SHARED=${CLASSIT_SHARED_DATA:-$(cd "$REPO/.." && pwd)/shared/data}
SAMPLES=$SHARED/corpora/babylm-samples
WORK=${1:-/tmp/classit-train-example}
LIMIT=${LIMIT:-5}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} TOKENIZERS_PARALLELISM=false
export CLASSIT_DATA_DIR=${CLASSIT_DATA_DIR:-$SHARED/babylm-2025}
mkdir -p "$WORK"
start=$SECONDS
step() { echo; echo "== $* ($((SECONDS - start)) s)"; }

step "1. tokenizer: byte-level BPE of 4,000 tokens on the 100k-word samples"
"$BIN/classit-train" tokenizer "$SAMPLES"/train_100k/{bnc_spoken,gutenberg,open_subtitles,simple_wiki}.train \
    --vocab-size 4000 --out "$WORK/tokenizer"

step "2. pretraining: a 1.5M-parameter LLaMA, 1 epoch of 200k words, checkpoints every 50k words"
cat > "$WORK/llama-tiny.json" <<'EOF'
{"model_type": "llama", "vocab_size": 4000, "hidden_size": 128, "intermediate_size": 512,
 "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 2,
 "max_position_embeddings": 256, "tie_word_embeddings": false}
EOF
"$BIN/classit-train" pretrain "$SAMPLES"/train_100k/{bnc_spoken,simple_wiki}.train \
    --config "$WORK/llama-tiny.json" --tokenizer "$WORK/tokenizer" --out "$WORK/tiny_pretrained" \
    --seq-len 128 --epochs 1 --warmup-steps 50 --checkpoint-words 50k,100k,150k --log-every 100

step "3a. instruction pairs from Switchboard turns (50k words)"
"$BIN/classit-train" instructions switchboard "$SAMPLES/train_10M/switchboard.train" \
    --max-words 50k --out "$WORK/instructions/switchboard.jsonl"

step "3b. question-answer pairs from 8 Simple Wikipedia paragraphs by SmolLM2-135M-Instruct"
"$BIN/classit-train" instructions wiki "$SAMPLES/train_100k/simple_wiki_dev.train" \
    --model smollm2 --paragraphs 8 --batch-size 4 --out "$WORK/instructions/wiki.jsonl"
head -n 2 "$WORK/instructions/wiki.jsonl" | cut -c 1-300

for curriculum in merged switch_wiki; do
    step "4. instruction tuning, curriculum $curriculum (2 epochs per stage)"
    "$BIN/classit-train" instruct "$WORK"/instructions/{switchboard,wiki}.jsonl \
        --model "$WORK/tiny_pretrained" --curriculum "$curriculum" --out "$WORK/tiny_$curriculum" \
        --epochs 2 --warmup-steps 20 --log-every 100
done

for model in tiny_pretrained tiny_merged tiny_switch_wiki; do
    step "5. lm-eval: classit_zero_shot_fast on $model (--limit $LIMIT per subtask)"
    "$BIN/classit-eval" run --model classit --model_args "pretrained=$WORK/$model" --device cpu \
        --batch_size 16 --tasks classit_zero_shot_fast --limit "$LIMIT" \
        --output_path "$WORK/results"
done

step "6. classit-zscore over the three models"
"$BIN/classit-zscore" "$WORK/results" --name-from checkpoint --markdown "$WORK/zscore.md"
echo; echo "done in $((SECONDS - start)) s; outputs in $WORK"

"""Reading surprisals: one forward call per sentence vs one unbatched call per word/subword.

    OMP_NUM_THREADS=1 python benchmarks/bench_reading.py MODEL_DIR [--sentences N]
        [--convention running|babylm2025]

The unbatched scorer is the official reader's cost model (one forward call per word and,
for babylm2025, per subword). Both run on the same model in this process; the script
prints both times, their ratio and the largest difference between the two results.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from classit_eval.reading import dataset, surprisal
from classit_eval.scoring import score_sequences, step_encoding


def unbatched_surprisals(model, tokenizer, data: pd.DataFrame,
                         convention: str = "running") -> tuple[np.ndarray, np.ndarray]:
    """`surprisal.reading_surprisals` at the official reader's cost: one forward call per
    step (per word, per subword for babylm2025), one sequence each."""
    values: dict[tuple[str, str], float] = {}

    def word_surprisal(context: str, word: str) -> float:
        if (context, word) not in values:
            steps = surprisal.word_steps(tokenizer, context, word, convention)
            values[(context, word)] = -math.fsum(
                score_sequences(model, [step_encoding(ctx, cont)], batch_size=1)[0][0]
                for ctx, cont in steps)
        return values[(context, word)]

    pred = [word_surprisal(i, str(w)) for i, w in zip(data["item"], data["word"], strict=True)]
    prev = [word_surprisal(i, str(w)) if ok else math.nan for i, w, ok in zip(
        data["prev_item"], data["prev_word"], dataset.has_previous(data), strict=True)]
    return np.array(pred), np.array(prev)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="a Hugging Face causal LM folder")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--sentences", type=int, default=40, help="first N sentences (0: all)")
    p.add_argument("--convention", default="babylm2025", choices=surprisal.CONVENTIONS)
    p.add_argument("--max-batch", type=int, default=16)
    args = p.parse_args()
    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_pretrained(args.model).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    csv = dataset.load_csv(dataset.find_csv(args.data_dir))
    if args.sentences:
        csv = csv[csv["sentence"].isin(set(csv["sentence"].drop_duplicates()[: args.sentences]))]
    times, results = {}, {}
    for shared in (True, False):
        start = time.perf_counter()
        if shared:
            results[shared] = surprisal.reading_surprisals(
                model, tokenizer, csv, args.convention, args.max_batch)
        else:
            results[shared] = unbatched_surprisals(model, tokenizer, csv, args.convention)
        times[shared] = time.perf_counter() - start
    diff = max(np.nanmax(np.abs(results[True][k] - results[False][k])) for k in (0, 1))
    print(f"{len(csv)} rows, {csv['sentence'].nunique()} sentences, {args.convention}")
    print(f"one forward call per sentence: {times[True]:.2f} s")
    print(f"one unbatched call per word/subword: {times[False]:.2f} s")
    print(f"ratio: {times[False] / times[True]:.1f}x   max |difference|: {diff:.2e} nats")


if __name__ == "__main__":
    main()

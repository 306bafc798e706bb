"""Reading surprisals: one forward call per sentence vs one unbatched call per word/subword.

    OMP_NUM_THREADS=1 python benchmarks/bench_reading.py MODEL_DIR [--sentences N]
        [--convention running|babylm2025]

The unbatched scorer is the official reader's cost model (one forward call per word and,
for babylm2025, per subword). Both run on the same model in this process; the script
prints both times, their ratio and the largest difference between the two results.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from classit_eval.reading import dataset, surprisal


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
        results[shared] = surprisal.reading_surprisals(
            model, tokenizer, csv, args.convention, args.max_batch, shared=shared)
        times[shared] = time.perf_counter() - start
    diff = max(np.nanmax(np.abs(results[True][k] - results[False][k])) for k in (0, 1))
    print(f"{len(csv)} rows, {csv['sentence'].nunique()} sentences, {args.convention}")
    print(f"one forward call per sentence: {times[True]:.2f} s")
    print(f"one unbatched call per word/subword: {times[False]:.2f} s")
    print(f"ratio: {times[False] / times[True]:.1f}x   max |difference|: {diff:.2e} nats")


if __name__ == "__main__":
    main()

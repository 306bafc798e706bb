"""Cost per sentence of masked scoring: the `classit` mlm backend against the official one.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_masked.py [--n 100]

On a tiny BERT built on the fly (tests/tiny.py), scores the first `n` BLiMP-fast pairs of
a few paradigms with the official backend as restated in scripts/official_masked_oracle.py
(each candidate index its own batch, masked copies in minibatches of 64) and with the
`classit` model (every masked copy of every request pooled, identical inputs once, sorted
by length), and prints seconds, forward rows and token positions per sentence.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from classit_eval.data.files import find_file, read_jsonl
from classit_eval.lmeval.backend import ClassitLM
from scripts import official_masked_oracle as masked_oracle
from scripts import official_oracle as oracle
from tests.tiny import build_tiny_masked

PARADIGMS = ("adjunct_island", "anaphor_gender_agreement", "principle_A_c_command")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100, help="pairs per paradigm")
    parser.add_argument("--data", default=None, help="evaluation data root")
    parser.add_argument("--corpus", default="../shared/data/corpora/babylm-samples/train_100k/"
                        "simple_wiki.train")
    args = parser.parse_args()
    raw = [r for p in PARADIGMS
           for r in read_jsonl(find_file(f"fast_eval/blimp_fast/{p}.jsonl", args.data))[:args.n]]
    items = [oracle.blimp_item(r) for r in raw]
    items = items + items[: len(items) // 4]  # a run repeats some sentences (seen in WUG)
    sentences = 2 * len(items)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_masked(Path(tmp), Path(args.corpus), "bert", "bert", hidden=64)
        lm = ClassitLM(pretrained=str(model_dir), backend="mlm", scoring="babylm2025",
                       device="cpu", batch_size=64, certify=False)
        lm.scorer.progress = False
        start = time.perf_counter()
        masked_oracle.scores(lm.model, lm.tokenizer, "mlm", items)
        official = time.perf_counter() - start
        requests = [("", s) for it in items for s in it["sentences"]]
        start = time.perf_counter()
        lm.scorer.score(requests)
        ours = time.perf_counter() - start
    stats = lm.scorer.stats
    print(f"{sentences} sentences, tiny BERT (hidden 64, 2 layers), CPU, 1 thread")
    print(f"official mlm: {1e3 * official / sentences:.2f} ms/sentence, "
          f"{stats.trie_bound / sentences:.1f} positions/sentence")
    print(f"classit mlm:  {1e3 * ours / sentences:.2f} ms/sentence, "
          f"{stats.positions / sentences:.1f} positions/sentence "
          f"({stats.padded / max(1, stats.positions) - 1:.1%} padding), {stats.calls} calls")


if __name__ == "__main__":
    main()

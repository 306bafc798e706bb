"""Cost per sentence of masked scoring: the `classit` mlm backend against the official one.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_masked.py [--n 100]
        [--hidden 64 --layers 2 --vocab 0]

On a random BERT built on the fly (tests/tiny.py; `--vocab` pads its vocabulary to a real
model's size, which sets the LM head's cost), scores the first `n` BLiMP-fast pairs of a
few paradigms with the official backend as restated in tests/oracles/official_masked_oracle.py
(each candidate index its own batch, masked copies in minibatches of 64), with the
`classit` model computing the LM head at every position, and with the `classit` model as
it runs (the head at the read positions only; every masked copy of every request pooled,
identical inputs once, sorted by length). Prints seconds and token positions per sentence.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch

from classit_eval.data.files import find_file, read_jsonl
from classit_eval.lmeval.backend import ClassitLM
from classit_eval.scoring import Stats
from tests.oracles import official_masked_oracle as masked_oracle
from tests.oracles import official_oracle as oracle
from tests.tiny import build_tiny_masked

PARADIGMS = ("adjunct_island", "anaphor_gender_agreement", "principle_A_c_command")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100, help="pairs per paradigm")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=0, help="model vocabulary (0: the "
                        "tokenizer's 600)")
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
        model_dir = build_tiny_masked(Path(tmp), Path(args.corpus), "bert", "bert",
                                      hidden=args.hidden, layers=args.layers,
                                      vocab=args.vocab)
        lm = ClassitLM(pretrained=str(model_dir), backend="mlm", scoring="babylm2025",
                       device="cpu", batch_size=64, certify=False)
        lm.scorer.progress = False
        requests = [("", s) for it in items for s in it["sentences"]]
        lm.scorer.score(requests[:8])  # warm-up; decides that the head may run at the reads
        seconds = {}
        start = time.perf_counter()
        masked_oracle.scores(lm.model, lm.tokenizer, "mlm", items)
        seconds["official mlm"] = time.perf_counter() - start
        for _ in range(2):  # interleaved, the faster of two each: a shared machine is noisy
            for name, head_at_reads in (("classit, head everywhere", False), ("classit", True)):
                lm.scorer.heads[lm.model] = head_at_reads
                lm.scorer.stats = Stats()
                start = time.perf_counter()
                lm.scorer.score(requests)
                seconds[name] = min(seconds.get(name, math.inf), time.perf_counter() - start)
    stats = lm.scorer.stats
    config = lm.model.config
    print(f"{sentences} sentences, random BERT (hidden {config.hidden_size}, "
          f"{config.num_hidden_layers} layers, vocabulary {config.vocab_size}), CPU, "
          f"{torch.get_num_threads()} threads")
    print(f"positions per sentence: official {stats.trie_bound / sentences:.1f}, classit "
          f"{stats.positions / sentences:.1f} ({stats.padded / max(1, stats.positions) - 1:.1%}"
          f" padding, {stats.calls} calls)")
    for name, value in seconds.items():
        print(f"{name:>26}: {1e3 * value / sentences:7.2f} ms/sentence "
              f"({seconds['official mlm'] / value:.1f}x the official)")

if __name__ == "__main__":
    main()

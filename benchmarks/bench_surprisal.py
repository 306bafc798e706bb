"""Per-word surprisal of the 205 reading sentences: classit-eval's engine against minicons.

    python benchmarks/bench_surprisal.py [MODEL_DIR] [--threads 2] [--batch-size 32]

One process, one model in float32, the same sentences and threads for both: minicons'
`IncrementalLMScorer.word_score_tokenized` (whitespace words, BOS first, batches of
`--batch-size` sentences; `bow_correction=True`, then without) and
`classit_eval.surprisal.word_surprisal` (the trie engine, corrected, then raw). Prints each
time (wall clock, and the process's CPU time, steadier on a shared machine), the ratio,
and how far the words' values are apart: raw against raw, corrected
against minicons' correction with minicons' boundary set (no EOS), and our default (EOS in
the set) against minicons, split into sentence-final and other words. The 1,726 words of
reading_data.csv are those at `context_length` in their sentence.
"""

from __future__ import annotations

import argparse
import os
import time

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", default=None, help="default: the offline SmolLM2-135M")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--data-dir", default=os.environ.get("CLASSIT_DATA_DIR"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from minicons.scorer import IncrementalLMScorer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from classit_eval.reading import dataset
    from classit_eval.scoring import Scorer, boundary_ids
    from classit_eval.surprisal import word_surprisal

    path = args.model
    if path is None:
        from classit_eval.data.smollm2 import checkpoint

        path = str(checkpoint())
    csv = dataset.load_csv(dataset.find_csv(args.data_dir))
    sentences = list(dict.fromkeys(csv["sentence"]))
    index = {s: i for i, s in enumerate(sentences)}
    reading = [(index[s], int(c)) for s, c in zip(csv["sentence"], csv["context_length"],
                                                   strict=True)]
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    print(f"{path}: {len(sentences)} sentences, {len(reading)} reading words, "
          f"{sum(len(s.split()) for s in sentences)} words in all; float32, "
          f"{args.threads} threads, batch {args.batch_size}")

    minicons = IncrementalLMScorer(model, tokenizer=tokenizer, device="cpu")
    scorer = Scorer(model, tokenizer, batch_size=args.batch_size, progress=False)
    minicons.word_score_tokenized(sentences[:2], tokenize_function=str.split, bos_token=True)
    word_surprisal(scorer, sentences[:2])  # both warmed up (first calls allocate)
    theirs, ours, seconds = {}, {}, {}
    for correct in (True, False):
        start, cpu = time.perf_counter(), time.process_time()
        values = []
        for lo in range(0, len(sentences), args.batch_size):
            batch = sentences[lo: lo + args.batch_size]
            values += [[v for _, v in s] for s in minicons.word_score_tokenized(
                batch, tokenize_function=str.split, bow_correction=correct, bos_token=True)]
        seconds["minicons", correct] = (time.perf_counter() - start, time.process_time() - cpu)
        theirs[correct] = values
        start, cpu = time.perf_counter(), time.process_time()
        rows = word_surprisal(scorer, sentences, word_prob="corrected" if correct else "raw")
        seconds["classit", correct] = (time.perf_counter() - start, time.process_time() - cpu)
        ours[correct] = [[-r.surprisal for r in text] for text in rows]
    scorer.boundary_ids = boundary_ids(tokenizer, eos=True)  # --text-ends-word
    rows = word_surprisal(scorer, sentences, word_prob="corrected")
    ours["eos"] = [[-r.surprisal for r in text] for text in rows]

    for correct in (True, False):
        (m, m_cpu), (c, c_cpu) = seconds["minicons", correct], seconds["classit", correct]
        print(f"{'bow_correction' if correct else 'raw':>14}: minicons {m:7.2f} s "
              f"(CPU {m_cpu:7.2f} s), classit-eval {c:7.2f} s (CPU {c_cpu:7.2f} s): "
              f"{m / c:5.2f}x wall, {m_cpu / c_cpu:5.2f}x CPU")

    def gap(a, b, words):
        diffs = [abs(a[s][k] - b[s][k]) for s, k in words]
        return max(diffs), sum(d > 1e-4 for d in diffs)

    final = [(s, k) for s, k in reading if k == len(sentences[s].split()) - 1]
    inner = [(s, k) for s, k in reading if k != len(sentences[s].split()) - 1]
    for name, a, b, words in [
        ("raw vs minicons raw", ours[False], theirs[False], reading),
        ("corrected vs bow_correction", ours[True], theirs[True], reading),
        ("corrected with EOS vs bow_correction, inner words", ours["eos"], theirs[True], inner),
        ("corrected with EOS vs bow_correction, final words", ours["eos"], theirs[True], final),
    ]:
        worst, over = gap(a, b, words)
        print(f"{name}: {len(words)} words, max |diff| {worst:.2e} nats, {over} over 1e-4")


if __name__ == "__main__":
    main()

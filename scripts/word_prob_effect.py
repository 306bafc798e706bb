"""What the corrected word probability changes on a real model: reading scores and AoA.

    python scripts/word_prob_effect.py [MODEL_DIR] [--bootstrap 1000] [--skip-aoa | --skip-reading]
        [--aoa-every K]

Reading: the `classit_reading` documents (running convention), each (context, word) scored
as `--model classit` scores it with `word_prob=raw` and with `word_prob=corrected` (one call
to the engine for both), then the task's own fits and sentence bootstrap: the same numbers
as two `classit-eval run --model classit --tasks classit_reading --metadata
'{"word_prob": ...}'` runs. AoA: the 8,005 (word, context) surprisals of `classit-eval aoa
--mode full`, raw and corrected, at this one checkpoint (an AoA fit needs a series of at
least four checkpoints); `--aoa-every K` takes every K-th pair only. Default model: the
offline SmolLM2-135M-Instruct, float32.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

PROBS = ("raw", "corrected")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", default=None)
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--skip-aoa", action="store_true")
    p.add_argument("--skip-reading", action="store_true")
    p.add_argument("--aoa-every", type=int, default=1)
    p.add_argument("--data-dir", default=os.environ.get("CLASSIT_DATA_DIR"))
    args = p.parse_args()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from classit_eval.aoa.surprisal import encode
    from classit_eval.aoa.words import read_words
    from classit_eval.scoring import Scorer

    path = args.model
    if path is None:
        from classit_eval.data.smollm2 import checkpoint

        path = str(checkpoint())
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    scorer = Scorer(model, AutoTokenizer.from_pretrained(path), batch_size=args.batch_size,
                    progress=False)

    if not args.skip_reading:
        reading(scorer, args.data_dir, args.bootstrap, path)
    if args.skip_aoa:
        return
    items = read_words(None, args.data_dir).items[::args.aoa_every]
    start = time.perf_counter()
    encoded = [e for wp in PROBS for e in encode(scorer, items, "full", wp)[0]]
    scores = [-s for s, _ in scorer.score_encoded(encoded)]
    n = len(items)
    print(f"AoA: {n} (word, context) pairs, raw and corrected, scored in "
          f"{time.perf_counter() - start:.1f} s")
    describe("AoA", scores[:n], scores[n:])


def reading(scorer, data_dir: str | None, bootstrap: int, path: str) -> None:
    """The reading scores with raw and corrected word probabilities."""
    from classit_eval.reading import task
    from classit_eval.scoring import word_requests

    docs = task.load(data_dir=data_dir, reading_bootstrap=bootstrap)["test"]
    run = task.RUNS["classit_reading"]
    requests = [(d["context"], task.doc_to_target(d)) for d in docs]
    start = time.perf_counter()
    encoded = [e for wp in PROBS for e in word_requests(scorer, requests, wp)]
    scores = [-s for s, _ in scorer.score_encoded(encoded)]
    print(f"{path}: {len(requests)} reading (context, word) pairs, raw and corrected, "
          f"scored in {time.perf_counter() - start:.1f} s")
    by_prob = {wp: scores[k * len(requests):(k + 1) * len(requests)]
               for k, wp in enumerate(PROBS)}
    for wp in PROBS:
        items = [(d["context"], d["word"], s, "classit_reading")
                 for d, s in zip(docs, by_prob[wp], strict=True)]
        run.scored = None
        m = run.scores(items)
        print(f"reading {wp:>9}: mean surprisal {np.mean(by_prob[wp]):.3f} nats; eye_tracking "
              f"{m['eye_tracking']:.2f} [{m['eye_tracking_ci_low']:.2f}, "
              f"{m['eye_tracking_ci_high']:.2f}]; self_paced_reading "
              f"{m['self_paced_reading']:.2f} [{m['self_paced_reading_ci_low']:.2f}, "
              f"{m['self_paced_reading_ci_high']:.2f}]")
    describe("reading", *by_prob.values())


def describe(name: str, raw: list[float], fixed: list[float]) -> None:
    raw_a, fixed_a = np.array(raw), np.array(fixed)
    diff = fixed_a - raw_a
    r = float(np.corrcoef(raw_a, fixed_a)[0, 1])
    print(f"{name}: corrected - raw surprisal: mean {diff.mean():+.3f}, mean |.| "
          f"{np.abs(diff).mean():.3f}, max |.| {np.abs(diff).max():.3f} nats; "
          f"{(diff < 0).mean():.1%} lower; Pearson r(raw, corrected) {r:.4f}; "
          f"mean raw {raw_a.mean():.3f}, corrected {fixed_a.mean():.3f}"
          + ("" if math.isfinite(r) else " (constant)"))


if __name__ == "__main__":
    main()

"""`classit-eval surprisal` on the 205 reading sentences against the reading task's words.

    python scripts/check_surprisal_reading.py [MODEL_DIR] [--dtype float32]

Writes the sentences one a line into a temporary folder, runs `classit-eval surprisal` on
them at batch sizes 1 and 64, and compares each of the 1,726 reading words (the word at
`context_length` in its sentence) with the surprisal `--model classit` gives the
`classit_reading` document (context, word) (the task's default, `word_prob=corrected`).
Prints the largest differences. Default model: the offline SmolLM2-135M-Instruct.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", default=None)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--data-dir", default=os.environ.get("CLASSIT_DATA_DIR"))
    args = p.parse_args()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from classit_eval import cli
    from classit_eval.reading import dataset
    from classit_eval.scoring import Scorer, word_requests

    path = args.model
    if path is None:
        from classit_eval.data.smollm2 import checkpoint

        path = str(checkpoint())
    frame = dataset.load_csv(dataset.find_csv(args.data_dir))
    sentences = list(dict.fromkeys(frame["sentence"]))
    line = {s: n + 1 for n, s in enumerate(sentences)}
    words = [(line[s], int(c) + 1, str(w)) for s, c, w in
             zip(frame["sentence"], frame["context_length"], frame["word"], strict=True)]
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "sentences.txt"
        source.write_text("\n".join(sentences) + "\n", encoding="utf-8")
        for size in (1, 64):
            out = Path(tmp) / f"b{size}.csv"
            assert cli.main(["surprisal", str(source), "--model", path, "--output", str(out),
                             "--batch-size", str(size), "--dtype", args.dtype,
                             "--device", "cpu", "--no-progress"]) == 0
            with out.open(encoding="utf-8") as f:
                runs[size] = {(int(r["line"]), int(r["position"])): (r["word"],
                                                                       float(r["surprisal"]))
                              for r in csv.DictReader(f)}
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, args.dtype)).eval()
    scorer = Scorer(model, AutoTokenizer.from_pretrained(path), progress=False)
    requests = [(str(i), " " + str(w)) for i, w in zip(frame["item"], frame["word"],
                                                       strict=True)]
    task = [-s for s, _ in scorer.score_encoded(word_requests(scorer, requests, "corrected"))]
    for size in (1, 64):
        assert all(runs[size][n, k][0] == w for n, k, w in words), "word mismatch"
        gaps = [abs(runs[size][n, k][1] - t) for (n, k, _), t in zip(words, task, strict=True)]
        print(f"batch {size:2d} vs reading task: {len(gaps)} words, max |diff| "
              f"{max(gaps):.2e} nats ({args.dtype})")
    between = [abs(runs[1][key][1] - runs[64][key][1]) for key in runs[1]]
    print(f"batch 1 vs 64: {len(between)} words, max |diff| {max(between):.2e} nats, "
          f"{sum(d == 0 for d in between)} identical")


if __name__ == "__main__":
    main()

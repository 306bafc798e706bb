"""How far `scoring=full` is from `scoring=babylm2025` for each non-causal backend.

    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/masked_modes.py [--n 40]

Builds tiny random models on the fly (tests/tiny.py: a BERT `mlm`, a DeBERTa with a CLS
token as a GPT-BERT-style `mntp`, a T5 and a BART for both encoder-decoder backends) and
scores the first `n` pairs of BLiMP-fast `principle_A_c_command`, `n` EWoK
`physical-relations` items and `4n` words of the fast reading data in both modes (float32,
no certification). Prints, per model and backend, the mean absolute difference per
sentence (BLiMP), per target (EWoK) and per word surprisal (reading: `word_in_text` in
`full` against the official reader), and the BLiMP accuracy of each mode. The numbers of
docs/zero_shot.md come from this script. A random model hardly uses context: they show the
size of each construction difference, not its effect on a trained model.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from classit_eval.data.files import find_file, read_jsonl
from classit_eval.lmeval.backend import ClassitLM
from classit_eval.reading import dataset
from classit_eval.scoring import BABYLM2025_READER, WORD_IN_TEXT
from tests.tiny import build_tiny_masked, build_tiny_seq2seq

CASES = (  # (model, builder arguments, backend)
    ("BERT", ("masked", "bert", "bert"), "mlm"),
    ("DeBERTa (CLS)", ("masked", "gptbert", "deberta"), "mntp"),
    ("T5", ("seq2seq", "t5", None), "enc_dec_mask"),
    ("BART", ("seq2seq", "bart", None), "enc_dec_mask"),
    ("T5", ("seq2seq", "t5", None), "enc_dec_prefix"),
    ("BART", ("seq2seq", "bart", None), "enc_dec_prefix"),
)


def build(folder: Path, corpus: Path, builder: str, style: str, arch: str | None) -> Path:
    if builder == "masked":
        return build_tiny_masked(folder, corpus, style, arch)
    return build_tiny_seq2seq(folder, corpus, style)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=40, help="BLiMP pairs and EWoK items")
    parser.add_argument("--data", default=None, help="evaluation data root")
    parser.add_argument("--corpus", default="../shared/data/corpora/babylm-samples/train_100k/"
                        "simple_wiki.train")
    args = parser.parse_args()
    blimp = read_jsonl(find_file("fast_eval/blimp_fast/principle_A_c_command.jsonl",
                                 args.data))[:args.n]
    ewok = read_jsonl(find_file("fast_eval/ewok_fast/physical-relations.jsonl",
                                args.data))[:args.n]
    csv = dataset.load_csv(dataset.find_csv(args.data, fast=True))
    words = list(zip(csv["item"], csv["word"].astype(str), strict=True))[:4 * args.n]
    sentences = [("", s) for r in blimp for s in (r["sentence_good"], r["sentence_bad"])]
    targets = [(r["Context1"], " " + t) for r in ewok for t in (r["Target1"], r["Target2"])]
    print("| model / backend | BLiMP mean abs. diff | BLiMP acc babylm2025 / full "
          "| EWoK mean abs. diff | reading mean abs. diff |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (builder, style, arch), backend in CASES:
            path = build(Path(tmp) / f"{style}-{arch}", Path(args.corpus), builder, style, arch)
            got = {}
            for mode in ("babylm2025", "full"):
                scorer = ClassitLM(pretrained=str(path), backend=backend, scoring=mode,
                                   device="cpu", certify=False).scorer
                scorer.progress = False
                reader = BABYLM2025_READER if mode == "babylm2025" else WORD_IN_TEXT
                word = " " if mode == "full" else ""  # the running convention's space
                reading = scorer.score_requests(
                    [scorer.encode_named(reader, c, word + w) for c, w in words])
                got[mode] = [np.array([ll for ll, _ in scores]) for scores in (
                    scorer.score(sentences), scorer.score(targets), reading)]
            (b1, e1, r1), (b2, e2, r2) = got["babylm2025"], got["full"]
            acc = [float(np.mean(b[0::2] > b[1::2])) for b in (b1, b2)]
            print(f"| {name} / `{backend}` | {np.abs(b1 - b2).mean():.3f} nats "
                  f"| {acc[0]:.3f} / {acc[1]:.3f} | {np.abs(e1 - e2).mean():.3f} "
                  f"| {np.abs(r1 - r2).mean():.3f} |")


if __name__ == "__main__":
    main()

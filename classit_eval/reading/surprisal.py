"""Word surprisals (nats) of reading_data.csv rows, with one forward pass per sentence.

Two conventions, defined by classit_eval.scoring.word_steps (the `classit`
backend's scoring layer, which the lm-eval task uses too):

* `running` (default): the word as it appears in running text, with its leading space
  (or word-start marker): `enc(item + " " + word)` minus `enc(item)`, the sum of its
  subword surprisals. This is exactly what lm-eval's `hf` model computes for the request
  `(item, " " + word)`.
* `babylm2025`: the official BabyLM 2025 reader. The context `enc(item)` has no trailing
  space and the word is tokenised alone, without a leading space; its first subword is
  scored after `enc(item)`, and each later subword after `enc(item + decoded subwords so
  far)` (the string re-tokenised, as the official `get_p2` does), scoring the first token
  of the re-encoded subword. Probabilities are multiplied (log-probabilities summed).

`word_prob="corrected"` (running convention only) corrects each word's probability for
where it ends (classit_eval.scoring.wordprob); the default here stays `raw`.

A word is a list of steps `(context ids, continuation ids)`, scored by
classit_eval.scoring.score_sequences: a step whose token sequence is a prefix of
another's is read off that longer sequence, so a sentence is one sequence in one forward
pass (plus the `babylm2025` re-tokenised contexts that are not prefixes of it).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from classit_eval.reading.dataset import has_previous
from classit_eval.scoring import (
    CONVENTIONS,
    Step,
    boundary_ids,
    corrected,
    corrects,
    score_sequences,
    step_encoding,
    word_steps,
)

__all__ = ["CONVENTIONS", "reading_surprisals", "word_steps"]


def reading_surprisals(
    model, tokenizer, data: pd.DataFrame, convention: str = "running", max_batch: int = 16,
    word_prob: str = "raw",
) -> tuple[np.ndarray, np.ndarray]:
    """Surprisal (nats) of each row's `word` and of its previous word (NaN without one).

    Every distinct (context, word) is scored once. Its steps are grouped by `sentence`
    and the groups scored together, longest sequence first, `max_batch` per forward call.
    """
    queries: dict[tuple[str, str], list[Step]] = {}
    rows: list[tuple[tuple[str, str], tuple[str, str] | None]] = []
    for item, word, prev_ok, prev_item, prev_word in zip(
        data["item"], data["word"], has_previous(data), data["prev_item"], data["prev_word"],
        strict=True,
    ):
        key = (item, str(word))
        prev = (prev_item, str(prev_word)) if prev_ok else None
        for k in (key, prev):
            if k is not None and k not in queries:
                queries[k] = word_steps(tokenizer, *k, convention=convention)
        rows.append((key, prev))
    by_sentence: dict[str, list[tuple[str, str]]] = {}
    for sentence, (key, prev) in zip(data["sentence"], rows, strict=True):
        group = by_sentence.setdefault(sentence, [])
        group.extend(k for k in (key, prev) if k is not None and k not in group)
    keys = [k for group in by_sentence.values() for k in group]
    encoded = [step_encoding(ctx, cont) for k in keys for ctx, cont in queries[k]]
    boundary = None
    if corrects(tokenizer, word_prob):
        if convention != "running":
            raise ValueError("word_prob=corrected needs the running convention.")
        encoded = [corrected(e, opens=not k[0]) for k, e in zip(keys, encoded, strict=True)]
        boundary = torch.tensor(boundary_ids(tokenizer))
    scores = iter(ll for ll, _ in score_sequences(model, encoded, batch_size=max_batch,
                                                  boundary=boundary))
    values = {k: -math.fsum(next(scores) for _ in queries[k]) for k in keys}
    pred = np.array([values[key] for key, _ in rows])
    prev_pred = np.array([values[prev] if prev else math.nan for _, prev in rows])
    return pred, prev_pred

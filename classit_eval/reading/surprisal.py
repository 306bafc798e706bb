"""Word surprisals (nats) of reading_data.csv rows, with one forward pass per sentence.

Two conventions:

* `running` (default): the word as it appears in running text, with its leading space
  (or word-start marker): `enc(item + " " + word)` minus `enc(item)`, the sum of its
  subword surprisals. This is exactly what lm-eval's `hf` model computes for the request
  `(item, " " + word)`.
* `babylm2025`: the official BabyLM 2025 reader. The context `enc(item)` has no trailing
  space and the word is tokenised alone, without a leading space; its first subword is
  scored after `enc(item)`, and each later subword after `enc(item + decoded subwords so
  far)` (the string re-tokenised, as the official `get_p2` does), scoring the first token
  of the re-encoded subword. Probabilities are multiplied (log-probabilities summed).

A word is a list of steps `(context ids, continuation ids)`, scored by
classit_eval.lmeval.scoring (the `classit` backend's scorer): a step whose token sequence is a
prefix of another's is read off that longer sequence, so a sentence is one sequence in one
forward pass (plus the `babylm2025` re-tokenised contexts that are not prefixes of it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from classit_eval.lmeval.scoring import score_sequences, step_encoding
from classit_eval.reading.dataset import has_previous

CONVENTIONS = ("running", "babylm2025")
Step = tuple[tuple[int, ...], tuple[int, ...]]


def encode(tokenizer, text: str, special: bool = True) -> tuple[int, ...]:
    return tuple(tokenizer(text, add_special_tokens=special)["input_ids"])


def _context(tokenizer, text: str, word: str) -> tuple[int, ...]:
    ids = encode(tokenizer, text) if text else ()
    if ids:
        return ids
    if tokenizer.bos_token_id is None:
        raise ValueError(
            f"Cannot score {word!r}: its context is empty and the tokenizer has no BOS "
            "token to condition on. Give the tokenizer a bos_token (e.g. "
            "`tokenizer.bos_token = tokenizer.eos_token`) or drop the row."
        )
    return (tokenizer.bos_token_id,)


def word_steps(tokenizer, context: str, word: str, convention: str = "running") -> list[Step]:
    """The scoring steps of `word` after `context` under `convention`."""
    if convention == "running":
        ctx = _context(tokenizer, context, word)
        whole = encode(tokenizer, f"{context} {word}" if context else word)
        cont = whole[len(ctx):] if context else encode(tokenizer, word, special=False)
        if not cont:
            raise ValueError(f"{word!r} after {context!r} encodes to no tokens.")
        return [(ctx, cont)]
    if convention != "babylm2025":
        raise ValueError(f"Unknown surprisal convention {convention!r}; use one of {CONVENTIONS}.")
    target = encode(tokenizer, word, special=False)
    if not target:
        raise ValueError(f"{word!r} encodes to no tokens.")
    steps: list[Step] = [(_context(tokenizer, context, word), (target[0],))]
    text = context + tokenizer.decode([target[0]])
    for token in target[1:]:
        piece = tokenizer.decode([token])
        steps.append((_context(tokenizer, text, word), (encode(tokenizer, piece, False)[0],)))
        text += piece
    return steps


def score_steps(model, groups: Sequence[Sequence[Step]], max_batch: int = 16) -> list[list[float]]:
    """Log-probability of each step's continuation, group by group (a group: a sentence).

    classit_eval.lmeval.scoring reads a step whose tokens are a prefix of another step's off the
    longer sequence, so under `running` a sentence costs one sequence in one forward call;
    the sequences run longest first, `max_batch` per call.
    """
    encoded = [step_encoding(ctx, cont) for group in groups for ctx, cont in group]
    values = iter(ll for ll, _ in score_sequences(model, encoded, batch_size=max_batch))
    return [[next(values) for _ in group] for group in groups]


def score_steps_unbatched(model, steps: Sequence[Step]) -> list[float]:
    """The official reader's cost model: one forward call per step, one sequence each."""
    return [score_steps(model, [[step]], max_batch=1)[0][0] for step in steps]


def reading_surprisals(
    model, tokenizer, data: pd.DataFrame, convention: str = "running", max_batch: int = 16,
    shared: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Surprisal (nats) of each row's `word` and of its previous word (NaN without one).

    Words are grouped by `sentence`, each group scored in one forward call; with
    `shared=False` every step gets its own unbatched forward call (for benchmarks).
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
    if shared:
        groups = [[s for k in group for s in queries[k]] for group in by_sentence.values()]
        flat = [x for scores in score_steps(model, groups, max_batch) for x in scores]
    else:
        flat = score_steps_unbatched(model, [s for k in keys for s in queries[k]])
    values, it = {}, iter(flat)
    for k in keys:
        values[k] = -math.fsum(next(it) for _ in queries[k])
    pred = np.array([values[key] for key, _ in rows])
    prev_pred = np.array([values[prev] if prev else math.nan for _, prev in rows])
    return pred, prev_pred

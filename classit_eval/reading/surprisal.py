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

A word is a list of steps `(context ids, continuation ids)`. The steps of a sentence are
grouped: a step whose token sequence is a prefix of another's is read off that longer
sequence, so a sentence costs one forward call (a small batch when the `babylm2025`
re-tokenised contexts are not prefixes of the sentence).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

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


def _hosts(sequences: Sequence[tuple[int, ...]]) -> tuple[list[tuple[int, ...]], list[int]]:
    """Sequences to run (none a prefix of another) and, per input, the host it is read from."""
    hosts: list[tuple[int, ...]] = []
    for seq in sorted(set(sequences), key=len, reverse=True):
        if not any(h[: len(seq)] == seq for h in hosts):
            hosts.append(seq)
    index = [next(i for i, h in enumerate(hosts) if h[: len(s)] == s) for s in sequences]
    return hosts, index


@torch.no_grad()
def _logprobs(model, hosts: Sequence[tuple[int, ...]], where: Sequence[tuple[int, int, int]]):
    """Log-probabilities of tokens: `where` holds (host, position, token id) triples.

    The hosts run as one right-padded batch; log-softmax is taken at the needed positions only.
    """
    width = max(len(h) for h in hosts)
    ids = torch.zeros((len(hosts), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, host in enumerate(hosts):
        ids[row, : len(host)] = torch.tensor(host)
        mask[row, : len(host)] = 1
    device = next(model.parameters()).device
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
    rows, positions, tokens = (torch.tensor(x, device=device) for x in zip(*where, strict=True))
    picked = torch.log_softmax(logits[rows, positions].float(), dim=-1)
    return picked[torch.arange(len(tokens), device=device), tokens].cpu().tolist()


def score_steps(model, groups: Sequence[Sequence[Step]], max_batch: int = 16) -> list[list[float]]:
    """Log-probability of each step's continuation; one forward call per group (sentence).

    A step whose sequence is a prefix of another step's (of the same call) is read off the
    longer one. Consecutive groups share a call while it runs at most `max_batch` sequences.
    """
    out: list[list[float]] = []
    batch: list[Sequence[Step]] = []

    def flush() -> None:
        steps = [s for group in batch for s in group]
        hosts, index = _hosts([ctx + cont[:-1] for ctx, cont in steps])
        where = [(h, len(ctx) - 1 + i, tok)
                 for h, (ctx, cont) in zip(index, steps, strict=True) for i, tok in enumerate(cont)]
        values = iter(_logprobs(model, hosts, where))
        for group in batch:
            out.append([math.fsum(next(values) for _ in cont) for _, cont in group])
        batch.clear()

    pending = 0
    for group in groups:
        size = len(_hosts([ctx + cont[:-1] for ctx, cont in group])[0])
        if batch and pending + size > max_batch:
            flush()
            pending = 0
        batch.append(group)
        pending += size
    if batch:
        flush()
    return out


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

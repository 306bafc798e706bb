"""The surprisal of every (word, context) at every checkpoint, and the official JSON.

The official pipeline (`evaluation_pipeline/AoA_word/evaluation_functions.py`, causal
backend) scores a word as follows: the text is `context.strip() + " " + word.strip()`,
tokenised with the tokenizer's own special tokens (a BOS only if the tokenizer adds one);
the word's tokens are those whose character offsets end after the word's first character
(so its leading space, which byte-level BPE attaches to the word, is included); the
surprisal is minus the sum of their log-probabilities, in nats (natural log), one forward
pass per context; the first token of the text is never scored. That is the `babylm2025`
mode of classit_eval.scoring.Scorer with the request `(context.strip() + " ", word)`.

`full` (the default) scores the request `(context.strip(), " " + word)` as running text
after a BOS (else EOS) prefix, as the package's `full` scoring does everywhere: every
word token is scored, even when the context is empty or the tokenizer adds no BOS (the
official text then starts with the word, whose first token goes unscored).

`word_prob="corrected"` (the default in `full`) corrects the word's probability for where
it ends (classit_eval.scoring.wordprob); `raw` sums its tokens, as `babylm2025` must.

The requests are tokenised once; each checkpoint only loads its weights and runs the
forward passes (the prefix-tree engine, batched). Any error stops the run: the official
code writes NaN for a failed context and carries on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from classit_eval.aoa.words import WordContext, Words
from classit_eval.data.files import write_atomically
from classit_eval.data.series import Checkpoint
from classit_eval.errors import DataError, OptionError
from classit_eval.names import SCORING_MODES as MODES


def request(item: WordContext, mode: str) -> tuple[str, str]:
    """The (context, continuation) the scorer scores for one item in `mode`."""
    context, word = item.context.strip(), item.word.strip()
    if mode == "babylm2025":
        return context + " ", word
    return context, " " + word


@dataclass
class Series:
    """The surprisals of a checkpoint series: `surprisal[step][i]` of `items[i]`."""

    items: list[WordContext]
    checkpoints: list[Checkpoint]
    surprisal: dict[str, list[float]]
    word_tokens: list[int]  # scored tokens of each item's word
    unscored_first: int  # items whose word's first token has no left context (babylm2025)
    vocab_size: int
    mode: str
    model: str
    seconds: dict[str, float]
    word_prob: str = "raw"


def word_prob_for(mode: str, word_prob: str | None) -> str:
    """The word probability of a run: `corrected` by default in `full`, `raw` (only) in
    `babylm2025`, the official numbers."""
    if word_prob is None:
        return "raw" if mode == "babylm2025" else "corrected"
    if mode == "babylm2025" and word_prob == "corrected":
        raise OptionError("--word-prob corrected needs --mode full; the official computation "
                          "(babylm2025) scores words raw.")
    return word_prob


def encode(scorer, items: Sequence[WordContext], mode: str, word_prob: str = "raw"
           ) -> tuple[list, int]:
    """The items as scorer requests, tokenised once; and how many lose their word's first
    token (babylm2025 only: an empty context and a tokenizer without BOS)."""
    from classit_eval.scoring import word_requests

    encoded = word_requests(scorer, [request(item, mode) for item in items], word_prob)
    unscored = 0
    for item, enc in zip(items, encoded, strict=True):
        if not enc.span:
            raise DataError(
                f"AoA word {item.word!r}, context {item.context_id}: no token of the word is "
                f"scored in mode {mode} (the text {request(item, mode)!r} has no token before "
                "the word); use --mode full, which puts a BOS token before every context.")
        if mode == "babylm2025" and not item.context.strip() and _no_prefix(scorer):
            unscored += 1
    return encoded, unscored


def _no_prefix(scorer) -> bool:
    return not scorer.tokenizer("", add_special_tokens=True)["input_ids"]


def score_series(words: Words, checkpoints: Sequence[Checkpoint], mode: str,
                 load: Callable[[Checkpoint], object], tokenizer, batch_size: int = 32,
                 progress: Callable[[str], None] = print, word_prob: str | None = None
                 ) -> Series:
    """Score every item at every checkpoint. `load(checkpoint)` returns its model (on the
    device, in eval mode); the tokenizer is shared by the series (checked by the caller)."""
    from classit_eval.scoring import Scorer

    if mode not in MODES:
        raise ValueError(f"mode={mode!r}: choose one of {', '.join(MODES)}")
    word_prob = word_prob_for(mode, word_prob)
    items = words.items
    scorer: Scorer | None = None
    surprisal: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    encoded: list = []
    unscored = 0
    for checkpoint in checkpoints:
        start = time.perf_counter()
        model = load(checkpoint)
        if scorer is None:
            scorer = Scorer(model, tokenizer, mode=mode, batch_size=batch_size, progress=False)
            encoded, unscored = encode(scorer, items, mode, word_prob)
        else:
            scorer.set_model(model)
        try:
            scores = scorer.score_encoded(encoded)
        except ValueError as err:  # a context over the model's length
            raise DataError(f"{checkpoint.revision}: {err}") from err
        surprisal[checkpoint.revision] = [-logprob for logprob, _ in scores]
        seconds[checkpoint.revision] = round(time.perf_counter() - start, 3)
        progress(f"{checkpoint.revision}: {len(items)} surprisals "
                 f"({seconds[checkpoint.revision]:.1f} s)")
    return Series(items=list(items), checkpoints=list(checkpoints), surprisal=surprisal,
                  word_tokens=[len(e.span) for e in encoded], unscored_first=unscored,
                  vocab_size=len(tokenizer), mode=mode, model="", seconds=seconds,
                  word_prob=word_prob)


# -- the official surprisal.json --------------------------------------------------------------
def official_json(series: Series, model_name: str) -> dict:
    """The official `surprisal.json`: `metadata` and one row per (checkpoint, item), in the
    official order (checkpoint by checkpoint, then word by word, then context by context).
    `metadata.classit` adds what the fit needs and the official file lacks."""
    rows = [{"step": c.revision, "word_count": c.words, "target_word": item.word,
             "context_id": item.context_id, "context": item.context, "surprisal": value}
            for c in series.checkpoints
            for item, value in zip(series.items, series.surprisal[c.revision], strict=True)]
    metadata = {"model_name": model_name, "use_bos_only": False,
                "total_steps": len(series.checkpoints),
                "completed_steps": len(series.surprisal),
                "classit": {"mode": series.mode, "word_prob": series.word_prob,
                            "vocab_size": series.vocab_size,
                            "word_tokens": word_tokens_per_word(series),
                            "seconds": series.seconds}}
    return {"metadata": metadata, "results": rows}


def word_tokens_per_word(series: Series) -> dict[str, float]:
    """The mean number of scored tokens of each word over its contexts."""
    total: dict[str, list[int]] = {}
    for item, n in zip(series.items, series.word_tokens, strict=True):
        total.setdefault(item.word, []).append(n)
    return {w: sum(ns) / len(ns) for w, ns in total.items()}


def write_json(data: dict, path: Path) -> Path:
    """Write whole or not at all (a kill leaves no half file). NaN is refused: the run
    stops on errors, so a surprisal is always a number."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, json.dumps(data, indent=1, allow_nan=False) + "\n")

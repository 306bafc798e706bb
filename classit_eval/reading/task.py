"""The lm-eval side of `classit_reading`: documents, requests and the corpus-level scores.

One document per distinct (context, word) the regression needs: every csv row's word after
its `item`, and every previous word after its `prev_item`. Each document issues one
loglikelihood request, and each metric receives the small item (context, word, surprisal,
run). `load` keeps what the scores need, the csv and the bootstrap settings, in `RUNS`
under the task's name (the run key every document carries); the first metric's
aggregation maps the surprisals back to csv rows and runs the fits, the other metrics
reuse them.

Run options, from lm-eval's `--metadata` JSON:
- `data_dir`: evaluation data root;
- `reading_convention`: `running` (default) or `babylm2025` (see classit_eval.reading.surprisal);
- `word_prob`: `corrected` (the default under `running`: the word's probability corrected for
  where it ends, classit_eval.scoring.wordprob) or `raw` (its tokens' sum; the only choice
  under `babylm2025`, the official numbers). Only `--model classit` corrects: lm-eval's
  `hf` scores every request raw;
- `reading_bootstrap` (default 1000) and `reading_seed` (default 0): sentence resamples of
  the 95% intervals reported as `*_ci_low` / `*_ci_high`;
- `reading_nulls` (default 1000): permutations of the null baselines `*_null_*` (seed
  `reading_seed`), 0 for none. The token-count null `*_token_null` needs the model's
  tokenizer: lm-eval passes the model arguments with the metadata, and `tokenizer` (else
  `pretrained`, at `revision`) names it. See classit_eval.reading.nulls.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import pandas as pd

from classit_eval.errors import ModelLoadError, OptionError
from classit_eval.names import ENCODING_FIELD, READING_METRICS, READING_SCORES
from classit_eval.reading import dataset, nulls, regression
from classit_eval.scoring import (
    BABYLM2025_READER,
    CONVENTIONS,
    WORD_IN_TEXT,
    WORD_IN_TEXT_CORRECTED,
    WORD_PROBS,
)

log = logging.getLogger(__name__)
Scored = tuple[str, str, float, str]  # (context, word, surprisal, run key)


@dataclass(eq=False)
class ReadingRun:
    """What the scores of one task need from its `load`: the csv and the interval settings."""

    csv: pd.DataFrame
    bootstrap: int
    seed: int
    permutations: int = 0  # of the null baselines
    tokenizer: tuple[str, str | None] | None = None  # (name or folder, revision)
    convention: str = "running"
    warned: bool = False  # that the token-count null has no tokenizer
    scored: tuple[tuple[Scored, ...], dict[str, float]] | None = None  # the last fits

    def scores(self, items: Sequence[Scored]) -> dict[str, float]:
        """Every metric of these items, from one set of fits shared by all metrics."""
        items = tuple(items)
        if self.scored is None or self.scored[0] != items:
            self.scored = (items, _fit(self, items))
        return self.scored[1]


# The csv and settings of each task's latest load, by task name (`classit_reading`,
# `classit_reading_fast`): its documents carry that name as their run key.
RUNS: dict[str, ReadingRun] = {}


def load(classit_fast: bool = False, classit_task: str = "classit_reading",
         data_dir: str | None = None, reading_convention: str = "running",
         reading_bootstrap: int = 1000, reading_seed: int = 0, reading_nulls: int = 1000,
         word_prob: str | None = None, **model_args) -> dict[str, datasets.Dataset]:
    """The documents of the task (lm-eval `custom_dataset`)."""
    if reading_convention not in CONVENTIONS:
        raise OptionError(
            f"{classit_task}: --metadata reading_convention={reading_convention!r} is not one "
            f"of {', '.join(CONVENTIONS)}."
        )
    word_prob = word_prob_option(classit_task, reading_convention, word_prob)
    n_boot = whole_number(classit_task, "reading_bootstrap", reading_bootstrap)
    seed = whole_number(classit_task, "reading_seed", reading_seed)
    permutations = whole_number(classit_task, "reading_nulls", reading_nulls)
    if reading_convention == "babylm2025":
        log.warning(
            "%s: reading_convention=babylm2025 scores the word without its leading space. "
            "lm-eval's `hf` model tokenises context and word together, so its numbers differ "
            "from the official reader's; `--model classit` (classit-eval run) reproduces them.",
            classit_task,
        )
    csv = dataset.load_csv(dataset.find_csv(data_dir, fast=classit_fast))
    RUNS[classit_task] = ReadingRun(csv, n_boot, seed, permutations, _tokenizer_name(model_args),
                             reading_convention)
    # asks the `classit` backend for the official reader's scoring, or for a word inside
    # running text (what a masked model needs to know), see classit_eval.scoring
    encoding = BABYLM2025_READER if reading_convention == "babylm2025" else \
        WORD_IN_TEXT_CORRECTED if word_prob == "corrected" else WORD_IN_TEXT
    common = {"convention": reading_convention, ENCODING_FIELD: encoding, "run": classit_task}
    keys = dict.fromkeys(_queries(csv))  # distinct, in csv order
    docs = [{"context": context, "word": word} | common for context, word in keys]
    return {"test": datasets.Dataset.from_list(docs)}


def word_prob_option(task: str, convention: str, word_prob: str | None) -> str:
    """`--metadata word_prob`: `corrected` by default under the running convention, `raw`
    (and only raw) under the official one."""
    official = convention == "babylm2025"
    if word_prob is None:
        return "raw" if official else "corrected"
    if word_prob not in WORD_PROBS:
        raise OptionError(f"{task}: --metadata word_prob={word_prob!r} is not one of "
                          f"{', '.join(WORD_PROBS)}.")
    if official and word_prob == "corrected":
        raise OptionError(f"{task}: --metadata word_prob=corrected needs reading_convention="
                          "running; the official reader (babylm2025) scores words raw.")
    return word_prob


def whole_number(task: str, key: str, value: object) -> int:
    """A `--metadata` value that must be a whole number of at least 0."""
    try:
        if not isinstance(value, (int, float, str)):
            raise TypeError
        number = int(value)
        if number != float(value) or number < 0:
            raise ValueError
    except (TypeError, ValueError):
        raise OptionError(f"{task}: --metadata {key}={value!r} must be a whole number of at "
                          "least 0.") from None
    return number


def _tokenizer_name(model_args: dict) -> tuple[str, str | None] | None:
    """The model's tokenizer as its arguments name it (`tokenizer`, else `pretrained`)."""
    name = model_args.get("tokenizer") or model_args.get("pretrained")
    return (str(name), model_args.get("revision")) if isinstance(name, (str, Path)) else None


def _queries(csv: pd.DataFrame) -> list[tuple[str, str]]:
    """Every (context, word) the fits need: each row's word, then each previous word."""
    out = list(zip(csv["item"], csv["word"].astype(str), strict=True))
    prev = dataset.has_previous(csv)
    out += [(i, str(w)) for i, w, ok in zip(csv["prev_item"], csv["prev_word"], prev, strict=True)
            if ok]
    return out


def doc_to_text(doc: dict) -> str:
    return doc["context"]


def doc_to_target(doc: dict) -> str:
    """The word as scored: with its leading space (running text) or bare (babylm2025)."""
    return doc["word"] if doc["convention"] == "babylm2025" else " " + doc["word"]


def process_results(doc: dict, results: Sequence[tuple[float, bool]]) -> dict[str, Scored]:
    """Every metric receives the surprisal of this (context, word); aggregation scores them."""
    item = (doc["context"], doc["word"], -float(results[0][0]), doc["run"])
    return dict.fromkeys(READING_METRICS, item)


def aggregation(metric: str) -> Callable[[Sequence[Scored]], float]:
    """The corpus-level aggregation of one metric (all metrics share one set of fits)."""
    def aggregate(items: Sequence[Scored]) -> float:
        if not items:
            return math.nan
        return RUNS[items[0][3]].scores(items)[metric]

    aggregate.__name__ = metric
    return aggregate


def _fit(run: ReadingRun, items: Sequence[Scored]) -> dict[str, float]:
    """The regression scores and their bootstrap intervals, NaN unless every word is scored."""
    csv = run.csv
    values = {(context, word): surprisal for context, word, surprisal, _ in items}
    needed = set(_queries(csv))
    missing = needed - values.keys()
    if missing:  # a partial run (--limit, --samples): no score rather than a wrong one
        log.warning(
            "The reading scores need a surprisal for every word of the csv; %d of %d are "
            "missing, so every classit_reading metric is NaN. Run the task without --limit / "
            "--samples for its scores.", len(missing), len(needed))
        return dict.fromkeys(READING_METRICS, math.nan)
    pred = [values[(i, str(w))] for i, w in zip(csv["item"], csv["word"], strict=True)]
    prev = [values[(i, str(w))] if ok else math.nan for i, w, ok in
            zip(csv["prev_item"], csv["prev_word"], dataset.has_previous(csv), strict=True)]
    frame = dataset.with_surprisals(csv, pred, prev)
    result = regression.fit_all(frame)
    out = result.metrics()
    samples = regression.bootstrap([frame], run.bootstrap, run.seed) if run.bootstrap > 0 else None
    for k, name in enumerate(READING_SCORES):
        low_high = regression.interval(samples[:, 0, k]) if samples is not None else (math.nan,) * 2
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = low_high
    return out | nulls.null_baselines(frame, result, run.permutations, run.seed,
                                      _token_surprisals(run))


def _token_surprisals(run: ReadingRun) -> tuple[np.ndarray, np.ndarray] | None:
    """The token-count surprisals of the run's csv, or None (with a warning) without the
    model's tokenizer."""
    from classit_eval.data.checkpoints import load_tokenizer

    if run.permutations == 0:
        return None
    if run.tokenizer is None:
        if not run.warned:  # once per load, not at every checkpoint of a series
            log.warning("classit_reading: the model arguments name no tokenizer (`pretrained` "
                        "or `tokenizer`), so the token-count null (*_token_null) is NaN.")
            run.warned = True
        return None
    try:
        tokenizer = load_tokenizer(run.tokenizer[0], revision=run.tokenizer[1])
        return nulls.token_surprisals(tokenizer, run.csv, run.convention)
    except (ModelLoadError, ValueError) as err:  # no tokenizer, or a word it cannot encode
        log.warning("classit_reading: the token-count null (*_token_null) is NaN: %s", err)
        return None

"""The lm-eval side of `classit_reading`: documents, requests and the corpus-level scores.

One document per distinct (context, word) the regression needs: every csv row's word after
its `item`, and every previous word after its `prev_item`. Each document issues one
loglikelihood request; the aggregation maps surprisals back to csv rows and runs the fits.

Run options, from lm-eval's `--metadata` JSON:
- `data_dir`: evaluation data root;
- `reading_convention`: `running` (default) or `babylm2025` (see classit_eval.reading.surprisal);
- `reading_bootstrap` (default 1000) and `reading_seed` (default 0): sentence resamples of
  the 95% intervals reported as `*_ci_low` / `*_ci_high`.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Sequence

import datasets

from classit_eval.reading import dataset, regression
from classit_eval.reading.surprisal import CONVENTIONS

log = logging.getLogger(__name__)
Item = tuple[str, str, float, str, str, bool, int, int]


def load(classit_fast: bool = False, classit_task: str = "classit_reading",
         data_dir: str | None = None, reading_convention: str = "running",
         reading_bootstrap: int = 1000, reading_seed: int = 0, **_) -> dict[str, datasets.Dataset]:
    """The documents of the task (lm-eval `custom_dataset`)."""
    if reading_convention not in CONVENTIONS:
        raise ValueError(
            f"{classit_task}: --metadata reading_convention={reading_convention!r} is not one "
            f"of {', '.join(CONVENTIONS)}."
        )
    if reading_convention == "babylm2025":
        log.warning(
            "%s: reading_convention=babylm2025 scores the word without its leading space. "
            "lm-eval's `hf` model tokenises context and word together, so its numbers differ "
            "from the official reader's; `--model classit` (classit-eval run) reproduces them.",
            classit_task,
        )
    source = dataset.find_csv(data_dir, fast=classit_fast)
    csv = dataset.load_csv(source)
    common = {"data_dir": str(data_dir or ""), "fast": bool(classit_fast),
              "convention": reading_convention, "bootstrap": int(reading_bootstrap),
              # asks the `classit` backend for the official reader's scoring, see its doc
              "classit_reader": reading_convention,
              "seed": int(reading_seed)}
    docs, seen = [], set()
    for key in _queries(csv):
        if key not in seen:
            seen.add(key)
            docs.append({"context": key[0], "word": key[1]} | common)
    return {"test": datasets.Dataset.from_list(docs)}


def _queries(csv) -> list[tuple[str, str]]:
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


METRICS = ("eye_tracking", "self_paced_reading", *regression.VARIABLES,
           "eye_tracking_ci_low", "eye_tracking_ci_high",
           "self_paced_reading_ci_low", "self_paced_reading_ci_high")


def process_results(doc: dict, results: Sequence[tuple[float, bool]]) -> dict[str, Item]:
    """Every metric receives the surprisal of this (context, word); aggregation scores them."""
    surprisal = -float(results[0][0])
    item = (doc["context"], doc["word"], surprisal, doc["data_dir"], doc["convention"],
            doc["fast"], doc["bootstrap"], doc["seed"])
    return {name: item for name in METRICS}


@functools.lru_cache(maxsize=4)
def _scores(items: tuple[Item, ...]) -> dict[str, float]:
    data_dir, fast, n_boot, seed = items[0][3], items[0][5], items[0][6], items[0][7]
    csv = dataset.load_csv(dataset.find_csv(data_dir or None, fast=fast))
    values = {(c, w): s for c, w, s, *_ in items}
    missing = set(_queries(csv)) - set(values)
    if missing:  # a partial run (--limit, --samples): no score rather than a wrong one
        log.warning(
            "The reading scores need a surprisal for every word of the csv; %d of %d are "
            "missing, so every classit_reading metric is NaN. Run the task without --limit / "
            "--samples for its scores.", len(missing), len(set(_queries(csv))))
        return dict.fromkeys(METRICS, math.nan)
    pred = [values[(i, str(w))] for i, w in zip(csv["item"], csv["word"], strict=True)]
    prev = [values[(i, str(w))] if ok else math.nan for i, w, ok in
            zip(csv["prev_item"], csv["prev_word"], dataset.has_previous(csv), strict=True)]
    frame = dataset.with_surprisals(csv, pred, prev)
    out = regression.fit_all(frame).metrics()
    if n_boot > 0:
        samples = regression.bootstrap([frame], n_boot, seed)
        for k, name in enumerate(("eye_tracking", "self_paced_reading")):
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = regression.interval(samples[:, 0, k])
    else:
        out |= {f"{n}_ci_{e}": math.nan for n in ("eye_tracking", "self_paced_reading")
                for e in ("low", "high")}
    return out


def aggregation(metric: str) -> Callable[[Sequence[Item]], float]:
    """The corpus-level aggregation of one metric (all metrics share one set of fits)."""
    def aggregate(items: Sequence[Item]) -> float:
        return _scores(tuple(items))[metric]

    aggregate.__name__ = metric
    return aggregate

"""Documents and metrics of the BabyLM 2025 zero-shot tasks, as lm-eval task configs use them.

Each loader returns `{"test": Documents}` (a list of dicts) for lm-eval's `custom_dataset` hook,
which calls it with the task's `dataset_kwargs` and the run's metadata (the
`--metadata` JSON merged with the model arguments), hence the `**_` catch-all.

Every document carries its request fields ready-made, `context` and `choices` (entity
tracking: `input_prefix` and `options`), which the task configs name: lm-eval reads a field
directly, whereas a Jinja template string is compiled again for every document (~1 ms),
which made building the full suite's requests take minutes.

What is scored follows the official pipeline (evaluation_pipeline/sentence_zero_shot):

- BLiMP and its supplement: the whole good and bad sentences;
- EWoK: " " + Target1 and " " + Target2, each after Context1;
- entity tracking: each of five options after the shared prefix, gold first;
- WUG: the whole candidate sentences of a line, correlated with the human ratio; beside
  it, a permutation null (the model's ratios shuffled across items, WUG_PERMUTATIONS,
  seed 0): `spearman_null_p95` and the p-value `spearman_null_p`.
- COMPS: `property_phrase` after `prefix_acceptable + " "` (gold) and after
  `prefix_unacceptable + " "`: one continuation after two contexts (lm-eval's multiple-input
  form, as Winogrande), so the tokens scored are the official ones (its completion is the
  phrase, its sentence `prefix + " " + phrase`).

Accuracy is strict: a doc counts as correct only when the gold candidate scores higher
than every other candidate; a tie is wrong. (The official pipeline counts ties as correct,
its issue #34; the `classit` model backend with `scoring=babylm2025` reproduces that.)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from classit_eval.data.files import find_file, find_files, read_jsonl
from classit_eval.errors import DataError
from classit_eval.names import NUMOPS, PREFIXES_FIELD, comps_subset, numops_metric

Results = Sequence[tuple[float, bool]]  # lm-eval multiple_choice: (loglikelihood, is_greedy)


class Documents(list):
    """A task's documents as plain dicts. lm-eval takes a list of dicts as well as a
    `datasets.Dataset`, and iterates it several times faster (a Dataset decodes every row
    from Arrow); `features` names the fields, which is all lm-eval reads of a Dataset."""

    @property
    def features(self) -> dict[str, None]:
        return dict.fromkeys(self[0]) if self else {}


def _dataset(records: list[dict]) -> dict[str, Documents]:
    return {"test": Documents(records)}


def _records(path: str, data_dir: str | None, task: str, required: tuple[str, ...],
             convert: Callable[[dict], dict]) -> list[dict]:
    """Read `path` (a .jsonl file, plain or zipped) and convert every record."""
    source = find_file(path, data_dir, task)
    return [convert(r) | {"line": n} for n, r in enumerate(read_jsonl(source, required), 1)]


def load_pairs(classit_path: str, classit_task: str = "", data_dir: str | None = None,
               **_) -> dict[str, Documents]:
    """BLiMP and BLiMP-supplement minimal pairs: `sentence_good`, `sentence_bad`; the
    request fields: an empty `context` and the two sentences as `choices`, good first."""
    def convert(r: dict) -> dict:
        good, bad = r["sentence_good"], r["sentence_bad"]
        return {"sentence_good": good, "sentence_bad": bad, "context": "", "choices": [good, bad]}

    required = ("sentence_good", "sentence_bad")
    return _dataset(_records(classit_path, data_dir, classit_task, required, convert))


def load_ewok(classit_path: str, classit_task: str = "", data_dir: str | None = None,
              **_) -> dict[str, Documents]:
    """EWoK items: the targets after Context1, as the official pipeline scores them (its
    `enc_dec_prefix` backend takes Target2 after Context2: PREFIXES_FIELD carries both)."""
    def convert(r: dict) -> dict:
        good, bad = r["Target1"], r["Target2"]
        return {"context": r["Context1"], "target_good": good, "target_bad": bad,
                "choices": [good, bad],
                PREFIXES_FIELD: [r["Context1"], r.get("Context2", r["Context1"])]}

    required = ("Context1", "Target1", "Target2")
    return _dataset(_records(classit_path, data_dir, classit_task, required, convert))


def load_entity_tracking(classit_path: str, classit_task: str = "", data_dir: str | None = None,
                         **_) -> dict[str, Documents]:
    """Entity-tracking items: a prefix, five options (gold first) and the number of operations.

    The task reports one metric per number of operations in NUMOPS; an item outside it
    would have no metric, so it is a DataError.
    """
    def convert(r: dict) -> dict:
        return {"input_prefix": r["input_prefix"], "options": list(r["options"]),
                "numops": int(r["numops"])}

    required = ("input_prefix", "options", "numops")
    records = _records(classit_path, data_dir, classit_task, required, convert)
    for record in records:
        if record["numops"] not in NUMOPS:
            raise DataError(
                f"{classit_path}, line {record['line']}: numops={record['numops']}, but the "
                f"task reports {numops_metric(NUMOPS[0])} to {numops_metric(NUMOPS[-1])} only."
            )
    return _dataset(records)


def load_wug(classit_folder: str, classit_task: str = "", data_dir: str | None = None,
             **_) -> dict[str, Documents]:
    """WUG lines of every .jsonl file of a folder: tab-separated candidates and a human ratio."""
    records = []
    for source in find_files(classit_folder, data_dir, classit_task):
        for n, r in enumerate(read_jsonl(source, ("sentences", "ratio")), 1):
            candidates = r["sentences"].split("\t")
            if len(candidates) < 2:
                raise DataError(
                    f"{source}, line {n}: `sentences` must hold at least two tab-separated "
                    f"candidates, found {len(candidates)}."
                )
            records.append({"context": "", "candidates": candidates, "ratio": float(r["ratio"]),
                            "line": n})
    return _dataset(records)


def load_comps(classit_folder: str, classit_subset: str, classit_task: str = "",
               data_dir: str | None = None, **_) -> dict[str, Documents]:
    """COMPS pairs of one subset: the lines of every .jsonl file of the folder whose stem
    maps to `classit_subset` (names.comps_subset: any unknown stem counts as the last
    subset, as in the official reader). Request fields: `contexts`, each prefix with the
    space the official sentence puts before the phrase, `label` 0 (the gold context) and
    `phrase`, the shared continuation."""
    def convert(r: dict) -> dict:
        return {"contexts": [r["prefix_acceptable"] + " ", r["prefix_unacceptable"] + " "],
                "phrase": r["property_phrase"], "label": 0}

    required = ("prefix_acceptable", "prefix_unacceptable", "property_phrase")
    records = []
    for source in find_files(classit_folder, data_dir, classit_task):
        if comps_subset(source.name) == classit_subset:
            records += [convert(r) | {"line": n}
                        for n, r in enumerate(read_jsonl(source, required), 1)]
    if not records:
        raise DataError(f"{classit_folder}: no file of the COMPS subset {classit_subset} "
                        f"(task {classit_task}); the official data has comps_base.jsonl, "
                        "comps_wugs.jsonl, comps_wugs_dist-before.jsonl and "
                        "comps_wugs_dist-in-between.jsonl.")
    return _dataset(records)


def strict_correct(results: Results) -> bool:
    """The gold candidate (index 0) beats every other one; ties are wrong."""
    lls = [float(ll) for ll, _ in results]
    return lls[0] > max(lls[1:])


def process_pairs(doc: dict, results: Results) -> dict[str, float]:
    """`acc` of one minimal-pair doc (gold first)."""
    return {"acc": float(strict_correct(results))}


def process_entity_tracking(doc: dict, results: Results) -> dict:
    """`acc` (kept with its numops for the macro mean) and `acc_numops_<k>`."""
    correct = float(strict_correct(results))
    return {"acc": (doc["numops"], correct), numops_metric(doc["numops"]): correct}


def macro_over_numops(items: list[tuple[int, float]]) -> float:
    """Mean over numops of the accuracy per numops: the official per-file score."""
    by_numops: dict[int, list[float]] = defaultdict(list)
    for numops, correct in items:
        by_numops[numops].append(correct)
    return float(np.mean([np.mean(v) for v in by_numops.values()]))


def process_wug(doc: dict, results: Results) -> dict:
    """The model's normalised probability of the first candidate, beside the human ratio
    (for the score and its permutation null)."""
    lls = np.array([ll for ll, _ in results], dtype=np.float64)
    probs = np.exp(lls - lls.max())
    return dict.fromkeys(WUG_METRICS, (float(probs[0] / probs.sum()), doc["ratio"]))


def spearman(items: list[tuple[float, float]]) -> float:
    """Spearman's rho between model and human ratios over the whole task."""
    model, human = zip(*items, strict=True)
    from scipy.stats import spearmanr

    rho = spearmanr(model, human).statistic
    return float("nan") if rho is None or math.isnan(rho) else float(rho)


WUG_PERMUTATIONS = 1000
WUG_METRICS = ("spearman", "spearman_null_p95", "spearman_null_p")


def spearman_null(model: Sequence[float], human: Sequence[float], n: int = WUG_PERMUTATIONS,
                  seed: int = 0) -> np.ndarray:
    """Spearman's rho of `n` seeded shufflings of the model's ratios across items: the
    Pearson r of ranks (ties averaged, as scipy's spearmanr), the model's ranks permuted."""
    from scipy.stats import rankdata

    ranks = [rankdata(np.asarray(v, dtype=np.float64)) for v in (model, human)]
    z_model, z_human = ((r - r.mean()) / (r.std() or math.inf) for r in ranks)
    perms = np.argsort(np.random.default_rng(seed).random((n, len(z_model))), axis=1)
    return z_model[perms] @ z_human / len(z_human)


def spearman_null_p95(items: list[tuple[float, float]]) -> float:
    """The 95th percentile of the permutation null of `spearman`."""
    model, human = zip(*items, strict=True)
    return float(np.percentile(spearman_null(model, human), 95))


def spearman_null_p(items: list[tuple[float, float]]) -> float:
    """One-sided p-value of `spearman` against its permutation null: (1 + #{null >= rho})
    / (N + 1); NaN where rho is."""
    rho = spearman(items)
    if math.isnan(rho):
        return math.nan
    model, human = zip(*items, strict=True)
    null = spearman_null(model, human)
    return float((1 + np.sum(null >= rho - 1e-12)) / (len(null) + 1))

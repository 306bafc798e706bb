"""From lm-eval sample logs and fine-tuning predictions to the official prediction lists.

lm-eval (`--log_samples`) writes, beside `results_<date>.json`, one
`samples_<task>_<date>.jsonl` per task: each document's `doc_id`, the `arguments` of its
requests (one `(context, continuation)` per candidate) and their `filtered_resps`
(`(loglikelihood, is_greedy)`, as strings that read back exactly). A zero-shot document's
prediction is its first candidate of highest log-likelihood (the official `torch.max`
picks the first on a tie); its `pred` is that candidate as the official data spells it
(leaderboard.items), its `id` `<subtask key>_<n>`, numbered per key in data-file order.
The k-th document of a task is matched with the k-th line of its data file, and each
candidate's continuation must be that line's candidate, so a log of other data (another
version, `--limit`) is an error, not a wrong file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from classit_eval.errors import ResultsError
from classit_eval.families import GLUE_SIZES, READING_SIZE, Family
from classit_eval.leaderboard.items import Item, file_items

RESULTS_FILE = re.compile(r"results_(?P<date>.+)\.json")


@dataclass
class TaskLog:
    """One lm-eval run of a task or group: its results and each member task's samples."""

    group: str
    results_file: Path
    results: dict
    samples: dict[str, list[dict]]  # member task -> samples in doc_id order

    @property
    def model_args(self) -> dict[str, str]:
        """The run's model arguments (`pretrained`, `revision`, ...) as strings."""
        config = self.results.get("config")
        args = (config.get("model_args") if isinstance(config, dict) else None) or {}
        if isinstance(args, str):
            args = dict(part.split("=", 1) for part in args.split(",") if "=" in part)
        if not isinstance(args, dict):
            return {}  # no pretrained=: the model check says so
        return {str(k): str(v) for k, v in args.items() if v is not None}


def members(results: dict, group: str, path: Path | None = None) -> list[str] | None:
    """The tasks a results file ran for `group` (the group itself for a plain task), or
    None when the file does not hold it; an error when it is not lm-eval's layout."""
    subtasks = results.get("group_subtasks") or {}
    scores = results.get("results") or {}
    if not isinstance(subtasks, dict) or not isinstance(scores, dict):
        raise ResultsError(f"{path}: its group_subtasks and results are not objects; not an "
                           "lm-eval results file: remove it or rerun the task.")
    if group in subtasks:
        tasks = subtasks[group]
        if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
            raise ResultsError(f"{path}: group_subtasks of {group} is not a list of task "
                               "names; not an lm-eval results file: rerun the task.")
        return list(tasks) or [group]
    if group in scores:
        return [group]
    return None


def result_files(folder: Path, group: str) -> list[tuple[Path, dict]]:
    """Every readable lm-eval results file under `folder` (searched recursively) that holds
    `group`, oldest first."""
    found = []
    for path in sorted(folder.rglob("results_*.json")):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue  # a file cut off by a kill; the run is redone
        if isinstance(results, dict) and members(results, group, path) is not None:
            found.append((_date(results, path), path, results))
    return [(path, results) for _, path, results in sorted(found, key=lambda f: (f[0],
                                                                               f[1].name))]


def _date(results: dict, path: Path) -> float:
    try:
        return float(results.get("date") or path.stat().st_mtime)
    except (TypeError, ValueError):
        return path.stat().st_mtime


def read_log(path: Path, results: dict, group: str) -> TaskLog:
    """The run of `group` in the results file `path` with its sample logs.

    Raises ResultsError when that run cannot give predictions: it was run with `--limit`
    or `--samples`, or a member task has no sample log (`--log_samples` was not given)."""
    config = results.get("config") or {}
    configs = results.get("configs") or {}
    tasks = members(results, group, path)
    if not isinstance(config, dict) or not isinstance(configs, dict) or tasks is None or not all(
            isinstance(configs.get(task), dict) for task in tasks):
        raise ResultsError(f"{path}: no config of {group} (config and configs.<task> are "
                           "objects in lm-eval's results); not a results file of the task: "
                           "rerun it.")
    if config.get("limit") is not None:
        raise ResultsError(
            f"{path}: {group} was run with --limit {config['limit']}, so its predictions "
            "cover part of each task; rerun it without --limit.")
    match = RESULTS_FILE.fullmatch(path.name)
    if match is None:
        raise ResultsError(f"{path}: not an lm-eval results file (results_<date>.json).")
    date = match["date"]
    samples = {}
    for task in tasks:
        sample_file = path.parent / f"samples_{task}_{date}.jsonl"
        if not sample_file.is_file():
            raise ResultsError(
                f"{path}: no sample log {sample_file.name} for {task}; rerun with "
                "--log_samples (the submission needs each item's prediction).")
        samples[task] = read_samples(sample_file)
    return TaskLog(group, path, results, samples)


def read_samples(path: Path) -> list[dict]:
    """The samples of one lm-eval sample log, in doc_id order."""
    out = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ResultsError(f"{path}, line {number}: not valid JSON ({err.msg}); the "
                                   "run was cut off: rerun the task.") from err
    for number, line in enumerate(out, start=1):
        doc_id = line.get("doc_id") if isinstance(line, dict) else None
        if isinstance(doc_id, bool) or not isinstance(doc_id, int):
            raise ResultsError(f"{path}, entry {number}: not an object with an integer doc_id; "
                               "not a sample log or predictions file of this package: rerun "
                               "the task.")
    return sorted(out, key=lambda sample: sample["doc_id"])


def _data_stem(config: dict, family: Family) -> str | None:
    """The data file a task reads (its stem), or None for a whole folder (WUG)."""
    kwargs = config.get("dataset_kwargs")
    path = kwargs.get("classit_path") if isinstance(kwargs, dict) else None
    return PurePosixPath(path).stem if isinstance(path, str) else None


def _subset(config: dict) -> str | None:
    """The subset a task reads of its folder (COMPS: `classit_subset`), or None for all."""
    return (config.get("dataset_kwargs") or {}).get("classit_subset")


def choice(sample: dict) -> tuple[int, list[float]]:
    """The index of the first candidate of highest log-likelihood, and every log-likelihood."""
    lls = [float(resp[0]) for resp in sample["filtered_resps"]]
    return max(range(len(lls)), key=lambda i: (lls[i], -i)), lls


def zero_shot_predictions(family: Family, log: TaskLog, fast: bool,
                          data_dir: str | os.PathLike | None = None) -> dict[str, dict]:
    """`{subtask key: {"predictions": [...]}}` of a zero-shot family from its sample logs."""
    by_file = file_items(family, fast, data_dir)
    out: dict[str, list[dict]] = defaultdict(list)
    for task, samples in log.samples.items():
        config = log.results["configs"][task]
        stem, subset = _data_stem(config, family), _subset(config)
        lines = by_file[stem] if stem in by_file else [
            line for stem_lines in by_file.values() for line in stem_lines
            if subset is None or line[0] == subset]
        if len(samples) != len(lines):
            raise ResultsError(
                f"{log.results_file}: {task} has {len(samples)} documents, its data "
                f"({family.fast if fast else family.full}) has {len(lines)}: rerun the task on "
                "the official data, without --limit.")
        for k, (sample, (key, item)) in enumerate(zip(samples, lines, strict=True)):
            with malformed_sample(log, task, k):
                _check_candidates(log, task, k, sample, item)
                index, lls = choice(sample)
            prediction: dict[str, str | float] = {"id": f"{key}_{len(out[key])}",
                                                  "pred": item.candidates[index]}
            if item.ratio is not None:  # WUG: the probability of candidate 0 among all
                top = max(lls)
                weights = [math.exp(ll - top) for ll in lls]
                prediction["prob"] = weights[0] / sum(weights)
            out[key].append(prediction)
    return {key: {"predictions": predictions} for key, predictions in out.items()}


@contextlib.contextmanager
def malformed_sample(log: TaskLog, task: str, k: int):
    """A sample whose fields are not lm-eval's (a hand-edited or foreign log): one error
    naming it, not a traceback."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as err:
        raise ResultsError(f"{log.results_file}: {task}, document {k}: not an lm-eval sample "
                           f"({type(err).__name__}: {err}); rerun the task.") from err


def arguments(sample: dict) -> list[tuple[str, str]]:
    """The (context, continuation) of each request of a sample: lm-eval's sample logs write
    them as `{"gen_args_0": {"arg_0": context, "arg_1": continuation}, ...}`."""
    args = sample["arguments"]
    if isinstance(args, dict):
        ordered = sorted(args.items(), key=lambda kv: int(kv[0].rsplit("_", 1)[-1]))
        return [(str(a.get("arg_0", "")), str(a.get("arg_1", ""))) for _, a in ordered]
    return [(str(a[0]), str(a[1])) for a in args]


def _check_candidates(log: TaskLog, task: str, k: int, sample: dict, item: Item) -> None:
    """The document's continuations are the item's candidates (a log of the same data)."""
    texts = [(context + continuation if item.whole else continuation).strip()
             for context, continuation in arguments(sample)]
    if texts != [c.strip() for c in item.candidates]:
        raise ResultsError(
            f"{log.results_file}: {task}, document {k}: its candidates are not those of "
            f"line {k + 1} of the official data ({texts[0][:60]!r} vs "
            f"{item.candidates[0].strip()[:60]!r}); the log is of other data.")


def reading_predictions(log: TaskLog, csv) -> dict[str, dict]:
    """`{"reading": {"predictions": [...]}}`: per csv row its word's surprisal `pred` and
    the previous word's `prev_pred` (NaN where the row has no previous word), in nats."""
    from classit_eval.reading.dataset import has_previous

    surprisal = {}
    for task, samples in log.samples.items():
        for k, sample in enumerate(samples):
            with malformed_sample(log, task, k):
                doc = sample["doc"]
                surprisal[(doc["context"], str(doc["word"]))] = -float(
                    sample["filtered_resps"][0][0])
    rows = list(zip(csv["item"], csv["word"].astype(str), csv["prev_item"],
                    csv["prev_word"], has_previous(csv), strict=True))
    needed = {(i, w) for i, w, *_ in rows} | {(pi, str(pw)) for _, _, pi, pw, ok in rows if ok}
    missing = needed - surprisal.keys()
    if missing or len(rows) != READING_SIZE:
        raise ResultsError(
            f"{log.results_file}: {len(missing)} of the {len(needed)} words the reading task "
            f"needs have no surprisal (the csv has {len(rows)} rows, expected "
            f"{READING_SIZE}); rerun it on the official data without --limit.")
    predictions = [
        {"id": n, "pred": surprisal[(i, w)],
         "prev_pred": surprisal[(pi, str(pw))] if ok else math.nan}
        for n, (i, w, pi, pw, ok) in enumerate(rows)]
    return {"reading": {"predictions": predictions}}


def glue_predictions(task: str, path: Path) -> dict[str, dict]:
    """`{task: {"predictions": [{"id": "<task>_<i>", "pred": <int>}]}}` from a
    classit-finetune predictions file (one line per validation example, in file order)."""
    lines = read_samples(path)  # sorted by doc_id, the validation index
    if len(lines) != GLUE_SIZES[task] or [line["doc_id"] for line in lines] != list(
            range(len(lines))):
        raise ResultsError(
            f"{path}: {len(lines)} predictions, the {task} validation file has "
            f"{GLUE_SIZES[task]}, one per line in file order; fine-tune on the official "
            "data (classit-eval finetune writes them all).")
    predictions = []
    for line in lines:
        pred = line.get("pred")
        if isinstance(pred, bool) or not isinstance(pred, int):
            raise ResultsError(f"{path}, doc_id {line['doc_id']}: pred {pred!r} is not a label "
                               "index (an integer).")
        predictions.append({"id": f"{task}_{line['doc_id']}", "pred": pred})
    return {task: {"predictions": predictions}}

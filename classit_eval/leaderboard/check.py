"""`classit-eval babylm check FILE`: validate a submission file and recompute its scores.

    classit-eval babylm check all_full_preds_and_fast_scores_causal.json --track strict-small

Any submission file, ours or one the official `collate_preds.py` wrote. What is checked:

- the keys: every official key (`blimp` ... `glue`, `aoa`, `fast_eval_results`), no other
  (the multimodal ones aside); a file `babylm export --allow-missing` marked incomplete
  fails;
- each task's subtasks and their exact item counts (the counts `collate_preds.py` asserts),
  ids `<subtask>_<n>` (an integer row for reading) unique, complete and in order (the
  official scorer pairs predictions with data lines by position);
- types: `pred` a string for the zero-shot tasks (one of the item's candidates, when the
  evaluation data is at hand), an integer label for GLUE, a finite number for reading
  (`prev_pred` a number, NaN where the row has no previous word); WUG's `prob` in [0, 1];
- `aoa`: the revisions of the track, 8,005 surprisals each; `fast_eval_results`: one
  entry per revision of the track for each fast task, with its subtask keys;
- ranges, what the official pipeline can write: accuracies in [0, 1], Spearman's rho in
  [-1, 1], reading scores (normalised delta-R2 / 100) in [0, 1], surprisals (reading
  `pred`/`prev_pred`, AoA) finite, >= 0 and within float32 (the pipeline computes them in
  float32 at most); a revision listed twice (or `chck_1M` with `chck_1000K`) is a
  duplicated learning-curve entry.

Each problem is one line naming the task, subtask and item. Then the scores are recomputed
from the predictions (leaderboard.scores) and printed, with the aggregates the organisers
describe: NLP = mean(BLiMP, supplement, EWoK, entity tracking, COMPS, GLUE),
human-likeness = mean(reading, WUGs, AoA), macro = their mean (all x100). They are labelled
"recomputed": the leaderboard computes its own. Exit status 1 when the file has problems.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard

from classit_eval.data.series import TRACKS, check_revisions, revision_list, track_of
from classit_eval.errors import MissingDataError, OptionError, ResultsError
from classit_eval.families import (
    AOA_SIZE,
    FAMILIES,
    FAST_KEYS,
    GLUE,
    GLUE_SIZES,
    Family,
    expected_sizes,
)
from classit_eval.leaderboard import scores
from classit_eval.leaderboard.tracks import (
    AOA_KEY,
    FAST_RESULTS_KEY,
    GLUE_KEY,
    INCOMPLETE_KEY,
    SUBMISSION_KEYS,
    WUG_FILES,
    fast_score_keys,
)

MULTIMODAL_KEYS = ("vqa", "winoground", "devbench")
SHOWN_PER_SUBTASK = 5  # item problems listed per subtask before a summary line
# the largest surprisal the official pipeline can write: it computes in float32 at most
MAX_SURPRISAL = 3.4028234663852886e38
# the lowest value of a fast score and what it is (the highest is 1); default: accuracy
FAST_RANGES = {"wug_adj": (-1, "Spearman's rho"), "wug_past": (-1, "Spearman's rho"),
               "reading": (0, "a normalised delta-R2 / 100")}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file, where it is."""

    task: str
    subtask: str | None
    item: str | None
    message: str

    def __str__(self) -> str:
        where = " / ".join(str(p) for p in (self.task, self.subtask, self.item) if p is not None)
        return f"{where}: {self.message}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # recomputed scores (x100) by row name; a string says why there is none
    scores: dict[str, float | str] = field(default_factory=dict)
    subtasks: dict[str, dict[str, float | None]] = field(default_factory=dict)  # fractions

    def add(self, task: str, subtask: str | None, item: object, message: str) -> None:
        self.problems.append(Problem(task, subtask, None if item is None else str(item),
                                     message))


# -- structure ------------------------------------------------------------------------------
def check_list(report: Report, task: str, subtask: str | None, entry: object, size: int,
               expected_id: Callable[[int], object],
               check_item: Callable[[int, dict], str | None]) -> list[dict] | None:
    """The predictions of one subtask: a list of `size` dicts whose ids are
    `expected_id(0..size-1)` in order, each passing `check_item`. Returns the list."""
    if not isinstance(entry, dict) or not isinstance(entry.get("predictions"), list):
        report.add(task, subtask, None, 'expected {"predictions": [...]}')
        return None
    predictions = entry["predictions"]
    if len(predictions) != size:
        report.add(task, subtask, None, f"{len(predictions)} predictions, expected {size}")
    item_problems: list[tuple[object, str]] = []
    ids = []
    malformed = False
    for i, prediction in enumerate(predictions):
        if not isinstance(prediction, dict) or "id" not in prediction or "pred" not in prediction:
            item_problems.append((f"#{i}", 'not an object with "id" and "pred"'))
            malformed = True
            continue
        ids.append(prediction["id"])
        message = check_item(i, prediction)
        if message:
            item_problems.append((prediction["id"], message))
    counts = Counter(map(_hashable, ids))
    for identifier, count in counts.items():
        if count > 1:
            item_problems.append((identifier, f"duplicate id ({count} times)"))
    wanted = [expected_id(i) for i in range(size)]
    wanted_set = set(map(_hashable, wanted))
    absent = [w for w in wanted if _hashable(w) not in counts]
    unknown = [i for i in counts if i not in wanted_set]
    if absent:
        item_problems.append((absent[0], f"missing id ({len(absent)} missing in all)"))
    if unknown:
        item_problems.append((unknown[0], f"unexpected id ({len(unknown)} in all; ids run "
                                          f"{wanted[0]!r} to {wanted[-1]!r})"))
    if not absent and not unknown and len(ids) == size and list(map(_hashable, ids)) != list(
            map(_hashable, wanted)):
        first = next(i for i, (a, b) in enumerate(zip(ids, wanted, strict=True)) if a != b)
        item_problems.append((ids[first], f"out of order: position {first} must hold "
                                          f"{wanted[first]!r} (predictions are paired with "
                                          "data lines by position)"))
    for item, message in item_problems[:SHOWN_PER_SUBTASK]:
        report.add(task, subtask, item, message)
    if len(item_problems) > SHOWN_PER_SUBTASK:
        report.add(task, subtask, None,
                   f"{len(item_problems) - SHOWN_PER_SUBTASK} more item problems not shown")
    return None if malformed else predictions  # no score from malformed items


def _hashable(value: object) -> object:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number(value: object) -> float | None:
    """A JSON number as a float (an integer too large for a float: infinity), else None."""
    if not is_number(value):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def surprisal_problem(name: str, value: object) -> str | None:
    """Why `value` cannot be a surprisal the pipeline wrote (a number of nats), or None."""
    x = number(value)
    if x is None or not math.isfinite(x):
        return f"{name} is {value!r:.40}, expected a finite surprisal (a number)"
    if not 0 <= x <= MAX_SURPRISAL:
        return (f"{name} {value!r:.40} is not a surprisal (nats: >= 0, and within float32, "
                "as the pipeline computes them)")
    return None


def subtask_entries(report: Report, family: Family, value: object) -> dict[str, tuple[str, object]]:
    """The subtasks of a family's value, as {expected key (lower case): (key in file,
    entry)}; problems for subtasks missing or unknown."""
    if not isinstance(value, dict):
        report.add(family.key, None, None, "expected an object of subtasks")
        return {}
    expected = {k.lower(): n for k, n in expected_sizes(family, fast=False).items()}
    aliases = {WUG_FILES[family.key]: family.key} if family.key in WUG_FILES else {}
    found: dict[str, tuple[str, object]] = {}
    for key, entry in value.items():
        name = aliases.get(key.lower(), key.lower())
        if name not in expected:
            report.add(family.key, key, None, f"unknown subtask (expected {len(expected)}: "
                                              f"{', '.join(sorted(expected)[:3])}, ...)")
        else:
            found[name] = (key, entry)
    for name in sorted(set(expected) - set(found)):
        report.add(family.key, name, None, "missing subtask")
    return found


def check_family(report: Report, family: Family, value: object, items: dict | None) -> None:
    """A zero-shot family: subtasks, counts, ids, `pred` strings among the candidates."""
    sizes = {k.lower(): n for k, n in expected_sizes(family, fast=False).items()}
    by_lower = {k.lower(): v for k, v in (items or {}).items()}
    wug = family.key in WUG_FILES
    no_prob = 0
    for name, (key, entry) in subtask_entries(report, family, value).items():
        data = by_lower.get(name)

        def check_item(i: int, prediction: dict, data=data) -> str | None:
            nonlocal no_prob
            pred = prediction["pred"]
            if not isinstance(pred, str):
                return f"pred is {type(pred).__name__} {pred!r:.40}, expected a string"
            if data is not None and i < len(data) and pred.strip() not in {
                    c.strip() for c in data[i].candidates}:
                return f"pred {pred.strip()[:50]!r} is not a candidate of data line {i + 1}"
            if wug and "prob" not in prediction:
                no_prob += 1
            elif wug and not (is_number(prediction["prob"]) and 0 <= prediction["prob"] <= 1):
                return f"prob {prediction['prob']!r} is not a probability"
            return None

        predictions = check_list(report, family.key, key, entry, sizes[name],
                                 f"{key}_{{}}".format, check_item)
        if predictions is None or data is None:
            continue
        if wug:
            rho = scores.wug_rho(predictions, data)
            report.subtasks.setdefault(family.key, {})[key] = (
                rho if rho is not None else scores.accuracy(predictions, data))
        else:
            report.subtasks.setdefault(family.key, {})[key] = scores.accuracy(predictions, data)
    if no_prob:
        report.warnings.append(
            f"{family.key}: {no_prob} predictions have no prob (the first 2025 releases of "
            "the pipeline wrote none): Spearman's rho cannot be recomputed, the accuracy of "
            "candidate 0 is shown instead; the leaderboard needs prob.")
        report.scores[f"{family.key}_metric"] = "acc"


def check_reading(report: Report, value: object, csv) -> None:
    """Reading: 1,726 rows, ids 0..1725, finite `pred`, `prev_pred` NaN exactly where the
    row has no previous word."""
    from classit_eval.families import READING_SIZE

    if not isinstance(value, dict) or set(value) != {"reading"}:
        report.add("reading", None, None, 'expected {"reading": {"predictions": [...]}}')
        return
    previous = None
    if csv is not None:
        from classit_eval.reading.dataset import has_previous

        previous = list(has_previous(csv))

    def check_item(i: int, prediction: dict) -> str | None:
        pred, prev = prediction["pred"], prediction.get("prev_pred", "absent")
        problem = surprisal_problem("pred", pred)
        if problem:
            return problem
        if prev is not None and not is_number(prev):
            return f"prev_pred is {prev!r:.40}, expected a number or NaN"
        prev_value = number(prev)
        missing = prev_value is None or math.isnan(prev_value)
        if not missing and surprisal_problem("prev_pred", prev):
            return surprisal_problem("prev_pred", prev)
        if previous is not None and i < len(previous):
            if previous[i] and missing:
                return "prev_pred is NaN, but the row has a previous word"
            if not previous[i] and not missing:
                return "prev_pred is a number, but the row has no previous word (expected NaN)"
        return None

    before = len(report.problems)
    predictions = check_list(report, "reading", "reading", value["reading"], READING_SIZE,
                             lambda i: i, check_item)
    if predictions is not None and csv is not None and len(report.problems) == before:
        try:
            found = scores.reading_scores(predictions, csv)
        except Exception as err:  # a bad number was reported above; no score then
            report.scores["reading"] = f"not recomputed ({type(err).__name__})"
            return
        bad = ", ".join(f"{k}={v * 100:.2f}" for k, v in found.items() if not 0 <= v <= 1)
        if bad:  # surprisals in range, yet a regression no pipeline could report
            report.add("reading", "reading", None, f"the scores recomputed from these "
                       f"surprisals are impossible ({bad}, outside 0..100): the surprisals "
                       "are not a model's")
            return
        report.subtasks["reading"] = dict(found)


def check_glue(report: Report, value: object, skipped: set[str], data_dir) -> None:
    if not isinstance(value, dict):
        report.add(GLUE_KEY, None, None, "expected an object of tasks")
        return
    for task in value:
        if task not in GLUE_SIZES:
            report.add(GLUE_KEY, task, None, f"unknown task (expected {', '.join(GLUE_SIZES)})")
    for task, size in GLUE_SIZES.items():
        if f"{GLUE_KEY}/{task}" in skipped:
            continue
        if task not in value:
            report.add(GLUE_KEY, task, None, "missing task")
            continue
        labels = GLUE[task].labels

        def check_item(i: int, prediction: dict, labels=labels) -> str | None:
            pred = prediction["pred"]
            if isinstance(pred, bool) or not isinstance(pred, int):
                return f"pred is {type(pred).__name__} {pred!r:.40}, expected an integer label"
            if not 0 <= pred < labels:
                return f"pred {pred} is not a label (0..{labels - 1})"
            return None

        predictions = check_list(report, GLUE_KEY, task, value[task], size,
                                 f"{task}_{{}}".format, check_item)
        if predictions is None or len(predictions) != size:
            continue
        try:
            from classit_eval.leaderboard.items import glue_labels

            gold = glue_labels(task, data_dir)
        except MissingDataError:
            continue
        found = scores.glue_scores(task, predictions, gold)
        report.subtasks.setdefault(GLUE_KEY, {})[task] = scores.glue_score(task, found)


def check_aoa(report: Report, value: object, revisions: list[str]) -> None:
    if not isinstance(value, dict) or not isinstance(value.get("results"), list):
        report.add(AOA_KEY, None, None, 'expected {"results": [{"step": <revision>, ...}]}')
        return
    steps = Counter(_hashable(r.get("step")) if isinstance(r, dict) else None
                    for r in value["results"])
    bad = [(r.get("step") if isinstance(r, dict) else None, problem)
           for r in value["results"]
           for problem in [surprisal_problem("surprisal", r.get("surprisal"))
                           if isinstance(r, dict) else "not an object"] if problem]
    if bad:
        report.add(AOA_KEY, str(bad[0][0]), None, f"{bad[0][1]} ({len(bad)} such entries)")
    for revision in revisions:
        if steps[revision] != AOA_SIZE:
            report.add(AOA_KEY, revision, None,
                       f"{steps[revision]} surprisals, expected {AOA_SIZE}")
    for step in steps:
        if step not in revisions:
            report.add(AOA_KEY, str(step), None, "a step that is not a revision of the track")


def check_fast(report: Report, value: object, revisions: list[str], checked: set[str]) -> None:
    if not isinstance(value, dict):
        report.add(FAST_RESULTS_KEY, None, None, "expected an object of tasks")
        return
    for key in FAST_KEYS:
        if key not in checked:
            continue
        entries = value.get(key)
        if not isinstance(entries, list):
            report.add(FAST_RESULTS_KEY, key, None, "missing (a list, one entry per revision)")
            continue
        if len(entries) != len(revisions):
            report.add(FAST_RESULTS_KEY, key, None,
                       f"{len(entries)} revisions, expected {len(revisions)} "
                       f"({revisions[0]} .. {revisions[-1]})")
        wanted = fast_score_keys(FAMILIES[key])
        aliases = {WUG_FILES[key]: key} if key in WUG_FILES else {}
        if entries and all(entry is None for entry in entries):
            report.add(FAST_RESULTS_KEY, key, None, f"no scores for any of the {len(entries)} "
                                                    "revisions")
            continue
        low, what = FAST_RANGES.get(key, (0, "an accuracy"))
        for revision, entry in zip(revisions, entries, strict=False):
            if not isinstance(entry, dict):
                report.add(FAST_RESULTS_KEY, key, revision, "no scores for this revision")
                continue
            names = {aliases.get(k.lower(), k.lower()) for k in entry}
            if names != {w.lower() for w in wanted}:
                report.add(FAST_RESULTS_KEY, key, revision,
                           f"{len(entry)} subtask scores, expected {len(wanted)}")
            values = {k: number(v) for k, v in entry.items()}
            bad = [k for k, v in values.items() if v is None]
            out = [k for k, v in values.items() if v is not None and not math.isnan(v)
                   and not low <= v <= 1]
            if bad:
                report.add(FAST_RESULTS_KEY, key, revision, f"{bad[0]}: not a number")
            elif out:
                report.add(FAST_RESULTS_KEY, key, revision, f"{out[0]}: {entry[out[0]]!r:.40} "
                           f"is not {what} (in [{low}, 1])")
            elif any(v is not None and math.isnan(v) for v in values.values()):
                report.warnings.append(f"{FAST_RESULTS_KEY} / {key} / {revision}: a NaN score")


# -- the whole file -------------------------------------------------------------------------
def check(submission: object, revisions: list[str], only: set[str] | None = None,
          skip: AbstractSet[str] = frozenset(), data_dir: str | None = None) -> Report:
    """Every problem of a submission and the scores recomputed from it."""
    report = Report()
    if not isinstance(submission, dict):
        report.add("file", None, None, "not a JSON object")
        return report
    checked = set(only or SUBMISSION_KEYS) - set(skip)
    # a fast task is checked with its family: `--only wug_adj,fast_eval_results` checks the
    # fast WUG scores alone, `--only fast_eval_results` those of every fast task
    named = set(FAST_KEYS) & set(only or ())
    fast = {k for k in (named or FAST_KEYS) if k not in skip}
    checkable = (checked & set(SUBMISSION_KEYS)) - ({FAST_RESULTS_KEY} if not fast else set())
    if not checkable:
        raise OptionError(f"--only {','.join(sorted(only or ()))}"
                          f"{' --skip ' + ','.join(sorted(skip)) if skip else ''}: nothing "
                          "left to check; name submission keys (glue/<task> is for --skip).")
    try:
        check_revisions(list(revisions))
    except OptionError as err:
        report.add(FAST_RESULTS_KEY, None, None, str(err))
    incomplete = submission.get(INCOMPLETE_KEY) or []
    if not isinstance(incomplete, list):
        report.add(INCOMPLETE_KEY, None, None, "not a list (a file babylm export marked "
                   "incomplete)")
        incomplete = []
    for key in submission:
        if key not in SUBMISSION_KEYS and key not in (*MULTIMODAL_KEYS, INCOMPLETE_KEY):
            report.add(key, None, None, "unknown key")
    for entry in incomplete:
        key = entry.get("key") if isinstance(entry, dict) else None
        if key is None or _hashable(key) in checked:
            report.add(INCOMPLETE_KEY, key, None, "exported with --allow-missing; missing "
                       f"{entry.get('missing') if isinstance(entry, dict) else entry}")
    for key in sorted(checked - set(submission)):
        report.add(key, None, None, "missing key")
    for key, family in FAMILIES.items():
        if key not in checked or key not in submission:
            continue
        if key == "reading":
            check_reading(report, submission[key], load(report, key, "csv", data_dir))
        else:
            check_family(report, family, submission[key], load(report, key, "items", data_dir))
    if GLUE_KEY in checked and GLUE_KEY in submission:
        check_glue(report, submission[GLUE_KEY], set(skip), data_dir)
    if AOA_KEY in checked and AOA_KEY in submission:
        check_aoa(report, submission[AOA_KEY], revisions)
    if FAST_RESULTS_KEY in checkable and FAST_RESULTS_KEY in submission:
        check_fast(report, submission[FAST_RESULTS_KEY], revisions, fast)
    summarise(report)
    return report


def load(report: Report, key: str, what: str, data_dir: str | None):
    """A family's official items (or the reading csv); None, noted, without the data."""
    from classit_eval.leaderboard import items

    try:
        if what == "csv":
            return items.reading_csv(False, data_dir)
        return items.family_items(FAMILIES[key], False, data_dir)
    except MissingDataError:
        report.scores[key] = "not recomputed: its data is not under the data root"
        return None


# -- recomputed scores ----------------------------------------------------------------------
ROWS = {"blimp": "BLiMP", "blimp_supplement": "BLiMP supplement", "ewok": "EWoK",
        "entity_tracking": "Entity tracking", "comps": "COMPS", GLUE_KEY: "GLUE",
        "reading": "Reading (mean of the two)", "wug_adj": "WUG adj", "wug_past": "WUG past",
        AOA_KEY: "AoA"}
NLP = ("blimp", "blimp_supplement", "ewok", "entity_tracking", "comps", GLUE_KEY)
HUMAN = ("reading", "wugs", AOA_KEY)


def summarise(report: Report) -> None:
    """Task scores (x100, mean over subtasks) and the organisers' aggregates."""
    out = report.scores
    for key, values in report.subtasks.items():
        if key == "reading":
            rt, spr = values["rt"], values["spr"]
            assert rt is not None and spr is not None  # check_reading stores both or neither
            out["reading_eye_tracking"] = rt * 100
            out["reading_self_paced"] = spr * 100
            out[key] = (rt + spr) / 2 * 100
        else:
            out[key] = scores.mean([v for v in values.values() if v is not None]) * 100
    out.setdefault(AOA_KEY, "not recomputed: needs the human AoA data and the AoA fit")
    wugs = [v for k in ("wug_adj", "wug_past") if isinstance(v := out.get(k), float)]
    out["wugs"] = scores.mean(wugs) if len(wugs) == 2 else "needs wug_adj and wug_past"
    for name, parts in (("nlp", NLP), ("human_likeness", HUMAN)):
        found = [v for p in parts if isinstance(v := out.get(p), float)]
        missing = [p for p in parts if not isinstance(out.get(p), float)]
        out[name] = scores.mean(found) if not missing else f"missing {', '.join(missing)}"
    both = [v for k in ("nlp", "human_likeness") if isinstance(v := out[k], float)]
    out["macro"] = scores.mean(both) if len(both) == 2 else "needs nlp and human_likeness"


def print_report(report: Report, path: Path | str, out=None) -> None:
    out = out or sys.stdout
    for problem in report.problems:
        print(f"{path}: {problem}", file=out)
    for warning in report.warnings:
        print(f"{path}: warning: {warning}", file=out)
    print(f"{path}: {len(report.problems)} problem(s)"
          + ("" if report.problems else ", the file is valid"), file=out)
    print("\nscores recomputed from the predictions (x100; the leaderboard computes its own)",
          file=out)
    rows = [(ROWS.get(k, k), k) for k in (*NLP, "reading")]
    rows += [("  eye tracking", "reading_eye_tracking"), ("  self-paced reading",
                                                         "reading_self_paced")]
    rows += [(ROWS[k], k) for k in ("wug_adj", "wug_past")] + [("WUGs", "wugs"), ("AoA", AOA_KEY)]
    rows += [("NLP = mean(BLiMP, supplement, EWoK, entity tracking, COMPS, GLUE)", "nlp"),
             ("Human-likeness = mean(reading, WUGs, AoA)", "human_likeness"),
             ("Macro = mean(NLP, human-likeness)", "macro")]
    for label, key in rows:
        value = report.scores.get(key, "not in the file")
        if report.scores.get(f"{key}_metric") == "acc" and isinstance(value, float):
            label += " (acc: no prob)"
        shown = f"{value:8.2f}" if isinstance(value, float) else f"   {value}"
        print(f"  {label:<34} {shown}", file=out)


# -- the command ----------------------------------------------------------------------------
def keys_option(text: str) -> set[str]:
    keys = {k.strip() for k in text.split(",") if k.strip()}
    known = set(SUBMISSION_KEYS) | {f"{GLUE_KEY}/{t}" for t in GLUE_SIZES}
    bad = sorted(keys - known)
    if bad:
        raise argparse.ArgumentTypeError(f"{', '.join(bad)}: not a submission key (keys: "
                                         f"{', '.join(SUBMISSION_KEYS)}, or glue/<task>)")
    return keys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = __doc__.split("\n\n")[2]
    p.add_argument("file", type=Path, metavar="FILE", help="a submission file")
    p.add_argument("--track", default=None, choices=list(TRACKS),
                   help="the track (default: from the length of fast_eval_results)")
    p.add_argument("--revisions", default=None, metavar="REV[,REV...]", type=revision_list,
                   help="the revisions expected instead of the track's")
    p.add_argument("--only", type=keys_option, default=None, metavar="KEY[,KEY...]",
                   help="check only these keys (e.g. the tasks an official run produced)")
    p.add_argument("--skip", type=keys_option, default=set(), metavar="KEY[,KEY...]",
                   help="do not check these keys (or GLUE tasks, glue/<task>)")
    p.add_argument("--data-dir", default=None,
                   help="evaluation data root (default: $CLASSIT_DATA_DIR, then the user cache)")
    p.add_argument("--json", metavar="FILE",
                   help="write the problems and scores as JSON to FILE (- for stdout)")


def read_submission(path: Path) -> object:
    """The file's JSON (bare NaN tokens accepted, as the official tools accept them)."""
    if not path.is_file():
        raise ResultsError(f"{path}: no such file.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(f"{path}: not valid JSON ({err}).") from err


def run(args: argparse.Namespace) -> int:
    if args.json not in (None, "-"):  # checked before the work, so that it cannot fail after
        target = Path(args.json)
        if target.is_dir() or not target.parent.is_dir():
            raise ResultsError(f"--json {target}: " + ("a folder; name a file" if target.is_dir()
                               else f"no folder {target.parent}") + " (or - for stdout).")
    submission = read_submission(args.file)
    revisions = args.revisions
    if revisions is None:
        track = args.track
        if track is None and isinstance(submission, dict):
            fast = submission.get(FAST_RESULTS_KEY)
            lengths = {len(v) for v in fast.values() if isinstance(v, list)} if isinstance(
                fast, dict) else set()
            track = track_of(lengths.pop()) if len(lengths) == 1 else None
        if track is None:
            raise ResultsError(f"{args.file}: cannot tell the track from fast_eval_results; "
                               "pass --track.")
        revisions = TRACKS[track]
    report = check(submission, revisions, args.only, args.skip, args.data_dir)
    if args.json:
        record = {"problems": [str(p) for p in report.problems], "warnings": report.warnings,
                  "scores": report.scores, "subtasks": report.subtasks}
        text = json.dumps(record, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    if args.json != "-":
        print_report(report, args.file)
    return 1 if report.problems else 0

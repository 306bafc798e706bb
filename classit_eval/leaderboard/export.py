"""`classit-eval babylm export`: the official submission file from lm-eval sample logs.

    classit-eval babylm export RUN_DIR --track strict-small [--backend causal]

RUN_DIR holds one folder per revision (`chck_1M/`, ..., and `main/` for the final model)
with lm-eval results and sample logs (`--log_samples`) under it, at any depth: what
`classit-eval babylm run` writes, or `classit-eval run ... --log_samples --output_path
RUN_DIR/chck_1M` run by hand. The fine-tuning predictions are those `classit-eval finetune`
writes under `main/` (`predictions_classit_finetune_<task>_<date>.jsonl`).

The file, `all_full_preds_and_fast_scores_<backend>.json` as the official
`collate_preds.py` names it, has the official keys: the final model's predictions of every
zero-shot task, the reading task and GLUE, the AoA results when given (`--aoa`), and
`fast_eval_results`, the fast scores of every revision of the track, computed from the
fast predictions with the official formulas (leaderboard.scores; for reading, the task's own
scores, the same regression on the same surprisals, /100). Reading rows without a
previous word have `prev_pred` NaN, written as the bare token `NaN` as the official
pipeline writes it (Python's `json` reads it; a strict JSON parser needs it allowed).

Which results: those the run recorded in each task's marker (`classit_babylm_done.json`);
in a folder without one (a hand run), the one results file of the task. A revision folder
that holds a second results file of a task beside them is ambiguous, and an error naming
both: the export never picks one by date. Every input is checked as it is read: a results
file of another model or checkpoint, a task run with `--limit`, a sample log or predictions
file of the wrong length is an error naming the file. Missing parts are listed in one
error; `--allow-missing` writes the file anyway, with the key `classit_incomplete`
listing them (so `babylm check` refuses it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
from pathlib import Path

from classit_eval.data.series import FINAL, TRACKS, check_revisions, revision_list
from classit_eval.errors import ResultsError
from classit_eval.families import FAMILIES, FAST_KEYS, GLUE_SIZES, Family, fast_task
from classit_eval.leaderboard import predictions as preds
from classit_eval.leaderboard import scores
from classit_eval.leaderboard.run_folder import (
    AOA_UNIT,
    RUN_MANIFEST,
    read_json,
    read_manifest,
    read_marker,
)
from classit_eval.leaderboard.sandbox import inside
from classit_eval.leaderboard.tracks import (
    AOA_KEY,
    FAST_RESULTS_KEY,
    GLUE_KEY,
    INCOMPLETE_KEY,
)
from classit_eval.names import BACKENDS, finetune_task


def file_name(backend: str) -> str:
    """The official name of a submission file."""
    return f"all_full_preds_and_fast_scores_{backend}.json"


class Exporter:
    """Reads one run folder; `model` (a path or hub name), when known, is checked against
    every results file read."""

    def __init__(self, run_dir: Path, model: str | None, data_dir: str | None) -> None:
        self.run_dir, self.model, self.data_dir = Path(run_dir), model, data_dir
        self.missing: list[dict[str, str]] = []  # {"key": submission key, "missing": what}
        self.kept: dict[str, dict] | None = None  # fast predictions by revision, when kept
        self._items: dict = {}
        self._logs: dict[tuple[str, str], preds.TaskLog | None] = {}

    # -- inputs -----------------------------------------------------------------------
    def log(self, key: str, revision: str, task: str) -> preds.TaskLog | None:
        """The sample logs of `task` on `revision`, checked to be of that checkpoint."""
        if (revision, task) not in self._logs:
            folder = inside(self.run_dir, revision)
            path = self.results_file(revision, task, "results_*.json") if folder.is_dir() \
                else None
            log = None
            if path is not None:
                log = preds.read_log(path, read_json(path), task)
                self.check_model(log.model_args, log.results_file, revision)
            self._logs[revision, task] = log
        log = self._logs[revision, task]
        if log is None:
            self.missing.append({"key": key, "missing": f"{revision}/{task}"})
        return log

    def results_file(self, revision: str, task: str, pattern: str) -> Path | None:
        """The file of `task` on `revision` that the run recorded (its marker names it),
        else the only one in the revision folder (a hand run), else None. Another such file
        beside it makes the folder ambiguous: an error naming both. `pattern` is
        `results_*.json` (an lm-eval task, found by the group it holds) or a fine-tuning
        predictions file's."""
        folder = inside(self.run_dir, revision)
        if pattern == "results_*.json":
            found = [path for path, _ in preds.result_files(folder, task)]
        else:
            found = sorted(p for p in folder.rglob(pattern) if p.is_file())
        record = read_marker(self.run_dir, revision, task)
        if record is not None:
            name = (record["results"] if pattern == "results_*.json"
                    else record.get("samples", {}).get(task))
            if not isinstance(name, str):
                raise ResultsError(f"{self.run_dir}/{revision}/{task}: its marker names no "
                                   "file of the task; rerun the task (babylm run).")
            recorded = inside(folder, task, name)
            others = [p for p in found if p.resolve() != recorded.resolve()]
            if others:
                raise ResultsError(
                    f"{self.run_dir}/{revision}: {others[0]} also holds {task}, beside the "
                    f"run's own {recorded}; the export reads one per task and never guesses: "
                    "remove or move the other file.")
            return recorded
        if len(found) > 1:
            raise ResultsError(
                f"{self.run_dir}/{revision}: {len(found)} files hold {task} ({found[0]}, "
                f"{found[1]}) and no marker of babylm run says which is the run's; keep one "
                "(remove or move the others).")
        return found[0] if found else None

    def check_model(self, args: dict[str, str], where: Path, revision: str) -> None:
        """The results are of `revision` of this run's model (a folder's subfolder, or a
        hub model's branch), not of another model or checkpoint."""
        pretrained = args.get("pretrained")
        if pretrained is None:
            raise ResultsError(f"{where}: no pretrained= in its model arguments; cannot tell "
                               "which model it is of.")
        if self.model is None:  # the first file read names the model
            self.model = str(Path(pretrained).parent) if revision != FINAL else pretrained
        if not same_model(self.model, revision, pretrained, args.get("revision")):
            expected = self.model if revision == FINAL else f"{self.model} at {revision}"
            found = pretrained + (f" at {args['revision']}" if args.get("revision") else "")
            raise ResultsError(f"{where}: results of {found}, but {self.run_dir}/{revision} "
                               f"must hold those of {expected}; remove or move the file.")

    def items(self, family: Family, fast: bool):
        key = (family.key, fast)
        if key not in self._items:
            from classit_eval.leaderboard.items import family_items

            self._items[key] = family_items(family, fast, self.data_dir)
        return self._items[key]

    def csv(self, fast: bool):
        key = ("reading", fast)
        if key not in self._items:
            from classit_eval.leaderboard.items import reading_csv

            self._items[key] = reading_csv(fast, self.data_dir)
        return self._items[key]

    # -- the parts of the file ----------------------------------------------------------
    def family(self, family: Family, revision: str, fast: bool) -> dict | None:
        """The predictions of one family on one revision, or None (recorded as missing)."""
        task = fast_task(family) if fast else family.task
        log = self.log(family.key, revision, task)
        if log is None:
            return None
        if family.key == "reading":
            return preds.reading_predictions(log, self.csv(fast))
        return preds.zero_shot_predictions(family, log, fast, self.data_dir)

    def fast_scores(self, family: Family, revision: str) -> dict | None:
        """One revision's `fast_eval_results` entry for a family, from its predictions."""
        found = self.family(family, revision, fast=True)
        if found is None:
            return None
        if self.kept is not None:  # for the official tree (leaderboard.official_tree)
            self.kept.setdefault(revision, {})[family.key] = found
        if family.key == "reading":
            return self.reading_scores(revision, found)
        items = self.items(family, fast=True)
        if family.key in ("wug_adj", "wug_past"):
            return {k: scores.wug_rho(v["predictions"], items[k]) for k, v in found.items()}
        return {k: scores.accuracy(v["predictions"], items[k]) for k, v in found.items()}

    def reading_scores(self, revision: str, found: dict) -> dict[str, float]:
        """`{"spr", "rt"}` of one revision: the reading task's own scores when its results
        have them (the same regression on the same surprisals, x100), else refitted."""
        log = self._logs.get((revision, fast_task(FAMILIES["reading"])))
        metrics = (log.results.get("results") or {}).get(log.group) if log else None
        metrics = metrics if isinstance(metrics, dict) else {}
        rt, spr = metrics.get("eye_tracking,none"), metrics.get("self_paced_reading,none")
        if isinstance(rt, float) and isinstance(spr, float) and math.isfinite(rt + spr):
            return {"spr": spr / 100, "rt": rt / 100}
        return scores.reading_scores(found["reading"]["predictions"], self.csv(True))

    def glue(self, task: str) -> dict | None:
        name = finetune_task(task)
        prefix = f"predictions_{name}_"
        path = (self.results_file(FINAL, name, f"{prefix}*.jsonl")
                if inside(self.run_dir, FINAL).is_dir() else None)
        if path is None:
            self.missing.append({"key": GLUE_KEY, "missing": f"{FINAL}/{name}"})
            return None
        # its results file: of the same date (classit-eval finetune writes them together)
        results = path.with_name(f"results_{path.stem.removeprefix(prefix)}.json")
        if results.is_file():
            args = preds.TaskLog(name, results, read_json(results), {}).model_args
            self.check_model(args, results, FINAL)
        return preds.glue_predictions(task, path)


def fast_results(exporter: Exporter, revisions: list[str]) -> dict[str, list]:
    """`fast_eval_results`: per fast task, one entry per revision (None where missing)."""
    return {key: [exporter.fast_scores(FAMILIES[key], revision) for revision in revisions]
            for key in FAST_KEYS}


def same_model(model: str, revision: str, pretrained: str, hub_revision: str | None) -> bool:
    """Whether `pretrained` (at `hub_revision`) is `revision` of `model`."""
    folder = Path(model).expanduser()
    if folder.is_dir() or Path(pretrained).is_dir():
        wanted = folder if revision == FINAL else folder / revision
        return Path(pretrained).expanduser().resolve() == wanted.resolve()
    if revision == FINAL:
        return pretrained == model and hub_revision in (None, "main")
    return pretrained == model and hub_revision == revision


def export(run_dir: Path, track: str, revisions: list[str] | None = None,
           allow_missing: bool = False, data_dir: str | None = None,
           glue_tasks: list[str] | None = None, aoa: Path | None = None,
           model: str | None = None, keep_fast: dict | None = None) -> dict:
    """The submission of a run folder, as a dict in the official key structure; the fast
    predictions are put in `keep_fast` (`{revision: {key: predictions}}`) when given."""
    manifest = read_manifest(run_dir)
    exporter = Exporter(run_dir, model or manifest.get("model"), data_dir)
    exporter.kept = keep_fast
    revisions = check_revisions(revisions or TRACKS[track])
    submission: dict = {}
    for family in FAMILIES.values():
        found = exporter.family(family, FINAL, fast=False)
        if found is not None:  # a missing part is left out, and listed below
            submission[family.key] = found
    glue = [exporter.glue(task) for task in glue_tasks or GLUE_SIZES]
    if any(glue):
        submission[GLUE_KEY] = {k: v for found in glue if found for k, v in found.items()}
    aoa = aoa or run_aoa(Path(run_dir))
    if aoa is not None:
        submission[AOA_KEY] = read_aoa(aoa)
    else:
        exporter.missing.append({"key": AOA_KEY, "missing": "the AoA results (`babylm run` "
                                 "runs them with 4 or more checkpoints; or run `classit-eval "
                                 "aoa` and pass its surprisal.json with --aoa)"})
    submission[FAST_RESULTS_KEY] = fast_results(exporter, revisions)
    if exporter.missing:
        if not allow_missing:
            absent = [r for r in [*revisions, FINAL] if not (Path(run_dir) / r).is_dir()]
            names = [m["missing"] for m in exporter.missing
                     if m["missing"].split("/")[0] not in absent]
            what = f"no results for revision(s) {', '.join(absent)}; " if absent else ""
            raise ResultsError(
                f"{run_dir}: {len(exporter.missing)} parts of the submission are missing: "
                f"{what}{shorten(names)}. Run them (classit-eval babylm run), or pass "
                "--allow-missing to write a file marked incomplete.")
        submission[INCOMPLETE_KEY] = exporter.missing
    return submission


def shorten(names: list[str], limit: int = 12) -> str:
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def run_aoa(run_dir: Path) -> Path | None:
    """The surprisal.json of the run's finished AoA task (`babylm run`), or None."""
    record = read_marker(run_dir, *AOA_UNIT)
    return run_dir.joinpath(*AOA_UNIT, record["samples"][AOA_KEY]) if record else None


def read_aoa(path: Path) -> dict:
    """The official AoA `surprisal.json` (`{"results": [{"step": <revision>, ...}]}`)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ResultsError(f"{path}: not a readable JSON file ({err}).") from err
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ResultsError(f"{path}: not the official AoA surprisal.json "
                           '({"results": [{"step": ...}, ...]}).')
    return data


def write(submission: dict, path: Path) -> Path:
    """Write the file as the official pipeline does: compact JSON, NaN as `NaN`; whole or
    not at all (no temporary file is left, whatever stops it)."""
    if path.is_dir():
        raise ResultsError(f"--output {path}: a folder; name the file to write.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(submission, handle, allow_nan=True)
        tmp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def export_and_check(run_dir: Path, track: str, backend: str, revisions: list[str] | None,
                     allow_missing: bool, data_dir: str | None, glue_tasks: list[str] | None,
                     aoa: Path | None = None, output: Path | None = None,
                     model: str | None = None, official_tree: Path | None = None) -> Path:
    """Export, write (and the official results tree, when asked), then check the file and
    print the check's report."""
    from classit_eval.leaderboard import check

    kept: dict[str, dict[str, dict]] | None = {} if official_tree else None
    submission = export(run_dir, track, revisions, allow_missing, data_dir, glue_tasks, aoa,
                        model, kept)
    path = write(submission, Path(output or Path(run_dir) / file_name(backend)))
    print(f"wrote {path}")
    if official_tree and kept is not None:
        from classit_eval.leaderboard.official_tree import write_tree

        name = model or read_manifest(run_dir).get("model")
        if not name:
            raise ResultsError(f"{run_dir} has no {RUN_MANIFEST}: pass --model (its name or "
                               "path names the tree's model folder).")
        files = write_tree(official_tree, name, backend, submission, kept)
        print(f"wrote the official results tree: {len(files)} files under {official_tree}")
    report = check.check(submission, revisions or TRACKS[track], data_dir=data_dir)
    check.print_report(report, path)
    return path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = __doc__.split("\n\n")[2]
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                   help="one folder per revision (chck_*/, main/) of lm-eval results")
    p.add_argument("--track", default=None, choices=list(TRACKS),
                   help="decides the revisions (default: the run's, from RUN_DIR)")
    p.add_argument("--backend", default=None, choices=BACKENDS,
                   help="the official backend name in the file name (default: the run's)")
    p.add_argument("--revisions", default=None, metavar="REV[,REV...]", type=revision_list,
                   help="the revisions instead of the track's (default: the run's)")
    p.add_argument("--model", default=None,
                   help="the model the results must be of (default: the run's)")
    p.add_argument("--aoa", type=Path, default=None, metavar="SURPRISAL_JSON",
                   help="the official AoA results (surprisal.json of every revision)")
    p.add_argument("--output", type=Path, default=None,
                   help="the file to write (default: RUN_DIR/all_full_preds_and_fast_scores_"
                        "<backend>.json)")
    p.add_argument("--allow-missing", action="store_true",
                   help="write the file even with parts missing, marked incomplete")
    p.add_argument("--official-tree", type=Path, default=None, metavar="DIR",
                   help="also write the official pipeline's results folder under DIR "
                        "(DIR/<model stem>/<revision>/..., what collate_preds.py reads)")
    p.add_argument("--data-dir", default=None,
                   help="evaluation data root (default: $CLASSIT_DATA_DIR, then the user cache)")


def run(args: argparse.Namespace) -> int:
    if not args.run_dir.is_dir():
        raise ResultsError(f"{args.run_dir}: no such folder (the --output-dir of babylm run).")
    if args.output is not None and args.output.is_dir():
        raise ResultsError(f"--output {args.output}: a folder; name the file to write (e.g. "
                           f"{args.output / file_name(args.backend or 'causal')}).")
    if args.official_tree and args.official_tree.exists() and not args.official_tree.is_dir():
        raise ResultsError(f"--official-tree {args.official_tree}: a file, not a folder; "
                           "name a folder (it is created if missing).")
    manifest = read_manifest(args.run_dir)
    track = args.track or manifest.get("track")
    if track is None:
        raise ResultsError(f"{args.run_dir} has no {RUN_MANIFEST}: pass --track.")
    backend = args.backend or manifest.get("backend") or "causal"
    revisions = args.revisions or (manifest.get("revisions") if not args.track else None)
    export_and_check(args.run_dir, track, backend, revisions, args.allow_missing,
                     args.data_dir, manifest.get("glue_tasks"), args.aoa, args.output, args.model,
                     args.official_tree)
    return 0


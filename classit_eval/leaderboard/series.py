"""`classit-eval babylm run`: evaluate a model and its checkpoint series for a submission.

    classit-eval babylm run --model OUT --track strict-small --output-dir runs/mine

What runs: the fast zero-shot suite on every checkpoint the track requires (`chck_1M`, ...),
the full suite and the reading task on the final model, the (Super)GLUE fine-tuning of
the final model (`classit-eval finetune`), and the AoA task over the checkpoints
(`classit-eval aoa`, into `OUT/aoa/classit_aoa/`); then the submission file is exported
and checked. Checkpoints are the `chck_*` subfolders `classit-eval train pretrain` writes, or
the branches (revisions) of a hub model. A missing checkpoint stops the run before anything
is evaluated, naming every missing one; `--allow-missing` evaluates the others and marks
the submission incomplete.

Resumable: each finished (revision, task) leaves a marker `OUT/<revision>/<task>/`
`classit_babylm_done.json` (written last, atomically); a rerun skips those, and a task cut
off by a kill is redone from the start. The run folder is a sandbox (leaderboard.sandbox):
names are checked, links refused, and a redone task removes only the files the package
recorded writing there. Efficient: the tasks are built and their texts
tokenised once per run (leaderboard.lm.SeriesLM), and each checkpoint only loads its
weights and runs the forward passes. Its tokenizer is checked first: a checkpoint whose
tokenizer differs gets a model of its own.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import logging
import os
import shlex
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from classit_eval import options
from classit_eval.data.files import write_atomically
from classit_eval.errors import MissingDataError, OptionError, ResultsError
from classit_eval.leaderboard import sandbox
from classit_eval.leaderboard.sandbox import inside
from classit_eval.leaderboard.tracks import (
    AOA_KEY,
    FAMILIES,
    FAST_KEYS,
    FINAL,
    GLUE_KEY,
    GLUE_SIZES,
    OFFICIAL_BACKENDS,
    TRACKS,
    check_revisions,
    fast_task,
    revision_list,
)
from classit_eval.names import finetune_task

log = logging.getLogger(__name__)
MANIFEST = "classit_babylm.json"
DONE = "classit_babylm_done.json"
AOA_UNIT = ("aoa", "classit_aoa")  # OUT/aoa/classit_aoa/: the AoA task over the series
# official backend name -> the lm-eval model that scores it: the `classit` model scores
# every official backend (its model argument `backend`)
BACKENDS = dict.fromkeys(OFFICIAL_BACKENDS, "classit")
SCORING = ("babylm2025", "full")
RESERVED_ARGS = ("pretrained", "revision", "backend", "scoring", "device", "batch_size")
# classit-eval finetune options that babylm run sets itself: where the model, the task, the
# results and the checkpoints are (another value would write elsewhere, or mix tasks)
RESERVED_FINETUNE = ("model", "tasks", "output_path", "data_dir", "checkpoint_dir")
# what a resumed run must share with the run that began the folder (absent in a manifest of
# an older version: its default)
IDENTITY_DEFAULTS: dict[str, object] = {"finetune_args": []}


# -- checkpoints ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Checkpoint:
    """One model to evaluate: a revision name and where its weights are."""

    revision: str  # chck_1M, or FINAL
    pretrained: str  # a folder, or a hub name
    hub_revision: str | None = None  # the branch of a hub model

    def model_args(self) -> dict[str, str]:
        args = {"pretrained": self.pretrained}
        if self.hub_revision:
            args["revision"] = self.hub_revision
        return args


def find_checkpoints(model: str, revisions: list[str]) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints of `model` for `revisions` (subfolders of a local model, branches of
    a hub one), and the revisions not found."""
    folder = Path(model).expanduser()
    if folder.is_dir():
        found = [Checkpoint(r, str(folder / r)) for r in revisions
                 if (folder / r / "config.json").is_file()]
    else:
        branches = hub_branches(model, revisions)
        found = [Checkpoint(r, model, r) for r in revisions if r in branches]
    names = {c.revision for c in found}
    return found, [r for r in revisions if r not in names]


def hub_branches(model: str, wanted: list[str]) -> set[str]:
    """The branches of a hub model; offline, those of `wanted` in the local cache."""
    from huggingface_hub import HfApi, try_to_load_from_cache

    try:
        return {ref.name for ref in HfApi().list_repo_refs(model).branches}
    except Exception:  # offline, or no such repository: look in the cache
        return {r for r in wanted
                if isinstance(try_to_load_from_cache(model, "config.json", revision=r), str)}


def final_checkpoint(model: str) -> Checkpoint:
    """The final model: the folder itself, or the hub model's default branch."""
    folder = Path(model).expanduser()
    return Checkpoint(FINAL, str(folder) if folder.is_dir() else model)


# -- what runs ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Unit:
    """One lm-eval task (or group) run as a whole on one checkpoint, and its key."""

    task: str  # e.g. classit_blimp_fast
    key: str  # the submission key it feeds, e.g. blimp


@dataclass
class Plan:
    fast: list[Unit] = field(default_factory=list)  # on every revision
    full: list[Unit] = field(default_factory=list)  # on the final model
    glue: list[str] = field(default_factory=list)  # fine-tuned on the final model
    aoa: bool = False  # the AoA task over the checkpoints
    skipped: dict[str, str] = field(default_factory=dict)  # key -> why


def make_plan(keys: list[str], glue_tasks: list[str], data_dir: str | None,
              explicit: bool) -> Plan:
    """The units of the chosen submission keys whose task and data exist. A key whose task
    or data is missing is skipped with the reason, or, when the user named it, an error."""
    from classit_eval.lmeval.plugin import task_manager

    known = set(task_manager(classit_only=True).all_tasks)
    plan = Plan()
    for key in keys:
        if key == GLUE_KEY:
            plan.glue = list(glue_tasks)
            continue
        if key == AOA_KEY:
            plan.aoa = True  # its data and checkpoints are checked by run_series
            continue
        family = FAMILIES[key]
        why = missing_reason(family, known, data_dir)
        if why:
            if explicit:
                raise MissingDataError(f"--tasks {key}: {why}.")
            plan.skipped[key] = why
            continue
        if key in FAST_KEYS:
            plan.fast.append(Unit(fast_task(family), key))
        plan.full.append(Unit(family.task, key))
    return plan


def aoa_missing_reason(checkpoints: list[Checkpoint], data_dir: str | None) -> str | None:
    """Why the AoA task cannot run on this series (too few checkpoints, no data), or None."""
    from classit_eval.aoa.fit import MIN_CHECKPOINTS
    from classit_eval.aoa.words import TASK, WORDS_FILE
    from classit_eval.data.files import find_file

    if len(checkpoints) < MIN_CHECKPOINTS:
        return (f"{len(checkpoints)} checkpoint(s); a learning curve needs at least "
                f"{MIN_CHECKPOINTS} (a sigmoid has four parameters)")
    try:
        find_file(WORDS_FILE, data_dir, task=TASK)
    except MissingDataError:
        return f"its data ({WORDS_FILE}) is not under the evaluation data root"
    return None


def missing_reason(family, known: set[str], data_dir: str | None) -> str | None:
    """Why a family cannot run here (no task, no data), or None."""
    from classit_eval.data.files import find_files
    from classit_eval.reading.dataset import find_csv

    if family.task not in known:
        return f"no lm-eval task {family.task} in this package yet"
    try:
        if family.key == "reading":
            find_csv(data_dir)
        else:
            find_files(family.full, data_dir, task=family.task)
            if family.fast:
                find_files(family.fast, data_dir, task=family.task)
    except MissingDataError:
        return f"its data ({family.full}) is not under the evaluation data root"
    return None


# -- markers and the manifest ---------------------------------------------------------------
def marker(out: Path, revision: str, task: str) -> Path:
    return inside(out, revision, task, DONE)


def read_marker(out: Path, revision: str, task: str) -> dict | None:
    """The record of a finished (revision, task), or None when it must (re)run."""
    path = marker(out, revision, task)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("samples", {}), dict):
        return None
    files = [record.get("results"), *record.get("samples", {}).values()]
    try:
        return record if all(isinstance(f, str) and inside(path.parent, f).is_file()
                             for f in files) else None
    except ResultsError:  # a recorded path that leaves the folder: not this package's
        return None


def unit_folder(out: Path, revision: str, task: str) -> Path:
    """`OUT/<revision>/<task>/`, emptied of the files an unfinished run of it wrote (its
    ledger's), every other file left in place."""
    folder = inside(out, revision, task)
    sandbox.clear(folder)
    return folder


def write_json_atomically(path: Path, record: dict) -> None:
    """Write `path` whole or not at all: a kill leaves the old file or none."""
    write_atomically(path, json.dumps(record, indent=2, default=str) + "\n")


def open_manifest(out: Path, identity: dict, settings: dict, run_id: str) -> dict:
    """Create or update `OUT/classit_babylm.json`; a folder of another model (or backend,
    scoring, model or fine-tuning arguments: `identity`) is an error, so that two models'
    or settings' results never mix in one submission."""
    path = inside(out, MANIFEST)
    manifest = {}
    if path.is_file():
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ResultsError(f"{path}: not a readable run manifest ({err}); choose "
                               "another --output-dir.") from err
        if not isinstance(manifest, dict):
            raise ResultsError(f"{path}: not a run manifest (a JSON object); choose another "
                               "--output-dir.")
        theirs = {k: manifest.get(k, IDENTITY_DEFAULTS.get(k)) for k in identity}
        if theirs != identity:
            diff = ", ".join(f"{k}={theirs[k]!r} here, {identity[k]!r} asked"
                             for k in identity if theirs[k] != identity[k])
            raise ResultsError(
                f"{out} holds the results of another run ({diff}); choose another "
                "--output-dir, or run the same model with the same settings.")
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    manifest = {**manifest, **identity, **settings,
                "runs": [*manifest.get("runs", []), {"run_id": run_id, "started": started}]}
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, manifest)
    return manifest


# -- evaluation -----------------------------------------------------------------------------
def reuse_requests(task) -> None:
    """Make an lm-eval task build its requests once: later evaluations reuse the same
    instances with their responses cleared (the documents and texts do not change)."""
    build = task.build_all_requests
    built: list = []

    def build_once(**kwargs) -> None:
        if not built:
            build(**kwargs)
            built.extend(task._instances)
            return
        for instance in built:
            instance.resps, instance.filtered_resps = [], {}
        task._instances = list(built)

    task.build_all_requests = build_once


class Session:
    """The model and the loaded tasks of one run."""

    def __init__(self, settings: argparse.Namespace, out: Path, run_id: str) -> None:
        from classit_eval.lmeval.plugin import task_manager

        self.settings, self.out, self.run_id = settings, out, run_id
        metadata = {"reading_bootstrap": settings.reading_bootstrap,
                    "reading_convention": "babylm2025" if settings.scoring == "babylm2025"
                    else "running"}
        if getattr(settings, "model", None):  # as lm-eval's CLI passes model arguments: the
            metadata["pretrained"] = settings.model  # token-count null reads its tokenizer
        if settings.data_dir:
            metadata["data_dir"] = str(settings.data_dir)
        self.tasks = task_manager(classit_only=True, metadata=metadata)
        self.loaded: dict[str, dict] = {}
        self.lm = None
        self.current: Checkpoint | None = None  # the checkpoint whose weights `lm` holds

    def unit_tasks(self, unit: Unit) -> dict:
        """The loaded lm-eval tasks of a unit, loaded (and their requests built) once."""
        if unit.task not in self.loaded:
            loaded = self.tasks.load([unit.task])
            for task in loaded["tasks"].values():
                reuse_requests(task)
            self.loaded[unit.task] = loaded
        return self.loaded[unit.task]

    def model_args(self, checkpoint: Checkpoint) -> dict:
        s = self.settings
        return {**checkpoint.model_args(), "backend": s.backend, "scoring": s.scoring,
                **s.model_args, "device": s.device, "batch_size": s.batch_size}

    def lm_for(self, checkpoint: Checkpoint):
        """The model, moved to `checkpoint`: its weights swapped in when its tokenizer is
        the current one's, else a new model (its texts are tokenised anew). A backend
        without `load_weights` gets a new model for every checkpoint."""
        from classit_eval.data.checkpoints import load_tokenizer
        from classit_eval.leaderboard.lm import fingerprint

        if self.lm is not None and hasattr(self.lm, "load_weights"):
            tokenizer = load_tokenizer(checkpoint.pretrained, revision=checkpoint.hub_revision)
            if fingerprint(tokenizer) == self.lm.fingerprint:
                self.lm.load_weights(checkpoint.pretrained, checkpoint.hub_revision)
                return self.lm
            log.warning("%s: its tokenizer differs from the previous checkpoint's; its texts "
                        "are tokenised anew.", checkpoint.revision)
        args = {k: v for k, v in self.model_args(checkpoint).items() if v is not None}
        self.lm = new_lm(self.settings.backend, args)
        return self.lm

    def evaluate(self, checkpoint: Checkpoint, unit: Unit) -> dict:
        """Run one unit on one checkpoint; write lm-eval's results and sample logs, then
        the marker. Returns the marker's record."""
        from lm_eval.evaluator import evaluate
        from lm_eval.loggers import EvaluationTracker
        from lm_eval.loggers.utils import add_tokenizer_info

        folder = unit_folder(self.out, checkpoint.revision, unit.task)
        lm = self.lm_for(checkpoint) if self.lm is None or self.current != checkpoint else self.lm
        self.current = checkpoint
        start = time.time()
        results = evaluate(lm, self.unit_tasks(unit), log_samples=True,
                           bootstrap_iters=self.settings.bootstrap_iters)
        samples = results.pop("samples")
        model_args = self.model_args(checkpoint)
        results["config"] = {
            "model": BACKENDS[self.settings.backend],
            "model_args": ",".join(f"{k}={v}" for k, v in model_args.items() if v is not None),
            "batch_size": self.settings.batch_size, "device": self.settings.device,
            "limit": None, "bootstrap_iters": self.settings.bootstrap_iters,
        }
        results["date"] = start
        results.update(env_info())
        add_tokenizer_info(results, lm)
        tracker = EvaluationTracker(output_path=str(folder))
        tracker.general_config_tracker.log_experiment_args(
            model_source=BACKENDS[self.settings.backend], model_args=results["config"]
            ["model_args"], system_instruction=None, chat_template=None,
            fewshot_as_multiturn=False)
        sub = str(tracker.general_config_tracker.model_name_sanitized)
        # lm-eval names its files as it writes them: recorded as pending until then
        sandbox.record(folder, [DONE], [sandbox.expect(folder, sub, ["results_*.json",
                                                                     "samples_*.jsonl"])])
        tracker.save_results_aggregated(results=results, samples=samples)
        for task in results["configs"]:
            tracker.save_results_samples(task_name=task, samples=samples[task])
        results_file = f"{sub}/results_{tracker.date_id}.json"
        if not inside(folder, results_file).is_file():  # lm-eval logs a failed save only
            raise ResultsError(f"lm-eval could not write {folder / results_file}: check that "
                               f"{folder} is writable.")
        sample_files = {task: f"{sub}/samples_{task}_{tracker.date_id}.jsonl"
                        for task in results["configs"]}
        record = {
            "revision": checkpoint.revision, "task": unit.task, "key": unit.key,
            "model_args": model_args, "run_id": self.run_id,
            "results": results_file, "samples": sample_files,
            "scores": summary(results, unit.task), "seconds": round(time.time() - start, 2),
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        return finish(folder, record)

    def finetune(self, checkpoint: Checkpoint, task: str) -> dict:
        """Fine-tune the final model on one GLUE task with classit-finetune; the marker
        names its predictions file."""
        from classit_eval.finetune import cli as finetune_cli
        from classit_eval.finetune.results import model_folder

        name = finetune_task(task)
        folder = unit_folder(self.out, checkpoint.revision, name)
        start = time.time()
        args = finetune_args(self.settings, checkpoint.pretrained, task, folder)
        sub = model_folder("", checkpoint.pretrained).name
        pattern = f"predictions_{name}_*.jsonl"
        sandbox.record(folder, [DONE], [sandbox.expect(folder, sub, ["results_*.json",
                                                                     pattern])])
        finetune_cli.run(args)
        written = sandbox.own_files(folder)
        results = newest(p for p in written if p.match("results_*.json"))
        predictions = newest(p for p in written if p.match(pattern))
        scores = json.loads(results.read_text(encoding="utf-8"))["results"][name]
        record = {
            "revision": checkpoint.revision, "task": name, "key": GLUE_KEY,
            "model_args": checkpoint.model_args(), "run_id": self.run_id,
            "results": results.relative_to(folder).as_posix(),
            "samples": {name: predictions.relative_to(folder).as_posix()},
            "scores": {k.split(",")[0]: v for k, v in scores.items()
                       if k.endswith(",none") and "_stderr" not in k},
            "seconds": round(time.time() - start, 2),
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        return finish(folder, record)

    def aoa(self, checkpoints: list[Checkpoint]) -> dict:
        """The AoA task over the checkpoints (classit-eval aoa, in the run's scoring mode);
        the marker names its results file and the official surprisal.json."""
        from classit_eval.aoa import cli as aoa_cli

        folder = unit_folder(self.out, *AOA_UNIT)
        sandbox.record(folder, [aoa_cli.SURPRISAL_FILE, aoa_cli.WORDS_FILE,
                                aoa_cli.RESULTS_FILE, aoa_cli.PLOT_FILE, DONE],
                       [sandbox.expect(folder, "", ["*.tmp*"])])
        s, start = self.settings, time.time()
        argv = ["--model", s.model, "--output-dir", str(folder),
                "--revisions", ",".join(c.revision for c in checkpoints),
                "--mode", s.scoring, "--batch-size", str(s.batch_size)]
        argv += ["--device", s.device] if s.device else []
        argv += ["--data-dir", str(s.data_dir)] if s.data_dir else []
        if s.model_args.get("dtype") in ("float32", "float64"):
            argv += ["--dtype", s.model_args["dtype"]]
        parser = options.Parser(prog=f"{s.prog} aoa")
        aoa_cli.add_arguments(parser)
        args = parser.parse_args(argv)
        args.prog = parser.prog
        aoa_cli.run(args)
        results = json.loads((folder / aoa_cli.RESULTS_FILE).read_text(encoding="utf-8"))
        record = {
            "revision": AOA_UNIT[0], "task": AOA_UNIT[1], "key": AOA_KEY,
            "revisions": [c.revision for c in checkpoints], "run_id": self.run_id,
            "results": aoa_cli.RESULTS_FILE, "samples": {AOA_KEY: aoa_cli.SURPRISAL_FILE},
            "scores": summary(results, AOA_UNIT[1]), "seconds": round(time.time() - start, 2),
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        return finish(folder, record)


def finish(folder: Path, record: dict) -> dict:
    """Settle the unit's ledger on the files its record names, then write the marker."""
    sandbox.settle(folder, [record["results"], *record["samples"].values(), DONE,
                            f"{DONE}.tmp{os.getpid()}"])
    write_json_atomically(inside(folder, DONE), record)
    return record


def newest(paths) -> Path:
    found = sorted(paths, key=lambda p: p.stat().st_mtime)
    if not found:
        raise ResultsError("classit-eval finetune ended without writing its results.")
    return found[-1]


def new_lm(backend: str, args: dict):
    """A model for `backend`: the reusable `classit` model (leaderboard.lm.SeriesLM) for
    the causal backend, else the lm-eval model registered under BACKENDS[backend]."""
    name = BACKENDS[backend]
    if name == "classit":
        from classit_eval.leaderboard.lm import SeriesLM

        return SeriesLM(**args)
    from lm_eval.api.registry import get_model

    return get_model(name).create_from_arg_obj(args)


def summary(results: dict, task: str) -> dict[str, float]:
    """The unit's own metrics (`acc`, `spearman`, reading scores), without stderrs."""
    metrics = (results.get("results") or {}).get(task) or {}
    return {k.split(",")[0]: v for k, v in metrics.items()
            if "," in k and "_stderr" not in k and isinstance(v, (int, float))}


_ENV: dict = {}


def env_info() -> dict:
    """lm-eval's environment fields, collected once per process (they take seconds)."""
    if not _ENV:
        from lm_eval.loggers.utils import add_env_info

        add_env_info(_ENV)
    return _ENV


def finetune_parser(prog: str) -> options.Parser:
    from classit_eval.finetune import cli as finetune_cli

    parser = options.Parser(prog=f"{prog} --finetune-args")
    finetune_cli.add_arguments(parser)
    return parser


def finetune_args(settings: argparse.Namespace, model: str, task: str,
                  folder: Path) -> argparse.Namespace:
    argv = ["--model", model, "--tasks", task, "--output_path", str(folder),
            *settings.finetune_args]
    if settings.data_dir:
        argv += ["--data-dir", str(settings.data_dir)]
    return finetune_parser(settings.prog).parse_args(argv)


# -- the run --------------------------------------------------------------------------------
def run_series(settings: argparse.Namespace) -> dict[str, list[str]]:
    """Evaluate what the plan needs and is not done yet. Returns what ran and what was
    skipped, as `{"ran": [...], "skipped": [...]}` of `revision/task` names."""
    out = Path(settings.output_dir)
    revisions = check_revisions(settings.revisions or TRACKS[settings.track])
    for revision in [*revisions, FINAL, AOA_UNIT[0]]:  # a linked revision folder: at once
        inside(out, revision)
    checkpoints, missing = find_checkpoints(settings.model, revisions)
    if missing and not settings.allow_missing:
        raise ResultsError(
            f"{settings.model}: {len(missing)} of the {len(revisions)} checkpoints of track "
            f"{settings.track} are missing: {', '.join(missing)}. Save them (classit-eval "
            "train pretrain saves chck_* folders at BabyLM's word counts), or pass "
            "--allow-missing to evaluate the others and mark the submission incomplete.")
    explicit = settings.tasks is not None
    keys = settings.tasks or [*FAMILIES, GLUE_KEY, AOA_KEY]
    plan = make_plan(keys, settings.glue_tasks, settings.data_dir, explicit)
    why = aoa_missing_reason(checkpoints, settings.data_dir) if plan.aoa else None
    if why:
        if explicit:
            raise MissingDataError(f"--tasks {AOA_KEY}: {why}.")
        plan.aoa, plan.skipped[AOA_KEY] = False, why
    for key, why in plan.skipped.items():
        print(f"{key}: skipped, {why}")
    final = final_checkpoint(settings.model)
    run_id = uuid.uuid4().hex[:12]
    identity = {"model": model_identity(settings.model), "backend": settings.backend,
                "scoring": settings.scoring, "model_args": settings.model_args,
                "finetune_args": settings.finetune_args}
    session = Session(settings, out, run_id)
    done: dict[str, list[str]] = {"ran": [], "skipped": []}
    # (revision, task, run it): the fast tasks on every checkpoint, the full ones and the
    # fine-tuning on the final model
    work = [(c.revision, u.task, functools.partial(session.evaluate, c, u))
            for c in checkpoints for u in plan.fast]
    work += [(final.revision, u.task, functools.partial(session.evaluate, final, u))
             for u in plan.full]
    work += [(final.revision, finetune_task(t), functools.partial(session.finetune, final, t))
             for t in plan.glue]
    if plan.aoa:
        work.append((*AOA_UNIT, functools.partial(session.aoa, checkpoints)))
    for revision, task, _ in work:  # a link or a bad name stops the run before any work
        inside(out, revision, task)
    open_manifest(out, identity, {"track": settings.track, "revisions": revisions,
                                  "final": FINAL, "missing": missing,
                                  "glue_tasks": plan.glue}, run_id)
    for revision, task, run_unit in work:
        name = f"{revision}/{task}"
        if read_marker(out, revision, task):
            done["skipped"].append(name)
            print(f"{name}: done before, skipped")
            continue
        record = run_unit()
        done["ran"].append(name)
        print(f"{name}: {format_scores(record['scores'])} ({record['seconds']:.1f} s)")
    return done


def model_identity(model: str) -> str:
    """A local model as its absolute path, a hub model by its name."""
    folder = Path(model).expanduser()
    return str(folder.resolve()) if folder.is_dir() else model


def format_scores(scores: dict[str, float]) -> str:
    shown = [f"{k}={v:.4f}" for k, v in scores.items() if not k.startswith(("acc_numops", "RT"))]
    return ", ".join(shown[:4]) or "no scores"


# -- the command ----------------------------------------------------------------------------
def model_arguments(text: str) -> dict[str, str]:
    """`--model-args dtype=float32,max_length=2048`: extra `classit` model arguments."""
    pairs = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"{part!r}: write KEY=VALUE")
        if key in RESERVED_ARGS:
            raise argparse.ArgumentTypeError(f"{key} is set by its own option, not here")
        pairs[key] = value
    return pairs


def task_keys(text: str) -> list[str]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    known = [*FAMILIES, GLUE_KEY, AOA_KEY]
    bad = [k for k in keys if k not in known]
    if bad or not keys:
        raise argparse.ArgumentTypeError(f"{', '.join(bad) or 'nothing'}: choose among "
                                         f"{', '.join(known)}")
    return keys


def glue_task(name: str) -> str:
    if name not in GLUE_SIZES:
        raise ValueError(f"{name!r} is not a GLUE task of the submission "
                         f"({', '.join(GLUE_SIZES)})")
    return name


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = __doc__.split("\n\n")[2]
    p.add_argument("--model", required=True,
                   help="the final model: a folder holding chck_* checkpoint folders (as "
                        "classit-eval train pretrain writes), or a hub name with chck_* branches")
    p.add_argument("--track", required=True, choices=list(TRACKS),
                   help="decides the checkpoints required (strict-small: 19, others: 28)")
    p.add_argument("--output-dir", required=True, type=Path,
                   help="results, sample logs and progress markers; rerun to resume")
    p.add_argument("--backend", default="causal", choices=list(BACKENDS),
                   help="the official backend name (the submission file carries it)")
    p.add_argument("--scoring", default="babylm2025", choices=SCORING,
                   help="the classit model's scoring (babylm2025: the official numbers)")
    p.add_argument("--model-args", type=model_arguments, default={}, metavar="K=V[,K=V]",
                   help="more classit model arguments, e.g. dtype=float32")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if any)")
    p.add_argument("--batch-size", type=options.positive_int, default=32)
    p.add_argument("--revisions", type=revision_list, default=None,
                   metavar="REV[,REV...]",
                   help="evaluate these checkpoints instead of the track's (for models trained "
                        "on fewer words; the submission is then not the track's)")
    p.add_argument("--allow-missing", action="store_true",
                   help="evaluate the checkpoints that exist; the submission is marked incomplete")
    p.add_argument("--tasks", type=task_keys, default=None, metavar="KEY[,KEY...]",
                   help="only these submission keys (default: every key whose task and data "
                        "exist)")
    p.add_argument("--glue-tasks", type=options.comma_list(glue_task),
                   default=list(GLUE_SIZES), metavar="TASK[,TASK...]",
                   help="GLUE tasks to fine-tune (default: all seven)")
    p.add_argument("--finetune-args", type=shlex.split, default=[], metavar="'ARGS'",
                   help="options passed to classit-eval finetune, e.g. '--epochs 3'")
    p.add_argument("--reading-bootstrap", type=options.non_negative_int, default=0,
                   metavar="N", help="resamples of the reading scores' intervals (default 0)")
    p.add_argument("--bootstrap-iters", type=options.non_negative_int, default=100000,
                   help="lm-eval's stderr bootstrap iterations")
    p.add_argument("--data-dir", default=None,
                   help="evaluation data root (default: $CLASSIT_DATA_DIR, then the user cache)")
    p.add_argument("--no-export", dest="export", action="store_false",
                   help="do not write the submission file at the end")


def check_finetune_args(args: list[str], prog: str) -> None:
    """Refuse the finetune options babylm run sets itself (RESERVED_FINETUNE), then parse
    the rest now, not after hours of evaluation."""
    parser = finetune_parser(prog)
    reserved = {option: action.dest for action in parser._actions
                for option in action.option_strings if action.dest in RESERVED_FINETUNE}
    for arg in args:
        option = arg.split("=", 1)[0]
        if option in reserved:
            raise OptionError(
                f"--finetune-args: {option} is set by babylm run itself (the final model, each "
                "--glue-tasks task, and a folder inside --output-dir); use --glue-tasks or "
                "--data-dir of babylm run instead, or leave it out.")
    parser.parse_args(["--model", "MODEL", "--tasks", "rte", "--output_path", "OUT", *args])


def run(args: argparse.Namespace) -> int:
    out = Path(args.output_dir)
    if out.exists() and not out.is_dir():
        raise ResultsError(f"--output-dir {out}: a file, not a folder; name a folder (new or a "
                           "run's) for the results.")
    if args.finetune_args:
        check_finetune_args(args.finetune_args, args.prog)
    try:
        run_series(args)
        if args.export:
            from classit_eval.leaderboard import export

            export.export_and_check(out, track=args.track, backend=args.backend,
                                    revisions=args.revisions, allow_missing=args.allow_missing,
                                    data_dir=args.data_dir, glue_tasks=args.glue_tasks)
    except KeyboardInterrupt:
        print(f"{args.prog}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


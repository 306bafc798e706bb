"""The runner of `classit-eval babylm run`: a session evaluates the plan's units on the
checkpoints, and calls the fine-tuning and AoA jobs' functions for theirs.

Resumable: each finished (revision, task) leaves a marker (`leaderboard.run_folder`); a
rerun skips those, and a task cut off by a kill is redone from the start. Efficient: the
tasks are built and their texts tokenised once per run (leaderboard.lm.SeriesLM), and each
checkpoint only loads its weights and runs the forward passes. Its tokenizer is checked
first: a checkpoint whose tokenizer differs gets a model of its own. The command line is
`leaderboard.run`.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import logging
import time
import uuid
from pathlib import Path

from classit_eval import options
from classit_eval.data.series import (
    FINAL,
    TRACKS,
    Checkpoint,
    check_revisions,
    final_checkpoint,
    find_checkpoints,
)
from classit_eval.errors import MissingDataError, ResultsError
from classit_eval.families import FAMILIES
from classit_eval.leaderboard import sandbox
from classit_eval.leaderboard.plan import Unit, aoa_missing_reason, make_plan
from classit_eval.leaderboard.run_folder import (
    AOA_UNIT,
    DONE,
    finish,
    model_identity,
    open_manifest,
    read_marker,
    unit_folder,
)
from classit_eval.leaderboard.sandbox import inside
from classit_eval.leaderboard.tracks import AOA_KEY, GLUE_KEY
from classit_eval.lmeval.results import env_info
from classit_eval.names import BACKENDS, finetune_task

log = logging.getLogger(__name__)
# official backend name -> the lm-eval model that scores it: the `classit` model scores
# every official backend (its model argument `backend`)
LM_OF_BACKEND = dict.fromkeys(BACKENDS, "classit")
# classit-eval finetune options that babylm run sets itself: where the model, the task, the
# results and the checkpoints are (another value would write elsewhere, or mix tasks)
RESERVED_FINETUNE = ("model", "tasks", "output_path", "data_dir", "checkpoint_dir")


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
        from classit_eval.data.checkpoints import fingerprint, load_tokenizer

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
            "model": LM_OF_BACKEND[self.settings.backend],
            "model_args": ",".join(f"{k}={v}" for k, v in model_args.items() if v is not None),
            "batch_size": self.settings.batch_size, "device": self.settings.device,
            "limit": None, "bootstrap_iters": self.settings.bootstrap_iters,
        }
        results["date"] = start
        results.update(env_info())
        add_tokenizer_info(results, lm)
        tracker = EvaluationTracker(output_path=str(folder))
        tracker.general_config_tracker.log_experiment_args(
            model_source=LM_OF_BACKEND[self.settings.backend], model_args=results["config"]
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
        """Fine-tune the final model on one GLUE task (the finetune job's `run_finetune`,
        with the run's --finetune-args); the marker names its predictions file."""
        from classit_eval.finetune.cli import run_finetune
        from classit_eval.finetune.results import model_folder
        from classit_eval.finetune.tasks import get_task

        name = finetune_task(task)
        folder = unit_folder(self.out, checkpoint.revision, name)
        start = time.time()
        settings = finetune_options(self.settings.finetune_args, self.settings.prog)
        settings.model, settings.tasks = checkpoint.pretrained, [get_task(task)]
        settings.output_path = folder
        settings.data_dir = str(self.settings.data_dir) if self.settings.data_dir else None
        sub = model_folder("", checkpoint.pretrained).name
        sandbox.record(folder, [DONE], [sandbox.expect(
            folder, sub, ["results_*.json", f"predictions_{name}_*.jsonl"])])
        written = run_finetune(settings)
        if len(written) != 1:
            raise ResultsError(f"classit-eval finetune wrote {len(written)} results for {name}, "
                               "not one.")
        done = written[0]
        record = {
            "revision": checkpoint.revision, "task": name, "key": GLUE_KEY,
            "model_args": checkpoint.model_args(), "run_id": self.run_id,
            "results": done.results.relative_to(folder).as_posix(),
            "samples": {name: done.predictions.relative_to(folder).as_posix()},
            "scores": done.metrics,
            "seconds": round(time.time() - start, 2),
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        return finish(folder, record)

    def aoa(self, checkpoints: list[Checkpoint]) -> dict:
        """The AoA task over the checkpoints (the aoa job's `run_aoa`, in the run's scoring
        mode); the marker names its results file and the official surprisal.json."""
        from classit_eval.aoa.cli import (
            PLOT_FILE,
            RESULTS_FILE,
            SURPRISAL_FILE,
            WORDS_FILE,
            AoaSettings,
            run_aoa,
        )

        folder = unit_folder(self.out, *AOA_UNIT)
        sandbox.record(folder, [SURPRISAL_FILE, WORDS_FILE, RESULTS_FILE, PLOT_FILE, DONE],
                       [sandbox.expect(folder, "", ["*.tmp*"])])
        s, start = self.settings, time.time()
        dtype = s.model_args.get("dtype")
        done = run_aoa(AoaSettings(
            model=s.model, output_dir=folder, revisions=[c.revision for c in checkpoints],
            mode=s.scoring, batch_size=s.batch_size, device=s.device or None,
            data_dir=str(s.data_dir) if s.data_dir else None,
            dtype=dtype if dtype in ("float32", "float64") else AoaSettings.dtype,
            prog=f"{s.prog} aoa"))
        record = {
            "revision": AOA_UNIT[0], "task": AOA_UNIT[1], "key": AOA_KEY,
            "revisions": [c.revision for c in checkpoints], "run_id": self.run_id,
            "results": done.files["results"], "samples": {AOA_KEY: done.files["surprisal"]},
            "scores": summary(done.document, AOA_UNIT[1]),
            "seconds": round(time.time() - start, 2),
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        return finish(folder, record)


def new_lm(backend: str, args: dict):
    """A model for `backend`: the reusable `classit` model (leaderboard.lm.SeriesLM) for
    the causal backend, else the lm-eval model registered under LM_OF_BACKEND[backend]."""
    name = LM_OF_BACKEND[backend]
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


def finetune_parser(prog: str) -> options.Parser:
    """The finetune job's own parser, for the options `--finetune-args` passes it."""
    from classit_eval.finetune import cli as finetune_cli

    parser = options.Parser(prog=f"{prog} --finetune-args")
    finetune_cli.add_arguments(parser)
    return parser


def finetune_options(finetune_args: list[str], prog: str) -> argparse.Namespace:
    """`--finetune-args` as the finetune job's options, checked by its parser; the fields
    babylm run sets itself (RESERVED_FINETUNE) are placeholders here."""
    return finetune_parser(prog).parse_args(
        ["--model", "MODEL", "--tasks", "rte", "--output_path", "OUT", *finetune_args])


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


def format_scores(scores: dict[str, float]) -> str:
    shown = [f"{k}={v:.4f}" for k, v in scores.items() if not k.startswith(("acc_numops", "RT"))]
    return ", ".join(shown[:4]) or "no scores"

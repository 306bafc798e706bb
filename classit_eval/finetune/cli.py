"""`classit-eval finetune` (alias `classit-finetune`): fine-tune a model on (Super)GLUE tasks.

Every task's data is read, and the model's config loaded, before anything is trained: a
missing or bad file stops the run with one error naming it, and no results are written; so
does a model with code of its own (GPT-BERT) without `--trust_remote_code`.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from classit_eval import options
from classit_eval.data.checkpoints import config_dict, remote_code
from classit_eval.data.files import DataError, MissingDataError
from classit_eval.errors import ModelLoadError, OptionError
from classit_eval.finetune import results
from classit_eval.finetune.tasks import (
    TASKS,
    Example,
    Task,
    get_task,
    load_split,
    multirc_from_superglue,
)
from classit_eval.finetune.train import (
    Settings,
    check_resume,
    finetune,
    resume_record,
    train_size,
)
from classit_eval.options import add_options

log = logging.getLogger("classit_eval.finetune")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Fine-tune a (Baby)LM on the BabyLM 2025 (Super)GLUE tasks and write "
                     "lm-eval results. Defaults are the official BabyLM 2025 fine-tuning.")
    p.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    p.add_argument("--model", required=True, help="HF model id or local checkpoint folder")
    p.add_argument("--tasks", type=options.comma_list(get_task), default=",".join(TASKS),
                   metavar="TASK[,TASK...]", help="comma-separated tasks")
    p.add_argument("--output_path", default="results", type=options.output_dir,
                   help="results go to OUTPUT_PATH/<model>/ (lm-eval's option name)")
    p.add_argument("--data-dir", default=None,
                   help="evaluation data root (default: $CLASSIT_DATA_DIR, then the user cache)")
    p.add_argument("--checkpoint-dir", default=None, type=options.output_dir,
                   help="per-epoch checkpoints (default: OUTPUT_PATH/<model>/checkpoints)")
    p.add_argument("--resume", action="store_true",
                   help="continue each task from its last checkpoint")
    p.add_argument("--trust_remote_code", "--trust-remote-code", action="store_true",
                   help="run the model's own code (GPT-BERT and other auto_map models), as "
                        "the official pipeline always does")
    p.add_argument("--multirc-train-from", type=options.existing_file, default=None,
                   metavar="SUPERGLUE_TRAIN_JSONL",
                   help="train MultiRC on the original SuperGLUE MultiRC/train.jsonl (unfiltered)")
    add_options(p.add_argument_group("hyper-parameters"), Settings)


def load(task: Task, args: argparse.Namespace) -> tuple[list[Example], list[Example]]:
    if task.name == "multirc" and args.multirc_train_from:
        train = multirc_from_superglue(args.multirc_train_from)
    else:
        train = load_split(task, "train", args.data_dir)
    return train, load_split(task, "valid", args.data_dir)


def load_all(tasks: list[Task], args: argparse.Namespace) -> dict[str, tuple]:
    """Every task's train and valid examples; one error naming every file that is missing
    or bad, so that nothing is trained (and no result written) from incomplete input."""
    data, errors = {}, []
    for task in tasks:
        try:
            data[task.name] = load(task, args)
        except (MissingDataError, DataError) as err:
            errors.append(err)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        missing = all(isinstance(e, MissingDataError) for e in errors)
        kind = MissingDataError if missing else DataError
        raise kind(f"{len(errors)} tasks cannot run, so none was trained: "
                   + " | ".join(str(e) for e in errors))
    return data


def check_model(model: str, trust_remote_code: bool = False) -> None:
    """Load the model's config now, not after the first task has trained; a model with code
    of its own needs --trust_remote_code (transformers would fail, or ask on a terminal)."""
    from transformers import AutoConfig

    try:
        why = remote_code(config_dict(model))
    except ModelLoadError as err:
        raise ModelLoadError(f"--model {model}: {err}") from err
    if why and not trust_remote_code:
        raise OptionError(f"--model {model} runs its own code ({why}); pass "
                          "--trust_remote_code if you trust it.")
    try:
        AutoConfig.from_pretrained(model, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"--model {model}: cannot load its config ({err})") from err


@dataclass(frozen=True)
class TaskResult:
    """One fine-tuned task as written: its lm-eval name, results and predictions files, and
    its validation metrics (those of the results file)."""

    task: str
    results: Path
    predictions: Path
    metrics: dict[str, float]


def run(args: argparse.Namespace) -> int:
    run_finetune(args)
    return 0


def run_finetune(args: argparse.Namespace) -> list[TaskResult]:
    """Fine-tune on each task of `args` (the options of `add_arguments`) and write its
    results; return what was written (nothing on the processes other than the main one)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    tasks = list({task.name: task for task in args.tasks}.values())  # each task once
    settings = options.settings_from(Settings, args, trust_remote_code=args.trust_remote_code)
    folder = results.model_folder(args.output_path, args.model)
    checkpoints = Path(args.checkpoint_dir or folder / "checkpoints")
    data = load_all(tasks, args)
    check_model(args.model, args.trust_remote_code)
    if args.resume:  # every task now, not after the first ones have trained
        for task in tasks:
            s = settings.for_task(task)
            check_resume(task, checkpoints / task.name,
                         resume_record(args.model, s, train_size(data[task.name][0], s)))
    written = []
    for task in tasks:
        train, valid = data[task.name]
        start = time.time()
        done = finetune(args.model, task, train, valid, settings, checkpoints / task.name,
                        args.resume)
        if done.main_process:
            paths = results.write(args.output_path, args.model, task, valid, done, start)
            shown = ", ".join(f"{k}={v:.4f}" for k, v in done.metrics.items())
            log.info("%s: %s (best epoch %s) -> %s", task.lm_eval_name, shown, done.best_epoch,
                     paths[0])
            written.append(TaskResult(task.lm_eval_name, *paths, dict(done.metrics)))
    return written

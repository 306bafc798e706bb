"""`classit-finetune` / `classit-eval finetune`: fine-tune a model on (Super)GLUE tasks."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from classit_eval.data.files import DataError, MissingDataError
from classit_eval.finetune import results
from classit_eval.finetune.classifier import POOLINGS
from classit_eval.finetune.tasks import (
    TASKS,
    Example,
    Task,
    get_task,
    load_split,
    multirc_from_superglue,
)
from classit_eval.finetune.train import Settings, finetune

log = logging.getLogger("classit_eval.finetune")


def parser() -> argparse.ArgumentParser:
    d = Settings()
    p = argparse.ArgumentParser(
        prog="classit-finetune",
        description="Fine-tune a (Baby)LM on the BabyLM 2025 (Super)GLUE tasks and write "
                    "lm-eval results. Defaults are the official BabyLM 2025 fine-tuning.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", required=True, help="HF model id or local checkpoint folder")
    p.add_argument("--tasks", default=",".join(TASKS), help="comma-separated tasks")
    p.add_argument("--output_path", "--output-path", default="results",
                   help="results go to OUTPUT_PATH/<model>/")
    p.add_argument("--data-dir", "--data_dir", default=None,
                   help="evaluation data root (default: $CLASSIT_DATA_DIR, then the user cache)")
    p.add_argument("--checkpoint-dir", default=None,
                   help="per-epoch checkpoints (default: OUTPUT_PATH/<model>/checkpoints)")
    p.add_argument("--resume", action="store_true",
                   help="continue each task from its last checkpoint")
    p.add_argument("--multirc-train-from", default=None, metavar="SUPERGLUE_TRAIN_JSONL",
                   help="train MultiRC on the original SuperGLUE MultiRC/train.jsonl (unfiltered)")
    h = p.add_argument_group("hyper-parameters")
    h.add_argument("--learning-rate", "--lr", type=float, default=d.learning_rate)
    h.add_argument("--weight-decay", type=float, default=d.weight_decay)
    h.add_argument("--batch-size", type=int, default=None,
                   help="train batch size per device (default: 16 boolq/multirc, 32 others)")
    h.add_argument("--eval-batch-size", type=int, default=d.eval_batch_size)
    h.add_argument("--epochs", type=float, default=None, help="default: 30 wsc, 10 others")
    h.add_argument("--max-length", type=int, default=d.max_length)
    h.add_argument("--seed", type=int, default=d.seed)
    h.add_argument("--warmup-ratio", type=float, default=d.warmup_ratio)
    h.add_argument("--min-lr-ratio", type=float, default=d.min_lr_ratio,
                   help="the cosine schedule ends at this fraction of the learning rate")
    h.add_argument("--dropout", type=float, default=d.dropout, help="classifier head dropout")
    h.add_argument("--pooling", choices=POOLINGS, default=d.pooling,
                   help="token read by the head: auto = first for encoders, last for decoders")
    h.add_argument("--valid-metric", choices=("acc", "f1", "mcc"), default=None,
                   help="metric choosing the best epoch (default: f1 mrpc/qqp, acc others)")
    h.add_argument("--max-train-examples", type=int, default=None,
                   help="train on the first N examples only (quick runs)")
    h.add_argument("--no-group-by-length", dest="group_by_length", action="store_false",
                   help="random batches instead of length-grouped ones")
    return p


def parse_tasks(p: argparse.ArgumentParser, text: str) -> list[Task]:
    try:
        return [get_task(name) for name in text.split(",") if name.strip()]
    except ValueError as err:
        p.error(f"--tasks: {err}")


def load(task: Task, args: argparse.Namespace) -> tuple[list[Example], list[Example]]:
    if task.name == "multirc" and args.multirc_train_from:
        train = multirc_from_superglue(args.multirc_train_from)
    else:
        train = load_split(task, "train", args.data_dir)
    return train, load_split(task, "valid", args.data_dir)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    p = parser()
    args = p.parse_args(argv)
    tasks = parse_tasks(p, args.tasks)
    keys = Settings.__dataclass_fields__
    settings = Settings(**{k: v for k, v in vars(args).items() if k in keys})
    checkpoints = args.checkpoint_dir or results.model_folder(args.output_path, args.model) / "checkpoints"

    data, failed = {}, []
    for task in tasks:
        try:
            data[task.name] = load(task, args)
        except (MissingDataError, DataError) as err:
            log.error("%s skipped: %s", task.name, err)
            failed.append(task.name)
    for task in tasks:
        if task.name not in data:
            continue
        train, valid = data[task.name]
        start = time.time()
        run = finetune(
            args.model, task, train, valid, settings, Path(checkpoints) / task.name, args.resume
        )
        if run.main_process:
            paths = results.write(args.output_path, args.model, task, valid, run, start)
            shown = ", ".join(f"{k}={v:.4f}" for k, v in run.metrics.items())
            log.info("%s: %s (best epoch %s) -> %s", task.lm_eval_name, shown, run.best_epoch,
                     paths[0])
    if failed:
        log.error("Not run: %s (see the errors above).", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

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
recorded writing there. This module is the command (its options, their checks); the
runner is `leaderboard.series`, what runs `leaderboard.plan`, the folder's layout
`leaderboard.run_folder`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from classit_eval import options
from classit_eval.data.series import TRACKS, revision_list
from classit_eval.errors import OptionError, ResultsError
from classit_eval.families import FAMILIES, GLUE_SIZES
from classit_eval.leaderboard.series import (
    LM_OF_BACKEND,
    RESERVED_FINETUNE,
    finetune_options,
    finetune_parser,
    run_series,
)
from classit_eval.leaderboard.tracks import AOA_KEY, GLUE_KEY
from classit_eval.names import SCORING_MODES

RESERVED_ARGS = ("pretrained", "revision", "backend", "scoring", "device", "batch_size")


def model_arguments(text: str) -> dict[str, str]:
    """`--model-args dtype=float32,max_length=2048`: extra `classit` model arguments."""
    pairs = options.key_values(text)
    for key in pairs:
        if key in RESERVED_ARGS:
            raise argparse.ArgumentTypeError(f"{key} is set by its own option, not here")
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
    p.add_argument("--backend", default="causal", choices=list(LM_OF_BACKEND),
                   help="the official backend name (the submission file carries it)")
    p.add_argument("--scoring", default="babylm2025", choices=SCORING_MODES,
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
    finetune_options(args, prog)


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

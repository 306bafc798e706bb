"""The `classit-eval` command: one entry point, one subcommand per job.

Every job is a module with `add_arguments(parser)` and `run(args) -> int | None` (`args.prog`
is the command's name, for its messages); a job with steps (`train`, `babylm`) has a table
of such modules instead, here too: this is the only module that knows the jobs, and no job
imports it (tests/test_imports.py checks it). The parser is built lazily: only the module of
the job on the command line is imported, so `classit-eval --help` imports nothing heavy.
`classit-zscore`, `classit-finetune` and `classit-train` are aliases of
`classit-eval zscore|finetune|train` (`zscore_main`, `finetune_main`, `train_main`).

One error policy, here only: a `UserError` (bad input the user can fix) prints one line,
`<prog>: error: <message>`, and exits with status 2; a bad option does the same through
`options.Parser`. `--debug` (right after `classit-eval` or the alias, or among a job's
options) re-raises instead, to show the traceback. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NamedTuple

from classit_eval.errors import UserError
from classit_eval.options import Parser, one_line

PROG = "classit-eval"


class Job(NamedTuple):
    """A subcommand: the module that implements it and its one-line help; or, for a job of
    several steps, the table of its steps (one subcommand each)."""

    module: str
    help: str
    passthrough: bool = False  # its arguments go to another program, unparsed
    steps: dict[str, Job] | None = None


TRAIN_STEPS: dict[str, Job] = {
    "tokenizer": Job("classit_eval.train.tokenizer", "train a byte-level BPE tokenizer"),
    "pretrain": Job("classit_eval.train.pretrain", "pretrain a LLaMA config on text files"),
    "instructions": Job("classit_eval.train.instructions",
                        "make instruction pairs from Switchboard or Simple Wikipedia"),
    "instruct": Job("classit_eval.train.instruct", "instruction-tune a checkpoint (curricula)"),
}
# `babylm run` evaluates and ends with `export` and `check`
BABYLM_STEPS: dict[str, Job] = {
    "run": Job("classit_eval.leaderboard.run",
               "evaluate a model and its checkpoints for the submission (resumable)"),
    "export": Job("classit_eval.leaderboard.export",
                  "write the official submission file from a run folder"),
    "check": Job("classit_eval.leaderboard.check",
                 "validate a submission file and recompute its scores"),
    "curves": Job("classit_eval.leaderboard.curves",
                  "plot the fast scores against words seen, one line per model"),
}
JOBS: dict[str, Job] = {
    "run": Job("classit_eval.lmeval.run",
               "lm_eval run, with this package's tasks and `classit` model", passthrough=True),
    "download-data": Job("classit_eval.data.download",
                         "fetch and verify the BabyLM 2025 evaluation data"),
    "reading-score": Job("classit_eval.reading.cli",
                         "score reading-time surprisals from a file"),
    "finetune": Job("classit_eval.finetune.cli",
                    "(Super)GLUE fine-tuning with lm-eval results (alias classit-finetune)"),
    "zscore": Job("classit_eval.compare.cli",
                  "compare models by per-task z-scores (alias classit-zscore)"),
    "train": Job("classit_eval.train",
                 "train the CLASS-IT models, one step at a time (alias classit-train)",
                 steps=TRAIN_STEPS),
    "babylm": Job("classit_eval.leaderboard",
                  "the BabyLM 2025 submission: run, export, check, learning curves",
                  steps=BABYLM_STEPS),
    "aoa": Job("classit_eval.aoa.cli",
               "word age of acquisition over a checkpoint series (BabyLM 2025 AoA)"),
    "surprisal": Job("classit_eval.surprisal.cli",
                     "per-word or per-token surprisal of your own texts (CSV, TSV, JSONL)"),
    "smollm2": Job("classit_eval.data.smollm2",
                   "print the folder of a cached SmolLM2-135M checkpoint"),
}
DEBUG_HELP = "show the traceback of an error instead of its one-line message"


def first_positional(argv: list[str]) -> str | None:
    """The first argument that is not an option: the job (or step) name, if any.

    Before the job name only flags are accepted (`--debug`, `--help`), so this is it."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def add_choices(parser: argparse.ArgumentParser, jobs: dict[str, Job], argv: list[str],
                what: str) -> None:
    """A subcommand per job; only the one named in `argv` gets its arguments (and imports)."""
    chosen = first_positional(argv)
    subcommands = parser.add_subparsers(metavar=f"<{what}>", title=f"{what}s", required=True,
                                        dest=f"_{what}")
    for name, job in jobs.items():
        sub = subcommands.add_parser(
            name, help=job.help, description=job.help, add_help=not job.passthrough,
            # a passthrough job's `--model ...` must not be read as options (argparse would
            # refuse them): it declares no option, so no argument starts one
            prefix_chars="\0" if job.passthrough else "-",
        )
        if name == chosen:
            rest = argv[argv.index(name) + 1:]
            add_job(sub, job, rest)


def add_job(parser: argparse.ArgumentParser, job: Job, argv: list[str]) -> None:
    """Give `parser` the arguments of `job`; `argv` is what follows the job's name."""
    if not job.passthrough:
        parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                            help=DEBUG_HELP)
    if job.steps is not None:
        add_choices(parser, job.steps, argv, "step")
        return
    module = importlib.import_module(job.module)
    module.add_arguments(parser)
    parser.set_defaults(_run=module.run, _parser=parser, prog=parser.prog)


def build_parser(argv: list[str], job: str | None = None, prog: str = PROG) -> Parser:
    """The parser for `argv`: of every job, or (for an alias) of `job` alone."""
    if job is not None:
        parser = Parser(prog=prog)
        add_job(parser, JOBS[job], argv)
        parser.set_defaults(debug=False)  # add_job's --debug leaves it unset
        return parser
    parser = Parser(
        prog=prog,
        description="BabyLM 2025 / CLASS-IT evaluation. `classit-eval <job> --help` "
                    "describes a job. A user error prints one line and exits with status 2.",
    )
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    add_choices(parser, JOBS, argv, "job")
    return parser


def main(argv: list[str] | None = None, job: str | None = None, prog: str = PROG) -> int:
    """Run `classit-eval ARGV` (or, for an alias, the job `job` with `ARGV` under `prog`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv, job, prog)
    if job is None and not argv:
        parser.print_help()
        return 0
    args, unknown = parser.parse_known_args(argv)
    job_parser = getattr(args, "_parser", parser)
    if unknown:  # reported by the job's parser, so that the message names the job
        job_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args._run(args) or 0
    except UserError as err:
        if args.debug:
            raise
        print(f"{job_parser.prog}: error: {one_line(err)}", file=sys.stderr)
        return 2


def zscore_main(argv: list[str] | None = None) -> int:
    """`classit-zscore ARGV`, the same as `classit-eval zscore ARGV`."""
    return main(argv, job="zscore", prog="classit-zscore")


def finetune_main(argv: list[str] | None = None) -> int:
    """`classit-finetune ARGV`, the same as `classit-eval finetune ARGV` (also run by
    `python -m classit_eval.finetune`, e.g. under torchrun)."""
    return main(argv, job="finetune", prog="classit-finetune")


def train_main(argv: list[str] | None = None) -> int:
    """`classit-train ARGV`, the same as `classit-eval train ARGV`."""
    return main(argv, job="train", prog="classit-train")


if __name__ == "__main__":
    sys.exit(main())

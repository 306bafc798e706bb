"""`classit-eval run`: lm-eval's `run` with this package's tasks and model registered.

It takes exactly the arguments of `lm_eval run` (`classit-eval run --help` prints lm-eval's
help). Compared with the stock CLI it (1) registers the `classit` model backend and (2) in
an editable install, where lm-eval's own task index cannot see `tasks/`, adds that folder as
`--include_path`. lm-eval parses and checks its own arguments, with its own messages.
"""

from __future__ import annotations

import argparse
import sys

from classit_eval.errors import OptionError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("lm_eval_args", nargs=argparse.REMAINDER, metavar="LM_EVAL_ARGS",
                        help="the arguments of `lm_eval run`, passed on as they are")


def run(args: argparse.Namespace) -> int:
    argv = list(args.lm_eval_args)
    import classit_eval.lmeval.backend  # noqa: F401  (registers the `classit` model)
    from classit_eval.lmeval.plugin import include_path

    extra = include_path()
    if extra and any(a == "--include_path" or a.startswith("--include_path=") for a in argv):
        raise OptionError(
            "--include_path is taken: in this editable install the classit tasks need it "
            f"({extra}). Install the package with `pip install .`, or copy your tasks next "
            "to the classit ones."
        )
    if extra:
        argv += ["--include_path", extra]

    from lm_eval.__main__ import cli_evaluate

    saved = sys.argv
    sys.argv = ["lm-eval", "run", *argv]
    try:
        cli_evaluate()
    finally:
        sys.argv = saved
    return 0


def main(argv: list[str] | None = None) -> int:
    """`classit-eval run ARGV`."""
    from classit_eval import cli

    return cli.main(["run", *(sys.argv[1:] if argv is None else argv)])

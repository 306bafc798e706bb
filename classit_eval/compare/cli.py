"""`classit-zscore DIR [DIR...]`: compare models and curricula by per-task z-scores.

Reads every lm-eval results JSON under the folders, keeps each model's latest score per
task (primary metrics: `classit_eval.compare.registry`), z-scores every task across the
models (or against `--reference` models) and summarises each model's z-scores for the
fine-tuning tasks, the zero-shot tasks and all tasks. See docs/zscore.md.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings

from classit_eval.compare import CompareError, CompareWarning
from classit_eval.compare.load import NAME_FROM, load, training_labels
from classit_eval.compare.report import to_csv, to_json, to_markdown, to_text, write, write_json

PROG = "classit-zscore"


def parse_metric(text: str) -> tuple[str, str]:
    task, sep, metric = text.partition("=")
    if not (sep and task and metric):
        raise argparse.ArgumentTypeError(f"{text!r}: write TASK=METRIC, e.g. arc_easy=acc_norm")
    return task, metric


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dirs", nargs="+", metavar="DIR",
                   help="folders of lm-eval results (<model>/results_<timestamp>.json)")
    p.add_argument("--name-from", choices=NAME_FROM, default="folder",
                   help="model name: the results folder's name (default), lm-eval's model_name "
                        "(`model`), or its last path part (`checkpoint`)")
    p.add_argument("--models", metavar="REGEX", help="compare only models whose name matches")
    p.add_argument("--metric", action="append", type=parse_metric, default=[],
                   metavar="TASK=METRIC", help="add a task (or override its primary metric)")
    p.add_argument("--reference", action="append", default=[], metavar="MODEL",
                   help="z-score against these models' mean and std (repeat, 2 or more)")
    p.add_argument("--group-by", metavar="REGEX",
                   help="group models by a named group of their name, e.g. "
                        "'_(?P<curriculum>merged|switch_wiki|wiki_switch)$'; adds group "
                        "summaries and paired tests between groups")
    p.add_argument("--group-by-field", metavar="KEY",
                   help="group models by a field of their checkpoint's classit_train.json "
                        "(written by classit-train), e.g. curriculum or model_size")
    p.add_argument("--compare", nargs=2, action="append", default=[], metavar=("A", "B"),
                   help="paired Wilcoxon test of two models or groups over tasks (repeat)")
    for fmt in ("json", "csv", "markdown"):
        p.add_argument(f"--{fmt}", metavar="FILE", help=f"write {fmt.upper()} to FILE (- for stdout)")
    p.add_argument("--plot", metavar="FILE", help="write the boxplot figure (.png, .svg, .pdf)")
    return p


def run(args: argparse.Namespace) -> None:
    from classit_eval.compare.stats import compare

    results = load(args.dirs, args.name_from, dict(args.metric))
    scores = results.scores()
    if args.models:
        try:
            scores = scores[scores.index.str.contains(args.models, regex=True)]
        except re.error as err:
            raise CompareError(f"--models {args.models!r}: not a regular expression ({err}).") from err
    families = {name: col.family for name, col in results.columns.items()}
    if args.group_by and args.group_by_field:
        raise CompareError("Give --group-by or --group-by-field, not both.")
    labels = (training_labels(results, list(scores.index), args.group_by_field)
              if args.group_by_field else None)
    cmp = compare(scores, families, args.reference, args.group_by,
                  [tuple(p) for p in args.compare], labels)
    if args.json:
        write_json(to_json(cmp, results.columns, results.files), args.json)
    if args.csv:
        write(to_csv(cmp).to_csv(), args.csv)
    if args.markdown:
        write(to_markdown(cmp), args.markdown)
    if args.plot:
        from classit_eval.compare.plot import plot

        plot(cmp, args.plot)
    if "-" not in (args.json, args.csv, args.markdown):
        print(to_text(cmp))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    with warnings.catch_warnings():
        default_show = warnings.showwarning

        def show(message, category, *rest) -> None:
            if issubclass(category, CompareWarning):
                print(f"{PROG}: warning: {message}", file=sys.stderr)
            else:
                default_show(message, category, *rest)

        warnings.showwarning = show
        warnings.simplefilter("always", CompareWarning)
        try:
            run(args)
        except CompareError as err:
            print(f"{PROG}: error: {err}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
from pathlib import Path
from typing import TextIO

from classit_eval import options
from classit_eval.compare import CompareError, CompareWarning
from classit_eval.compare.load import NAME_FROM, guess_model_name, load, training_labels
from classit_eval.compare.report import to_csv, to_json, to_markdown, to_text, write, write_json


def parse_metric(text: str) -> tuple[str, str]:
    task, sep, metric = text.partition("=")
    if not (sep and task and metric):
        raise argparse.ArgumentTypeError(f"{text!r}: write TASK=METRIC, e.g. arc_easy=acc_norm")
    return task, metric


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = __doc__.split("\n\n")[1]
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("dirs", nargs="+", metavar="DIR",
                   help="folders of lm-eval results (<model>/results_<timestamp>.json), or "
                        "results files")
    p.add_argument("--name-from", choices=NAME_FROM, default="folder",
                   help="model name: the results folder's name (default), lm-eval's model_name "
                        "(`model`), or its last path part (`checkpoint`)")
    p.add_argument("--models", metavar="REGEX", type=options.regex,
                   help="compare only models whose name matches")
    p.add_argument("--metric", action="append", type=parse_metric, default=[],
                   metavar="TASK=METRIC", help="add a task (or override its primary metric)")
    p.add_argument("--reference", action="append", default=[], metavar="MODEL",
                   help="z-score against these models' mean and std (repeat, 2 or more)")
    p.add_argument("--group-by", metavar="REGEX", type=options.regex,
                   help="group models by a named group of their name, e.g. "
                        "'_(?P<curriculum>merged|switch_wiki|wiki_switch)$'; adds group "
                        "summaries and paired tests between groups")
    p.add_argument("--group-by-field", metavar="KEY",
                   help="group models by a field of their checkpoint's classit_train.json "
                        "(written by classit-train), e.g. curriculum or model_size")
    p.add_argument("--compare", nargs=2, action="append", default=[], metavar=("A", "B"),
                   help="paired Wilcoxon test of two models or groups over tasks (repeat)")
    for fmt in ("json", "csv", "markdown"):
        p.add_argument(f"--{fmt}", metavar="FILE", type=options.output_file,
                       help=f"write {fmt.upper()} to FILE (- for stdout)")
    p.add_argument("--plot", metavar="FILE", type=options.output_file,
                   help="write the boxplot figure (.png, .svg, .pdf)")


def run(args: argparse.Namespace) -> int:
    """Compare, each of the package's warnings printed as one `<prog>: warning:` line."""
    with warnings.catch_warnings():
        default_show = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: TextIO | None = None, line: str | None = None) -> None:
            if issubclass(category, CompareWarning):
                print(f"{args.prog}: warning: {options.one_line(message)}", file=sys.stderr)
            else:
                default_show(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        warnings.simplefilter("always", CompareWarning)
        compare_and_report(args)
    return 0


def compare_and_report(args: argparse.Namespace) -> None:
    from classit_eval.compare.plot import check_target, plot
    from classit_eval.compare.stats import compare

    if args.group_by and args.group_by_field:
        raise CompareError("Give --group-by or --group-by-field, not both.")
    if args.plot:  # now, not after the other outputs are written
        check_target(args.plot)
    results = load(args.dirs, args.name_from, dict(args.metric))
    check_unreadable(args, results.unreadable)
    scores = results.scores()
    if args.models:
        scores = scores[scores.index.str.contains(args.models, regex=True)]
    families = {name: col.family for name, col in results.columns.items()}
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
        plot(cmp, args.plot)
    if "-" not in (args.json, args.csv, args.markdown):
        print(to_text(cmp))
    if results.unreadable:  # last, where it is seen: each file was also warned about above
        names = ", ".join(map(str, results.unreadable))
        warnings.warn(f"could not read {len(results.unreadable)} file(s), left out of the "
                      f"comparison: {names}.", CompareWarning, stacklevel=1)


def check_unreadable(args: argparse.Namespace, unreadable: list[Path]) -> None:
    """Refuse to compare without a file the user asked for by name or by model.

    A broken file named on the command line, or one in the folder of a model that
    --models, --reference or --compare selects, would silently change the comparison the
    user asked for. A stray broken file in a scanned folder is only warned about."""
    named = {Path(d).resolve() for d in args.dirs if Path(d).is_file()}
    chosen = set(args.reference) | {name for pair in args.compare for name in pair}
    listed, fatal = [], False
    for path in unreadable:
        model = guess_model_name(path, args.name_from)
        if path.resolve() in named:
            listed.append(f"{path} (named on the command line)")
        elif model in chosen or (args.models and re.search(args.models, model)):
            listed.append(f"{path} (model {model}, which you selected)")
        else:
            listed.append(str(path))
            continue
        fatal = True
    if fatal:
        raise CompareError(f"Could not read {len(unreadable)} file(s): {', '.join(listed)}; see "
                           "the warnings above. Fix or remove the file, or leave it out of the "
                           "command.")

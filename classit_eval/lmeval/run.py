"""`classit-eval run`: lm-eval's `run` with this package's tasks and model registered.

It takes exactly the arguments of `lm_eval run` (`classit-eval run --help` prints lm-eval's
help). Compared with the stock CLI it (1) registers the `classit` model backend and (2) in
an editable install, where lm-eval's own task index cannot see `tasks/`, adds that folder as
`--include_path`. lm-eval parses and checks its own arguments, with its own messages.

Before lm-eval starts, two common mistakes that lm-eval reports as long tracebacks become
one line: a misspelled classit task (with the nearest task names) and a `pretrained=`
model of `--model hf` / `--model classit` that cannot be loaded (a missing folder, one
without a saved model, a truncated weights file, a hub name offline). When every task
asked for is a classit one, lm-eval indexes only the classit tasks, not its own ~15,000
(12 s of YAML parsing on 2 cores, before anything is evaluated). lm-eval's warning
that custom-dataset tasks take `--metadata` (two lines per task, every classit task) is
not shown: the classit tasks document their `--metadata` keys.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import logging
import math
import sys
from pathlib import Path

from classit_eval import options
from classit_eval.errors import OptionError
from classit_eval.names import TASK_PREFIX

MODELS_WITH_PRETRAINED = ("hf", "hf-auto", "huggingface", "classit")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("lm_eval_args", nargs=argparse.REMAINDER, metavar="LM_EVAL_ARGS",
                        help="the arguments of `lm_eval run`, passed on as they are")


def run(args: argparse.Namespace) -> int:
    argv = list(args.lm_eval_args)
    tasks = precheck(argv)  # before the seconds lm-eval takes to import
    import classit_eval.lmeval.backend  # noqa: F401  (registers the `classit` model)
    from classit_eval.lmeval.plugin import include_path

    extra = include_path()
    given = any(a == "--include_path" or a.startswith("--include_path=") for a in argv)
    if extra and given:
        raise OptionError(
            "--include_path is taken: in this editable install the classit tasks need it "
            f"({extra}). Install the package with `pip install .`, or copy your tasks next "
            "to the classit ones."
        )
    only_classit = bool(tasks) and not given and all(is_classit(t) for t in tasks)
    if extra and not only_classit:
        argv += ["--include_path", extra]
    logging.getLogger("lm_eval.api.task").addFilter(quiet_custom_dataset_warning)

    from lm_eval.__main__ import cli_evaluate

    saved = sys.argv
    sys.argv = ["lm-eval", "run", *argv]
    try:
        with classit_task_index() if only_classit else contextlib.nullcontext():
            cli_evaluate()
    finally:
        sys.argv = saved
    return 0


def is_classit(name: str) -> bool:
    return name.startswith(TASK_PREFIX) and not Path(name).exists()


@contextlib.contextmanager
def classit_task_index():
    """lm-eval's TaskManager, within the block, indexes the classit tasks alone."""
    import lm_eval.tasks

    from classit_eval.lmeval.plugin import task_dir

    original = lm_eval.tasks.TaskManager

    class ClassitTaskManager(original):
        def __init__(self, *args, **kwargs) -> None:
            paths = kwargs.pop("include_path", None) or []
            paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
            kwargs.update(include_defaults=False, include_path=[*paths, str(task_dir())])
            super().__init__(*args, **kwargs)

    lm_eval.tasks.TaskManager = ClassitTaskManager
    try:
        yield
    finally:
        lm_eval.tasks.TaskManager = original


def precheck(argv: list[str]) -> list[str]:
    """Raise an OptionError or ModelLoadError for a misspelled classit task or a model
    that cannot be loaded; everything else is left to lm-eval. Returns the task names."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for option in ("--model", "--model_args", "--tasks", "--limit"):
        parser.add_argument(option)
    known, _ = parser.parse_known_args(argv)
    tasks = [t.strip() for t in known.tasks.split(",") if t.strip()] if known.tasks else []
    if known.tasks is not None and not tasks:
        raise OptionError(f"--tasks {known.tasks!r} names no task: give one or more, e.g. "
                          "--tasks classit_zero_shot_fast.")
    if tasks:
        check_task_names(tasks)
    if known.limit is not None:
        check_limit(known.limit)
    if known.model in MODELS_WITH_PRETRAINED and known.model_args:
        model_args = parse_model_args(known.model_args)
        if model_args.get("pretrained"):
            from classit_eval.data.checkpoints import check_loadable

            pretrained, revision = str(model_args["pretrained"]), model_args.get("revision")
            check_loadable(pretrained, revision)
            if model_args.get("prefix_token_id") is not None:
                check_prefix_token_id(pretrained, revision, model_args["prefix_token_id"])
            elif known.model != "classit":
                check_prefix_token(pretrained, revision)
    return tasks


def check_limit(text: str) -> None:
    """lm-eval's `--limit`: documents per task (1 or more), or a fraction in (0, 1). 0 and
    negative values are not refused by lm-eval, and run on none or all but the last."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value < math.inf):
        raise OptionError(f"--limit {text}: give a number of documents per task (1 or more) "
                          "or a fraction of each task in (0, 1); leave it out for every "
                          "document.")


def check_prefix_token_id(pretrained: str, revision: str | None, value: object) -> None:
    """`prefix_token_id` must be a token of the model: an id past its embeddings fails
    with an index error inside the first batch."""
    from classit_eval.data.checkpoints import config_dict

    size = config_dict(pretrained, revision).get("vocab_size")
    try:
        token = int(str(value))
    except ValueError:
        token = -1
    if token < 0 or (isinstance(size, int) and token >= size):
        known = f" (its vocabulary has ids 0..{size - 1})" if isinstance(size, int) else ""
        raise OptionError(f"--model_args prefix_token_id={value}: not a token id of "
                          f"{pretrained}{known}; give the id of its BOS or EOS token, or leave "
                          "it out.")


def check_prefix_token(pretrained: str, revision: str | None) -> None:
    """lm-eval's `hf` model puts BOS (else EOS) before a sentence scored without context;
    a tokenizer with neither makes it fail with a TypeError deep in a batch."""
    from classit_eval.data.checkpoints import load_tokenizer

    tokenizer = load_tokenizer(pretrained, revision=revision)
    if tokenizer.bos_token_id is None and tokenizer.eos_token_id is None:
        raise OptionError(
            f"The tokenizer of {pretrained} has no BOS or EOS token, which --model hf puts "
            "before every sentence (lm-eval then fails with a TypeError): add "
            "prefix_token_id=<id> to --model_args, or use --model classit, whose "
            "scoring=babylm2025 needs no prefix token (docs/zero_shot.md)."
        )


def check_task_names(names: list[str]) -> None:
    """Every `classit_*` name (not a YAML path) must be a classit task, group or tag."""
    asked = [n.strip() for n in names if n.strip().startswith(TASK_PREFIX)
             and not Path(n.strip()).exists()]
    if not asked:
        return
    from classit_eval.lmeval.plugin import task_manager

    index = task_manager(classit_only=True)
    known = set(index.all_tasks) | set(index.all_groups) | set(index.all_tags)
    for name in asked:
        if name not in known:
            near = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(near)}? " if near else ""
            raise OptionError(
                f"--tasks: {name} is not a classit task; {hint}"
                "`lm_eval ls tasks | grep classit_` lists them."
            )


def parse_model_args(text: str) -> dict:
    """lm-eval's `--model_args`: `key=value,...` (each value typed as lm-eval types it) or
    a JSON object."""
    from lm_eval.utils import handle_arg_string

    if text.lstrip().startswith("{"):
        try:
            return dict(json.loads(text))
        except (json.JSONDecodeError, TypeError, ValueError) as err:
            raise OptionError(f"--model_args {text!r}: not a JSON object ({err}).") from err
    try:
        pairs = options.key_values(text)
    except argparse.ArgumentTypeError as err:
        raise OptionError(f"--model_args {text!r}: {err}.") from None
    return {key: handle_arg_string(value) for key, value in pairs.items()}


def quiet_custom_dataset_warning(record: logging.LogRecord) -> bool:
    """False for lm-eval's `--metadata` hint on a classit task (repeated for every task)."""
    message = str(record.msg)
    return not (message.startswith(TASK_PREFIX) and "Custom kwargs can be passed" in message)

"""Command-line parsing shared by every job: the parser class, the option value checks, and
settings declared once (`option`, `add_options`, `check_options`, `settings_from`).

A bad option is refused when the command line is parsed, before anything is read or
written, so that no job runs on a value it would silently replace (`--epochs 0` training
the default 10 epochs) or crash on later. Each check is an argparse `type=` function: its
message ends up as `<prog>: error: argument --epochs: 0 is not ... (see --help)`.
"""

from __future__ import annotations

import argparse
import re
import types
from collections.abc import Callable, Sequence
from dataclasses import MISSING, Field, field, fields
from pathlib import Path
from typing import Any, NoReturn, TypeVar, get_args, get_type_hints
from urllib.parse import urlparse

from classit_eval.errors import OptionError


def one_line(message: object) -> str:
    """`message` on one line: an error must not spread over several lines of stderr."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block), with exit status 2,
    and that takes each option under its one full name (no abbreviations)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see --help)\n")


Number = TypeVar("Number", int, float)


def _number(kind: type[Number], text: str) -> Number:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if kind is float and value != value:  # NaN passes every comparison below
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    return value


def positive_int(text: str) -> int:
    """An integer of at least 1 (a count, a size, a length)."""
    value = _number(int, text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer (1 or more)")
    return value


def non_negative_int(text: str) -> int:
    """An integer of at least 0 (a seed; a count where 0 means off)."""
    value = _number(int, text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative (give 0 or more)")
    return value


def positive_float(text: str) -> float:
    """A number above 0 (a learning rate, a timeout, a number of epochs)."""
    value = _number(float, text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def non_negative_float(text: str) -> float:
    """A number of at least 0 (a weight decay)."""
    value = _number(float, text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a number of 0 or more")
    return value


def fraction(text: str) -> float:
    """A number in [0, 1): a share of something that cannot be all of it (dropout, warmup)."""
    value = _number(float, text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction in [0, 1)")
    return value


def ratio(text: str) -> float:
    """A number in [0, 1], the whole included (a minimum learning rate of 1x is a constant
    schedule)."""
    value = _number(float, text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a ratio in [0, 1]")
    return value


def existing_file(text: str) -> Path:
    """A path to a file that exists."""
    path = Path(text)
    if not path.is_file():
        what = "a folder, not a file" if path.is_dir() else "no such file"
        raise argparse.ArgumentTypeError(f"{text}: {what}")
    return path


def existing_dir(text: str) -> Path:
    """A path to a folder that exists."""
    path = Path(text)
    if not path.is_dir():
        what = "a file, not a folder" if path.exists() else "no such folder"
        raise argparse.ArgumentTypeError(f"{text}: {what}")
    return path


def _writable_path(text: str, what: str) -> Path:
    """`text` as a path whose nearest existing folder above it is a folder, not a file."""
    path = Path(text)
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(f"{text}: {parent} is a file, so it cannot "
                                                 f"hold the {what}")
            break
    return path


def output_dir(text: str) -> Path:
    """A folder to write into: one that exists, or a path where it can be made."""
    path = _writable_path(text, "output folder")
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder: give a folder")
    return path


def output_file(text: str) -> str:
    """A file to write (`-`: stdout): not an existing folder, in a folder that can be made."""
    if text == "-":
        return text
    path = _writable_path(text, "file")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder: give a file name, e.g. "
                                         f"{path / 'out.json'}")
    return text


def device(text: str) -> str:
    """A torch device that this machine has (`cpu`, `cuda`, `cuda:1`, `mps`)."""
    import torch

    try:
        kind = torch.device(text).type
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a device (cpu, cuda, cuda:N)"
                                         ) from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text}: this machine has no CUDA device; give "
                                         "--device cpu (or leave it out)")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text}: this machine has no MPS device")
    return text


def regex(text: str) -> str:
    """A regular expression that compiles (kept as text, as `re` functions take it)."""
    try:
        re.compile(text)
    except re.error as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular expression ({err})") from None
    return text


def url(text: str) -> str:
    """An http(s), ftp or file URL (urllib refuses anything else with a traceback)."""
    parts = urlparse(text)
    if parts.scheme not in ("http", "https", "ftp", "file") or not (parts.netloc or parts.path):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s), ftp or file URL")
    return text


def comma_list(item: Callable[[str], object]) -> Callable[[str], list]:
    """A comma-separated list, each item checked by `item` (which raises ValueError)."""
    def parse(text: str) -> list:
        names = [name for name in text.split(",") if name.strip()]
        if not names:
            raise argparse.ArgumentTypeError("no name given")
        try:
            return [item(name) for name in names]
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    parse.__name__ = f"list of {item.__name__}"
    return parse


def key_values(text: str) -> dict[str, str]:
    """`key=value,key=value` (lm-eval's `--model_args` form) as strings, in order; a part
    without `=` or without a key is an error. The one splitter of model arguments: `babylm
    run --model-args` keeps the strings, `classit-eval run` types them as lm-eval does."""
    pairs: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"{part!r}: write KEY=VALUE")
        pairs[key.strip()] = value.strip()
    return pairs


# -- settings declared once -----------------------------------------------------------------
# A job's settings are a dataclass whose `option` fields are its command-line options: the
# help, default, type and valid range are written once, `add_options` makes the argparse
# options, `settings_from` the settings of parsed arguments, and `check_options` checks a
# value however it came (a command line, or another job's call, e.g. `babylm run` -> AoA).
def option(help: str, default: Any = MISSING, *, at_least: float | None = None,
           above: float | None = None, choices: Sequence[str] | None = None,
           type: Callable[[str], Any] | None = None, metavar: str | None = None,
           flag: str | None = None) -> Any:
    """A settings field that is also a command-line option (`grad_accum` -> `--grad-accum`,
    or `flag`). `type` parses the text (default: the field's type); `at_least`, `above`
    and `choices` are checked by `check_options`, whatever gave the value."""
    return field(default=default, metadata={
        "help": help, "at_least": at_least, "above": above, "choices": choices, "type": type,
        "metavar": metavar, "flag": flag})


def option_fields(settings: type) -> list[Field]:
    """The `option` fields of a settings dataclass, in their order."""
    return [f for f in fields(settings) if "help" in f.metadata]


def flag_of(f: Field) -> str:
    return f.metadata["flag"] or "--" + f.name.replace("_", "-")


def add_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, settings: type,
                **defaults: Any) -> None:
    """A command-line option for each `option` field of `settings`; `defaults` replace the
    declared ones (a step's own recipe)."""
    hints = get_type_hints(settings)
    for f in option_fields(settings):
        text, rules = f.metadata["help"], f.metadata
        kind = rules["type"] or hints[f.name]
        if isinstance(kind, types.UnionType):  # `int | None` -> int
            kind = next(k for k in get_args(kind) if k is not type(None))
        if kind is bool:  # a flag that turns on (or, for a default of True, off) the field
            parser.add_argument(flag_of(f), dest=f.name, help=text,
                                action="store_false" if f.default is True else "store_true")
            continue
        default = defaults.get(f.name, f.default)
        parser.add_argument(
            flag_of(f), type=kind, default=None if default is MISSING else default,
            required=default is MISSING, choices=rules["choices"], metavar=rules["metavar"],
            dest=f.name,
            help=text if default in (None, MISSING) else f"{text} (default: %(default)s)",
        )


def check_options(settings: object, error: type[Exception] = OptionError) -> None:
    """Each `option` field's range and choices, as `error` naming its flag."""
    for f in option_fields(type(settings)):
        value, rules, flag = getattr(settings, f.name), f.metadata, flag_of(f)
        if value is None:
            continue
        if rules["at_least"] is not None and value < rules["at_least"]:
            raise error(f"{flag} must be at least {rules['at_least']}, not {value}.")
        if rules["above"] is not None and value <= rules["above"]:
            raise error(f"{flag} must be above {rules['above']}, not {value}.")
        if rules["choices"] and value not in rules["choices"]:
            raise error(f"{flag} must be one of {', '.join(rules['choices'])}, not {value!r}.")


SettingsT = TypeVar("SettingsT")


def settings_from(settings: type[SettingsT], args: argparse.Namespace,
                  **fixed: Any) -> SettingsT:
    """The settings of parsed arguments (see `add_options`), plus what the caller fixes."""
    given = {f.name: getattr(args, f.name) for f in option_fields(settings)}
    return settings(**given, **fixed)

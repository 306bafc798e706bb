"""Command-line parsing shared by every job: the parser class and the option value checks.

A bad option is refused when the command line is parsed, before anything is read or
written, so that no job runs on a value it would silently replace (`--epochs 0` training
the default 10 epochs) or crash on later. Each check is an argparse `type=` function: its
message ends up as `<prog>: error: argument --epochs: 0 is not ... (see --help)`.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar
from urllib.parse import urlparse


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

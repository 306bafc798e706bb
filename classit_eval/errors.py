"""The errors a user can fix, one type per failure class.

Every message names the culprit (the file, the line, the option, the model argument) and
the fix. The package's commands print such an error as one line on stderr and exit with
status 2, without a traceback (`--debug` shows it); anything else is a bug and keeps its
traceback. Each class also derives from the built-in exception callers used to catch.
"""

from __future__ import annotations


class UserError(Exception):
    """Input the user can fix; the message says which input and how."""


class OptionError(UserError, ValueError):
    """A bad command-line option or model argument (`--model_args key=value`)."""


class DataError(UserError, ValueError):
    """A data file exists but cannot be used (bad JSON, missing field, wrong password...)."""


class MissingDataError(UserError, FileNotFoundError):
    """A data file or folder a task needs is not under the data root."""


class ModelLoadError(UserError, OSError):
    """A model or tokenizer cannot be loaded from the path or name the user gave."""


class ResumeStateError(UserError):
    """A saved training state (`--resume`) is missing, incomplete or corrupt."""


class ResultsError(UserError):
    """A results or predictions file cannot be read or does not match what it should hold."""

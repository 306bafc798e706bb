"""Comparing models by per-task z-scores of their lm-eval results (`classit-zscore`).

`load` reads lm-eval results files into a models x columns score table, `stats` turns it
into z-scores, per-model summaries and paired tests, `report` writes tables and figures.
"""

from __future__ import annotations

from classit_eval.errors import UserError


class CompareError(UserError, ValueError):
    """Input that makes a comparison impossible (no results, a single model, bad option)."""


class CompareWarning(UserWarning):
    """Input that was used with a caveat, or skipped: the message says which and why."""

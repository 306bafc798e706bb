"""The human half of the AoA data: children's word learning from a Wordbank CDI table.

`full_eval/aoa/cdi_human.csv` has a `word` column and one column per age in months,
`16` ... `30`, holding the proportion of children who produce the word at that age. A
word's child AoA is where a sigmoid fitted to those proportions (scipy, bounded as the
official `AoAEvaluator.compute_child_aoa` bounds it) crosses 0.5, in months, if that lies
within the ages observed. Both modes compute it the same way: the official rule is sound.
The first row of a word is its row (as the official lookup takes it).

The file is not part of every copy of the data (it is not in this repository's shared
data): without it there is no Pearson r, and `missing_message` says so in one line.
"""

from __future__ import annotations

import csv
import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classit_eval.aoa.fit import crossing, sigmoid
from classit_eval.aoa.words import HUMAN_FILE, TASK
from classit_eval.data.files import data_root, find_file
from classit_eval.errors import DataError, MissingDataError

AGES = tuple(range(16, 31))
THRESHOLD = 0.5


def find_human(path: str | os.PathLike | None = None,
               data_dir: str | os.PathLike | None = None) -> Path | None:
    """The CDI table: `path`, else the data root's `full_eval/aoa/cdi_human.csv`, else None."""
    if path is not None:
        if not Path(path).is_file():
            raise MissingDataError(f"--human {path}: no such file.")
        return Path(path)
    try:
        return find_file(HUMAN_FILE, data_dir, task=TASK).path
    except MissingDataError:
        return None


def missing_message(data_dir: str | os.PathLike | None = None) -> str:
    """What cannot be computed without the CDI table, and how to get it (one line)."""
    try:
        where = str(data_root(data_dir) / HUMAN_FILE)
    except MissingDataError:
        where = HUMAN_FILE
    return (f"no child AoA, so no Pearson r: {where} (the Wordbank CDI table of the "
            "official data, 42,174 bytes) is missing; get it with `classit-eval "
            "download-data` (OSF ryjfm) or pass --human FILE. The surprisals and the "
            "model AoAs are written.")


@dataclass(frozen=True)
class CDI:
    """The table: its age columns (months) and each word's proportions (NaN where empty)."""

    ages: list[float]
    rows: dict[str, list[float]]  # the first row of each word


def read_human(path: Path) -> CDI:
    """The CDI table of `path`."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise DataError(f"{path}: cannot read the CDI table ({err.strerror}).") from err
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: the CDI table is not UTF-8 text (byte {err.start}); save it "
                        "as UTF-8 CSV, the encoding of the official cdi_human.csv.") from err
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    ages = [str(a) for a in AGES if str(a) in columns]
    if "word" not in columns or not ages:
        raise DataError(f"{path}: expected a `word` column and age columns 16..30 (months), "
                        f"the layout of the official cdi_human.csv; it has {columns[:6]}.")
    table: dict[str, list[float]] = {}
    for line, row in enumerate(reader, start=2):
        try:
            values = [float(row[a]) if row[a] not in ("", None, "NA") else math.nan
                      for a in ages]
        except ValueError as err:
            raise DataError(f"{path}, line {line}: {err}.") from err
        bad = next((a for a, v in zip(ages, values, strict=True) if not 0 <= v <= 1
                    and not math.isnan(v)), None)
        if bad is not None or row["word"] is None:
            what = (f"{row[bad]!r} in column {bad} is not a proportion of children in "
                    "[0, 1] (leave a cell empty where there is none)" if bad is not None
                    else "the line has fewer cells than the header")
            raise DataError(f"{path}, line {line}: {what}.")
        table.setdefault(row["word"], values)
    return CDI([float(a) for a in ages], table)


def child_aoa(proportions: list[float], ages: list[float]) -> float | None:
    """Months at which the fitted share of children producing the word reaches 0.5."""
    from scipy.optimize import curve_fit

    p, x = np.asarray(proportions, dtype=float), np.asarray(ages, dtype=float)
    keep = ~np.isnan(p)
    if keep.sum() < 3:
        return None
    p, x = p[keep], x[keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            params, _ = curve_fit(sigmoid, x, p, p0=[1.0, 0.1, np.mean(x), 0.0],
                                  bounds=([0, 0, x[0], -0.5], [2.0, 1.0, x[-1], 0.5]),
                                  maxfev=1000)
        except (RuntimeError, ValueError):
            return None
    aoa = crossing([float(v) for v in params], THRESHOLD)
    return aoa if aoa is not None and x[0] <= aoa <= x[-1] else None


def child_aoas(cdi: CDI, words: list[str]) -> dict[str, float | None]:
    """The child AoA of each of `words` found in the table."""
    return {w: child_aoa(cdi.rows[w], cdi.ages) for w in words if w in cdi.rows}


MIN_PAIRS = 3  # words with both AoAs that a Pearson r needs


def check_pairs(path: Path, child: dict[str, float | None], words: list[str]) -> None:
    """A DataError when the table gives a child AoA to fewer than MIN_PAIRS of the words:
    no model could then be correlated with it (a table of other words, or of too few)."""
    usable = [w for w, aoa in child.items() if aoa is not None]
    if len(usable) < MIN_PAIRS:
        raise DataError(
            f"{path}: the CDI table gives a child AoA to {len(usable)} of the {len(words)} "
            f"words of the words file ({len(child)} found in its `word` column), and a "
            f"Pearson r needs {MIN_PAIRS}. Give the CDI table of these words (the official "
            "cdi_human.csv).")

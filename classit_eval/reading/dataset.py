"""Reading `reading_data.csv` and surprisal files exactly as the official pipeline does.

Quirks kept on purpose, so that the rows each regression drops match the official ones:
pandas reads the csv with its default NaN parsing; an empty `item` becomes the string
"None" (one row, whose context really is the word "None"), while a `prev_item` of "None"
stays NaN, so that row gets no previous-word surprisal.
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from classit_eval.data.files import Source, find_file
from classit_eval.errors import DataError
from classit_eval.families import FAMILIES, fast_task
from classit_eval.reading.regression import check_columns

READING = FAMILIES["reading"]
FULL_CSV = f"{READING.full}/reading_data.csv"
FAST_CSV = f"{READING.fast}/reading_data.csv"


def load_csv(source: Source | str | os.PathLike) -> pd.DataFrame:
    """The reading csv as the official reader sees it; a missing column raises DataError."""
    text = source.read_text() if isinstance(source, Source) else Path(source).read_text("utf-8")
    data = pd.read_csv(io.StringIO(text), dtype={"item": str})
    check_columns(data, str(source))
    data["item"] = data["item"].fillna("None")
    return data


def find_csv(data_dir: str | os.PathLike | None = None, fast: bool = False) -> Source:
    """The full (or fast) reading csv under the data root."""
    task = fast_task(READING) if fast else READING.task
    return find_file(FAST_CSV if fast else FULL_CSV, data_dir, task=task)


def has_previous(data: pd.DataFrame) -> pd.Series:
    """Rows with a previous-word context (official: `prev_item` parsed as a string)."""
    return data["prev_item"].map(lambda v: isinstance(v, str))


# The official file's fields that name its csv row, and the csv column each must equal
IDENTITY = {"Index": None, "Word": "word", "Sentence": "item"}  # Index: the row's position


def load_predictions(path: str | os.PathLike, n_rows: int,
                     csv: pd.DataFrame | None = None) -> pd.DataFrame:
    """`pred` and `prev_pred` from an official `prediction.jsonl` (Logprob = surprisal),
    one line per row of the reading csv (`n_rows` rows; `csv`, from `load_csv`, when
    given: then each line's identity fields are checked against its row), in its order.

    Raises DataError naming the file and line for a file that is not UTF-8, bad JSON, a
    missing field, a row count different from the csv's, a line whose `Index`, `Word` or
    `Sentence` (when given, as the official file gives them) is not its csv row's, an
    infinite value, or a `Logprob` that is not a number (NaN or null): the regression
    would drop that row silently and the scores would change. `Prev_Logprob` is NaN (or
    null) in the official files where a word has no previous word; `with_surprisals`
    checks it is a number wherever one exists.
    """
    preds, prevs = [], []
    identity = {} if csv is None else {
        field: list(range(n_rows)) if column is None else csv[column].tolist()
        for field, column in IDENTITY.items()}
    try:
        with open(path, encoding="utf-8") as handle:
            lines = [line for line in handle if line.strip()]
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text (byte {err.start}); a prediction.jsonl is "
                        "JSON lines, in UTF-8.") from err
    if len(lines) != n_rows:
        raise DataError(
            f"{path}: {len(lines)} predictions for the {n_rows} rows of reading_data.csv. "
            "Expected one line per csv row, in csv order (the official prediction.jsonl)."
        )
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise TypeError(f"expected a JSON object, got {line.strip()[:40]}")
            _check_identity(record, identity, number - 1)
            pred, prev = _number(record["Logprob"]), _number(record["Prev_Logprob"])
            if not math.isfinite(pred) or math.isinf(prev):
                field, value = (("Logprob", pred) if not math.isfinite(pred)
                                else ("Prev_Logprob", prev))
                raise ValueError(f"{field} is {value}, not a finite surprisal")
            if pred < 0 or prev < 0:  # NaN (no previous word) compares False
                field, value = ("Logprob", pred) if pred < 0 else ("Prev_Logprob", prev)
                raise ValueError(f"{field} is {value}, and a surprisal (-log p, in nats) "
                                 "is never negative; was a log-probability written?")
            preds.append(pred)
            prevs.append(prev)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise DataError(
                f"{path}, line {number}: {type(err).__name__}: {err}. Each line must be a "
                'JSON object with numeric "Logprob" and "Prev_Logprob" (surprisals, nats).'
            ) from err
    return pd.DataFrame({"pred": preds, "prev_pred": prevs})


def _check_identity(record: dict, identity: dict[str, list], row: int) -> None:
    """A ValueError when a field of IDENTITY in `record` is not that of csv row `row`
    (`identity`: each field's values, row by row): a line repeated or out of order would
    be scored against another word's reading times."""
    for field, values in identity.items():
        if field not in record:
            continue
        expected = values[row]
        if isinstance(expected, float) and math.isnan(expected):
            continue  # a csv cell pandas reads as missing: nothing to compare
        got = record[field]
        if isinstance(got, bool) or type(got) is not type(expected) or got != expected:
            raise ValueError(f"{field} {got!r} is not that of row {row + 1} of "
                             f"reading_data.csv ({expected!r}): the lines must be the csv's "
                             "rows, in order")


def _number(value: object) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def with_surprisals(data: pd.DataFrame, pred, prev_pred) -> pd.DataFrame:
    """A copy of the csv frame with the surprisal columns `pred` and `prev_pred`.

    Every surprisal the regression uses must be a finite number: `pred` on every row,
    `prev_pred` on rows with a previous word. A row is never dropped silently.
    """
    out = data.copy()
    out["pred"] = list(pred)
    out["prev_pred"] = list(prev_pred)
    bad_pred = ~np.isfinite(out["pred"].to_numpy(dtype=float))
    bad_prev = has_previous(out).to_numpy() & ~np.isfinite(out["prev_pred"].to_numpy(dtype=float))
    for column, bad in (("pred", bad_pred), ("prev_pred", bad_prev)):
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"Row {row + 1} of reading_data.csv ({out['word'].iloc[row]!r}; line {row + 1} "
                f"of a prediction.jsonl): {column} is {out[column].iloc[row]}, not a finite "
                f"surprisal ({int(bad.sum())} such rows). Every row needs one; the regression "
                "would otherwise drop the rows and change the scores."
            )
    return out

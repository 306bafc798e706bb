"""Surprisals the reading regression cannot use are errors, never silently dropped rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from classit_eval.errors import DataError
from classit_eval.reading import dataset

PREDICTIONS = "reference/babylm-2025-pipeline-outputs/opt-128/main/zero_shot/causal/reading"


def official_lines(shared_data: Path) -> list[str]:
    return (shared_data / PREDICTIONS / "prediction.jsonl").read_text().splitlines()


def with_value(line: str, field: str, value: str) -> str:
    """The line with `field` set to a raw JSON token (NaN, Infinity, null...)."""
    record = json.loads(line)
    record[field] = "@@"
    return json.dumps(record).replace('"@@"', value)


def frame(shared_data: Path, eval_data: Path, tmp_path: Path, lines: list[str]):
    csv = dataset.load_csv(dataset.find_csv(str(eval_data)))
    path = tmp_path / "prediction.jsonl"
    path.write_text("\n".join(lines) + "\n")
    preds = dataset.load_predictions(path, len(csv))
    return dataset.with_surprisals(csv, preds["pred"], preds["prev_pred"]), path


def test_the_official_file_with_its_nan_prev_logprobs_is_accepted(shared_data, eval_data,
                                                                   tmp_path):
    lines = official_lines(shared_data)
    assert any('"Prev_Logprob": NaN' in line for line in lines)
    data, _ = frame(shared_data, eval_data, tmp_path, lines)
    assert len(data) == 1726 and data["pred"].notna().all()


@pytest.mark.parametrize("field, value, where", [
    ("Logprob", "NaN", "line 5"),
    ("Logprob", "null", "line 5"),
    ("Logprob", "Infinity", "line 5"),
    ("Prev_Logprob", "-Infinity", "line 5"),
])
def test_a_non_finite_surprisal_names_the_file_and_line(field, value, where, shared_data,
                                                        eval_data, tmp_path):
    lines = official_lines(shared_data)
    lines[4] = with_value(lines[4], field, value)
    with pytest.raises(DataError) as err:
        frame(shared_data, eval_data, tmp_path, lines)
    assert str(tmp_path / "prediction.jsonl") in str(err.value)
    assert where in str(err.value) and field in str(err.value)


def test_a_missing_previous_surprisal_where_the_word_has_one_is_an_error(shared_data,
                                                                         eval_data, tmp_path):
    lines = official_lines(shared_data)
    row = next(i for i, line in enumerate(lines)
               if math.isfinite(json.loads(line)["Prev_Logprob"]))
    lines[row] = with_value(lines[row], "Prev_Logprob", "NaN")
    with pytest.raises(DataError, match=rf"Row {row + 1} of reading_data.csv .* prev_pred is nan"):
        frame(shared_data, eval_data, tmp_path, lines)


def test_reading_score_with_a_nan_surprisal_is_one_line_and_writes_nothing(
        shared_data, eval_data, tmp_path, capsys):
    from classit_eval import cli

    lines = official_lines(shared_data)
    lines[4] = with_value(lines[4], "Logprob", "NaN")
    bad = tmp_path / "prediction.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "scores.json"
    code = cli.main(["reading-score", str(bad), "--data-dir", str(eval_data), "--json", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and not out.exists()
    assert err[0].startswith(f"classit-eval reading-score: error: {bad}, line 5: ")
    assert "Logprob is nan, not a finite surprisal" in err[0]


@pytest.mark.parametrize("metadata, message", [
    ({"reading_bootstrap": -5}, "reading_bootstrap=-5 must be a whole number of at least 0"),
    ({"reading_bootstrap": "many"}, "reading_bootstrap='many' must be a whole number"),
    ({"reading_seed": 1.5}, "reading_seed=1.5 must be a whole number"),
    ({"reading_convention": "word"}, "reading_convention='word' is not one of"),
])
def test_bad_reading_metadata_is_an_option_error(metadata, message, eval_data):
    from classit_eval.errors import OptionError
    from classit_eval.reading import task

    with pytest.raises(OptionError, match=message):
        task.load(classit_fast=True, classit_task="classit_reading_fast",
                  data_dir=str(eval_data), **metadata)

"""`classit-eval reading-score`: official predictions in, the official numbers out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classit_eval.reading.cli import main

PREDICTIONS = "reference/babylm-2025-pipeline-outputs/{}/main/zero_shot/causal/reading"


@pytest.mark.slow
def test_prints_the_official_report(shared_data: Path, eval_data: Path, capsys) -> None:
    folder = shared_data / PREDICTIONS.format("opt-4096")
    assert main([str(folder / "prediction.jsonl"), "--data-dir", str(eval_data)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith((folder / "report.txt").read_text())


@pytest.mark.slow
def test_json_bootstrap_and_compare(shared_data: Path, eval_data: Path, capsys) -> None:
    first, second = (shared_data / PREDICTIONS.format(m) / "prediction.jsonl"
                     for m in ("opt-4096", "opt-128"))
    argv = [str(first), "--data-dir", str(eval_data), "--json", "-", "--bootstrap", "40",
            "--compare", str(second)]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    expected = [json.loads(line) for line in
                (first.parent / "predictive_power.jsonl").read_text().splitlines()]
    assert out["predictive_power"][0]["r2"] == pytest.approx(expected[0]["R2"], abs=1e-9)
    low, high = out["bootstrap"]["ci"]["eye_tracking"]
    assert low < out["metrics"]["eye_tracking"] < high
    assert set(out["bootstrap"]["difference_ci"]) == {"eye_tracking", "self_paced_reading"}


@pytest.mark.parametrize("edit, message", [
    (lambda lines: lines[:-1], "1725 predictions for the 1726 rows"),
    (lambda lines: lines[:7] + ['{"Logprob": 1.0}'] + lines[8:], "line 8: KeyError"),
    (lambda lines: lines[:2] + ["not json"] + lines[3:], "line 3: JSONDecodeError"),
])
def test_bad_predictions_are_clear_errors(edit, message, shared_data: Path, eval_data: Path,
                                          tmp_path: Path, capsys) -> None:
    lines = (shared_data / PREDICTIONS.format("opt-128") / "prediction.jsonl").read_text()
    bad = tmp_path / "prediction.jsonl"
    bad.write_text("\n".join(edit(lines.splitlines())) + "\n")
    assert main([str(bad), "--data-dir", str(eval_data)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and message in err


def test_missing_data_root_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path / "p.jsonl"), "--data-dir", str(tmp_path / "none")]) == 2
    assert "download-data" in capsys.readouterr().err

"""`classit-eval reading-score`: official predictions in, the official numbers out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classit_eval import cli

PREDICTIONS = "reference/babylm-2025-pipeline-outputs/{}/main/zero_shot/causal/reading"


def reading_score(argv: list[str]) -> int:
    """`classit-eval reading-score ARGV`."""
    return cli.main(["reading-score", *argv])



@pytest.mark.slow
def test_prints_the_official_report(shared_data: Path, eval_data: Path, capsys) -> None:
    folder = shared_data / PREDICTIONS.format("opt-4096")
    assert reading_score([str(folder / "prediction.jsonl"), "--data-dir", str(eval_data)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith((folder / "report.txt").read_text())


@pytest.mark.slow
def test_json_bootstrap_and_compare(shared_data: Path, eval_data: Path, capsys) -> None:
    first, second = (shared_data / PREDICTIONS.format(m) / "prediction.jsonl"
                     for m in ("opt-4096", "opt-128"))
    argv = [str(first), "--data-dir", str(eval_data), "--json", "-", "--bootstrap", "40",
            "--compare", str(second)]
    assert reading_score(argv) == 0
    out = json.loads(capsys.readouterr().out)
    expected = [json.loads(line) for line in
                (first.parent / "predictive_power.jsonl").read_text().splitlines()]
    assert out["predictive_power"][0]["r2"] == pytest.approx(expected[0]["R2"], abs=1e-9)
    low, high = out["bootstrap"]["ci"]["eye_tracking"]
    assert low < out["metrics"]["eye_tracking"] < high
    assert set(out["bootstrap"]["difference_ci"]) == {"eye_tracking", "self_paced_reading"}


def every_word(lines: list[str], word: str) -> list[str]:
    return [json.dumps(json.loads(line) | {"Word": word}) for line in lines]


@pytest.mark.parametrize("edit, message", [
    (lambda lines: lines[:-1], "1725 predictions for the 1726 rows"),
    (lambda lines: lines[:7] + ['{"Logprob": 1.0}'] + lines[8:], "line 8: KeyError"),
    (lambda lines: lines[:2] + ["not json"] + lines[3:], "line 3: JSONDecodeError"),
    (lambda lines: lines[:2] + ["[1, 2]"] + lines[3:], "line 3: TypeError: expected a JSON "
                                                       "object"),
    # row 100 a copy of row 99: the row count is right, the line is not
    (lambda lines: lines[:99] + [lines[98]] + lines[100:],
     "line 100: ValueError: Index 98 is not that of row 100 of reading_data.csv (99)"),
    (lambda lines: every_word(lines, "banana"),
     "line 1: ValueError: Word 'banana' is not that of row 1 of reading_data.csv ('the')"),
    (lambda lines: lines[:1] + [lines[1].replace('"Index": 1,', '"Index": "1",')] + lines[2:],
     "line 2: ValueError: Index '1' is not that of row 2"),
])
def test_bad_predictions_are_clear_errors(edit, message, shared_data: Path, eval_data: Path,
                                          tmp_path: Path, capsys) -> None:
    lines = (shared_data / PREDICTIONS.format("opt-128") / "prediction.jsonl").read_text()
    bad = tmp_path / "prediction.jsonl"
    bad.write_text("\n".join(edit(lines.splitlines())) + "\n")
    out = tmp_path / "scores.json"
    assert reading_score([str(bad), "--data-dir", str(eval_data), "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and message in err[0], err
    assert not out.exists()


def test_json_naming_a_folder_is_one_line(shared_data: Path, eval_data: Path, tmp_path: Path,
                                          capsys) -> None:
    predictions = shared_data / PREDICTIONS.format("opt-128") / "prediction.jsonl"
    with pytest.raises(SystemExit) as exit_:
        reading_score([str(predictions), "--data-dir", str(eval_data), "--json", str(tmp_path)])
    assert exit_.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"argument --json: {tmp_path} is a folder: give a file name" in line
    assert list(tmp_path.iterdir()) == []


def test_the_official_files_identity_fields_all_match(shared_data: Path, eval_data: Path
                                                      ) -> None:
    """Index, Word and Sentence of every official prediction.jsonl are their csv rows'."""
    from classit_eval.reading import dataset

    csv = dataset.load_csv(dataset.find_csv(str(eval_data)))
    files = sorted((shared_data / "reference" / "babylm-2025-pipeline-outputs").glob(
        "*/main/zero_shot/causal/reading/prediction.jsonl"))
    assert len(files) == 23
    for path in files:
        assert len(dataset.load_predictions(path, len(csv), csv)) == 1726


def test_missing_data_root_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert reading_score([str(tmp_path / "p.jsonl"), "--data-dir", str(tmp_path / "none")]) == 2
    assert "download-data" in capsys.readouterr().err

"""`babylm check` refuses numbers no official file can hold (scores out of their range,
surprisals that are not a model's), malformed prediction entries and duplicated revisions
as one line each; `--only` that leaves nothing to check and `--json` naming a folder are
errors; `babylm export --output` naming a folder writes nothing."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from classit_eval import cli
from classit_eval.families import FAMILIES, FAST_KEYS
from classit_eval.leaderboard import check, export
from classit_eval.leaderboard.items import glue_labels
from classit_eval.leaderboard.tracks import fast_score_keys

REVISIONS = ["chck_1M", "chck_2M"]


def fast_results() -> dict:
    """A well-formed `fast_eval_results` of two revisions."""
    return {key: [{k: (0.25 if key == "reading" else 0.5)
                   for k in sorted(fast_score_keys(FAMILIES[key]))} for _ in REVISIONS]
            for key in FAST_KEYS}


def problems(submission: dict, only: set[str], revisions: list[str] = REVISIONS) -> list[str]:
    return [str(p) for p in check.check(submission, revisions, only=only).problems]


def test_well_formed_fast_scores_pass() -> None:
    assert problems({"fast_eval_results": fast_results()}, {"fast_eval_results"}) == []


@pytest.mark.parametrize(("key", "subtask", "value", "what"), [
    ("wug_adj", "wug_adj", 5.0, "Spearman's rho (in [-1, 1])"),
    ("wug_adj", "wug_adj", -7, "Spearman's rho (in [-1, 1])"),
    ("wug_past", "wug_past", 1e308, "Spearman's rho (in [-1, 1])"),
    ("blimp_supplement", "hypernym", 3.5, "an accuracy (in [0, 1])"),
    ("blimp_supplement", "hypernym", -2.0, "an accuracy (in [0, 1])"),
    ("blimp", "passive_1", 10**400, "an accuracy (in [0, 1])"),
    ("reading", "rt", -13.8992, "a normalised delta-R2 / 100 (in [0, 1])")])
def test_a_fast_score_out_of_its_range_is_one_line(key: str, subtask: str, value: float,
                                                   what: str) -> None:
    fast = fast_results()
    fast[key][1][subtask] = value
    assert problems({"fast_eval_results": fast}, {"fast_eval_results"}) == [
        f"fast_eval_results / {key} / chck_2M: {subtask}: {value!r:.40} is not {what}"]


@pytest.fixture(scope="module")
def reading(shared_data: Path) -> dict:
    from tests.test_leaderboard_check import official_reading

    return official_reading(shared_data)


@pytest.mark.parametrize(("field", "value", "said"), [
    ("pred", 1e300, "pred 1e+300 is not a surprisal"),
    ("pred", -3.5, "pred -3.5 is not a surprisal"),
    ("prev_pred", -0.1, "prev_pred -0.1 is not a surprisal"),
    ("pred", 10**400, "pred is 1000000000000000000000000000000000000000, expected a finite "
                      "surprisal")], ids=["huge", "negative", "negative-prev", "beyond-float"])
def test_a_surprisal_no_model_gives_is_one_line(reading: dict, field: str, value: float,
                                               said: str) -> None:
    value_ = copy.deepcopy(reading)
    value_["reading"]["predictions"][7][field] = value
    assert [p for p in problems({"reading": value_}, {"reading"})] == [
        f"reading / reading / 7: {said}" + (
            " (nats: >= 0, and within float32, as the pipeline computes them)"
            if "is not" in said else " (a number)")]


@pytest.mark.parametrize("entry", ["wsc_3", 3, None, [1]])
def test_a_prediction_entry_that_is_not_an_object_is_one_line(eval_data: Path,
                                                              entry: object) -> None:
    predictions = [{"id": f"wsc_{i}", "pred": label}
                   for i, label in enumerate(glue_labels("wsc"))]
    predictions[3] = entry
    report = check.check({"glue": {"wsc": {"predictions": predictions}}}, REVISIONS,
                         only={"glue"}, skip={f"glue/{t}" for t in
                                              ("boolq", "mnli", "mrpc", "multirc", "qqp",
                                               "rte")})
    assert [str(p) for p in report.problems] == [
        'glue / wsc / #3: not an object with "id" and "pred"',
        "glue / wsc / wsc_3: missing id (1 missing in all)"]
    assert "glue" not in report.subtasks  # no score from a malformed list


def test_a_revision_listed_twice_is_a_problem() -> None:
    fast = {k: v + v[:1] for k, v in fast_results().items()}
    assert problems({"fast_eval_results": fast}, {"fast_eval_results"},
                    ["chck_1M", "chck_2M", "chck_1M"]) == [
        "fast_eval_results: revision chck_1M is listed twice: each checkpoint is one entry "
        "of the learning curve; list it once"]


def write(tmp_path: Path, submission: dict) -> Path:
    return export.write(submission, tmp_path / "s.json")


def test_only_fast_eval_results_checks_every_fast_task(tmp_path: Path, capsys) -> None:
    fast = fast_results()
    path = write(tmp_path, {"fast_eval_results": fast})
    argv = ["babylm", "check", str(path), "--revisions", ",".join(REVISIONS), "--only",
            "fast_eval_results"]
    assert cli.main(argv) == 0
    assert f"{path}: 0 problem(s), the file is valid" in capsys.readouterr().out
    fast["ewok"][0]["spatial-relations"] = 1.5
    write(tmp_path, {"fast_eval_results": fast})
    assert cli.main(argv) == 1
    assert (f"{path}: fast_eval_results / ewok / chck_1M: spatial-relations: 1.5 is not an "
            "accuracy (in [0, 1])") in capsys.readouterr().out


@pytest.mark.parametrize("options", [["--only", "glue/rte"],
                                     ["--only", "aoa", "--skip", "aoa"],
                                     ["--only", "fast_eval_results", "--skip",
                                      ",".join(FAST_KEYS)]])
def test_only_with_nothing_to_check_is_an_error(tmp_path: Path, capsys,
                                                options: list[str]) -> None:
    path = write(tmp_path, {"fast_eval_results": fast_results()})
    code = cli.main(["babylm", "check", str(path), "--revisions", ",".join(REVISIONS),
                     *options])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "nothing left to check" in err[0], err


def test_json_naming_a_folder_is_one_line(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, {"fast_eval_results": fast_results()})
    (tmp_path / "out").mkdir()
    code = cli.main(["babylm", "check", str(path), "--revisions", ",".join(REVISIONS),
                     "--json", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and f"--json {tmp_path / 'out'}: a folder" in err[0]
    assert list((tmp_path / "out").iterdir()) == []


def test_check_revisions_listed_twice_is_one_line(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, {"fast_eval_results": fast_results()})
    with pytest.raises(SystemExit) as exit_:
        cli.main(["babylm", "check", str(path), "--revisions", "chck_1M,chck_1M"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and "listed twice" in err[0]


def test_export_output_naming_a_folder_writes_nothing(tmp_path: Path, capsys) -> None:
    run, target = tmp_path / "run", tmp_path / "target"
    run.mkdir()
    target.mkdir()
    code = cli.main(["babylm", "export", str(run), "--track", "strict-small",
                     "--allow-missing", "--output", str(target)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and f"--output {target}: a folder" in err[0], err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["run", "target"]


def test_an_interrupted_write_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(json, "dump", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export.write({"fast_eval_results": {}}, tmp_path / "s.json")
    assert list(tmp_path.iterdir()) == []

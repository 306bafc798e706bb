"""`classit-eval babylm check`: the structure of a submission file, every bad input as one
line, the scores recomputed from predictions, and the official pipeline's own prediction
files (reference outputs of OPT and Mamba models) accepted with their reported scores."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import pytest

from classit_eval import cli
from classit_eval.data.series import TRACKS
from classit_eval.families import (
    AOA_SIZE,
    COMPS_SIZES,
    FAMILIES,
    FAST_KEYS,
    GLUE_SIZES,
    expected_sizes,
)
from classit_eval.leaderboard import check, export
from classit_eval.leaderboard.items import family_items, glue_labels
from classit_eval.leaderboard.tracks import fast_score_keys

REVISIONS = TRACKS["strict-small"]
OUTPUTS = "reference/babylm-2025-pipeline-outputs"
OFFICIAL_FILES = {"blimp_supplement": "blimp/supplement_filtered",
                  "wug_adj": "wug/wug_adj_nominalization",
                  "entity_tracking": "entity_tracking/entity_tracking"}


def predictions(key: str, items: list, prob: bool = False) -> dict:
    """Gold predictions (candidate 0) of one subtask, as the official pipeline writes them."""
    out = []
    for i, item in enumerate(items):
        entry = {"id": f"{key}_{i}", "pred": item.candidates[0]}
        if prob:
            entry["prob"] = 0.9 if item.ratio > 0.5 else 0.1
        out.append(entry)
    return {"predictions": out}


def official_reading(shared: Path, model: str = "opt-128") -> dict:
    """The official reader's surprisals of a reference model, in the submission's shape."""
    path = shared / OUTPUTS / model / "main/zero_shot/causal/reading/prediction.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {"reading": {"predictions": [
        {"id": r["Index"], "pred": r["Logprob"], "prev_pred": r["Prev_Logprob"]} for r in rows]}}


@pytest.fixture(scope="module")
def submission(shared_data: Path, eval_data: Path) -> dict:
    """A complete, valid strict-small submission: gold predictions for the tasks whose data
    is here, well-formed ones for COMPS, WUG past and AoA (data not distributed here)."""
    out: dict = {}
    for key in ("blimp", "blimp_supplement", "ewok", "entity_tracking", "wug_adj"):
        items = family_items(FAMILIES[key], fast=False)
        out[key] = {sub: predictions(sub, lines, prob=key == "wug_adj")
                    for sub, lines in items.items()}
    out["wug_past"] = {"wug_past": {"predictions": [
        {"id": f"wug_past_{i}", "pred": "x", "prob": 0.5} for i in range(50)]}}
    out["comps"] = {sub: {"predictions": [{"id": f"{sub}_{i}", "pred": "x"} for i in range(n)]}
                    for sub, n in COMPS_SIZES.items()}
    out["reading"] = official_reading(shared_data)
    out["glue"] = {task: {"predictions": [{"id": f"{task}_{i}", "pred": label}
                                          for i, label in enumerate(glue_labels(task))]}
                   for task in GLUE_SIZES}
    out["aoa"] = {"results": [{"step": r, "word": "dog", "surprisal": 1.0}
                              for r in REVISIONS for _ in range(AOA_SIZE)]}
    out["fast_eval_results"] = {
        key: [dict.fromkeys(fast_score_keys(FAMILIES[key]), 0.5) for _ in REVISIONS]
        for key in FAST_KEYS}
    return out


def lines(report: check.Report) -> list[str]:
    return [str(p) for p in report.problems]


@pytest.mark.slow  # the reading regression and every item of every task
def test_a_complete_submission_is_valid_and_its_scores_recomputed(submission: dict) -> None:
    report = check.check(submission, REVISIONS)
    assert lines(report) == []
    for key in ("blimp", "blimp_supplement", "ewok", "entity_tracking", "glue"):
        assert report.scores[key] == pytest.approx(100.0), key
    assert report.scores["wug_adj"] > 50  # prob follows the human ratio
    assert report.scores["comps"].startswith("not recomputed")
    assert report.scores["nlp"] == "missing comps"
    # the reference model's official report: EYE TRACKING 0.29, SELF-PACED READING 0.00
    assert round(report.scores["reading_eye_tracking"], 2) == 0.29
    assert round(report.scores["reading_self_paced"], 2) == 0.00


def test_the_track_sets_the_revisions(submission: dict) -> None:
    report = check.check(submission, TRACKS["strict"],
                         only={"aoa", "fast_eval_results", "wug_adj"})
    messages = lines(report)
    assert "fast_eval_results / wug_adj: 19 revisions, expected 28 (chck_1M .. chck_1000M)" in (
        messages)
    assert not any("fast_eval_results / blimp" in m for m in messages)
    assert "aoa / chck_200M: 0 surprisals, expected 8005" in messages


def mutated(submission: dict, key: str, change) -> list[str]:
    """The problems of `submission` with `change` applied to a copy of its `key`."""
    value = copy.deepcopy(submission[key])
    change(value)
    return lines(check.check({key: value}, REVISIONS, only={key}))


def test_each_bad_input_is_one_line_naming_task_subtask_and_item(submission: dict) -> None:
    def drop_last(v):
        v["adjunct_island"]["predictions"].pop()

    def duplicate(v):
        v["hypernym"]["predictions"][3]["id"] = "hypernym_2"

    def int_pred(v):
        v["agent-properties"]["predictions"][5]["pred"] = 1

    def str_label(v):
        v["rte"]["predictions"][0]["pred"] = "entailment"

    def not_a_candidate(v):
        v["regular_2_ops"]["predictions"][7]["pred"] = "the moon."

    def swapped(v):
        preds = v["reading"]["predictions"]
        preds[0], preds[1] = preds[1], preds[0]

    cases = [
        ("blimp", drop_last, ["blimp / adjunct_island: 927 predictions, expected 928",
                              "blimp / adjunct_island / adjunct_island_927: missing id "
                              "(1 missing in all)"]),
        ("blimp_supplement", duplicate, [
            "blimp_supplement / hypernym / hypernym_2: duplicate id (2 times)",
            "blimp_supplement / hypernym / hypernym_3: missing id (1 missing in all)"]),
        ("ewok", int_pred, ["ewok / agent-properties / agent-properties_5: pred is int 1, "
                            "expected a string"]),
        ("glue", str_label, ["glue / rte / rte_0: pred is str 'entailment', expected an "
                             "integer label"]),
        ("entity_tracking", not_a_candidate, [
            "entity_tracking / regular_2_ops / regular_2_ops_7: pred 'the moon.' is not a "
            "candidate of data line 8"]),
        ("reading", swapped, ["reading / reading / 1: out of order: position 0 must hold 0 "
                              "(predictions are paired with data lines by position)"]),
    ]
    for key, change, expected in cases:
        assert mutated(submission, key, change) == expected, key


def test_reading_numbers_and_nan(submission: dict) -> None:
    def nan_pred(v):
        v["reading"]["predictions"][4]["pred"] = math.nan

    def number_without_previous(v):
        first = next(p for p in v["reading"]["predictions"] if math.isnan(p["prev_pred"]))
        first["prev_pred"] = 3.0

    assert mutated(submission, "reading", nan_pred) == [
        "reading / reading / 4: pred is nan, expected a finite surprisal (a number)"]
    assert mutated(submission, "reading", number_without_previous) == [
        "reading / reading / 19: prev_pred is a number, but the row has no previous word "
        "(expected NaN)"]


def test_keys_missing_unknown_or_marked_incomplete(submission: dict) -> None:
    small = {k: submission[k] for k in ("wug_adj",)}
    report = check.check({**small, "blimps": {}, "classit_incomplete": [
        {"key": "wug_adj", "missing": "chck_3M/classit_wug_adj_fast"}]}, REVISIONS,
        only={"wug_adj", "ewok"})
    assert lines(report) == [
        "blimps: unknown key",
        "classit_incomplete / wug_adj: exported with --allow-missing; missing "
        "chck_3M/classit_wug_adj_fast",
        "ewok: missing key"]


def test_nan_is_written_as_the_official_token_and_read_back(submission: dict,
                                                            tmp_path: Path) -> None:
    path = export.write({"reading": submission["reading"]}, tmp_path / "s.json")
    assert "NaN" in path.read_text()
    back = check.read_submission(path)
    assert math.isnan(back["reading"]["reading"]["predictions"][19]["prev_pred"])


def test_the_command_exits_1_with_one_line_per_problem(submission: dict, tmp_path: Path,
                                                       capsys) -> None:
    value = copy.deepcopy(submission["blimp_supplement"])
    value["turn_taking"]["predictions"][0]["pred"] = None
    path = export.write({"blimp_supplement": value}, tmp_path / "s.json")
    code = cli.main(["babylm", "check", str(path), "--track", "strict-small",
                     "--only", "blimp_supplement"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0] == (f"{path}: blimp_supplement / turn_taking / turn_taking_0: pred is "
                      "NoneType None, expected a string")
    assert out[1] == f"{path}: 1 problem(s)"
    assert cli.main(["babylm", "check", str(tmp_path / "none.json")]) == 2


def reported(path: Path) -> tuple[dict[str, float], float]:
    """The `name: value` lines and the average of an official best_temperature_report.txt."""
    text = path.read_text()
    values = {m[1]: float(m[2]) for m in re.finditer(r"^(\S+): ([\d.]+)$", text, re.M)}
    return values, float(re.search(r"AVERAGE ACCURACY\n([\d.]+)", text)[1])


@pytest.mark.parametrize("model", ["opt-128", "mamba-128"])
def test_official_prediction_files_pass_and_give_the_reported_scores(
        shared_data: Path, model: str) -> None:
    """The official pipeline's own files, assembled into the submission structure."""
    base = shared_data / OUTPUTS / model / "main/zero_shot/causal"
    submission, reports = {}, {}
    for key, folder in OFFICIAL_FILES.items():
        if (base / folder / "predictions.json").is_file():
            submission[key] = json.loads((base / folder / "predictions.json").read_text())
            reports[key] = reported(base / folder / "best_temperature_report.txt")
    report = check.check(submission, REVISIONS, only=set(submission))
    assert lines(report) == []
    assert report.warnings[0].startswith("wug_adj: 200 predictions have no prob")
    assert set(report.subtasks) == set(submission)
    for key, values in report.subtasks.items():
        per_subtask, average = reports[key]
        for subtask, score in values.items():
            assert round(score * 100, 2) == per_subtask[subtask], subtask
        assert report.scores[key] == pytest.approx(average, abs=0.006), key


@pytest.mark.slow  # the reading regressions
@pytest.mark.parametrize("model", ["opt-128", "mamba-128"])
def test_official_reading_predictions_give_the_reported_scores(shared_data: Path,
                                                               model: str) -> None:
    base = shared_data / OUTPUTS / model / "main/zero_shot/causal"
    report = check.check({"reading": official_reading(shared_data, model)}, REVISIONS,
                         only={"reading"})
    assert lines(report) == []
    eye, spr = map(float, re.findall(r"SCORE: ([\d.-]+)", (base / "reading/report.txt")
                                     .read_text()))
    assert round(report.scores["reading_eye_tracking"], 2) == eye
    assert round(report.scores["reading_self_paced"], 2) == spr


def test_expected_sizes_are_the_official_counts() -> None:
    assert len(TRACKS["strict-small"]) == 19 and len(TRACKS["strict"]) == 28
    assert TRACKS["strict"][18] == "chck_100M" and TRACKS["strict"][-1] == "chck_1000M"
    assert sum(expected_sizes(FAMILIES["blimp"], fast=False).values()) == 59875
    assert sum(expected_sizes(FAMILIES["entity_tracking"], fast=True).values()) == 3152
    assert sum(expected_sizes(FAMILIES["blimp_supplement"], fast=False).values()) == 5218

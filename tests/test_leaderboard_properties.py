"""Property-based tests (hypothesis) of the files `babylm check` and `babylm export` read
from users: a random mutation anywhere in a submission JSON, or in a results JSON, marker
or predictions file of a run folder, gives a result (status 0 or 1) or one line with status
2, never a traceback; and nothing is written or deleted outside the output file."""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classit_eval import cli
from classit_eval.families import FAMILIES, FAST_KEYS
from classit_eval.leaderboard.items import family_items, glue_labels
from classit_eval.leaderboard.run_folder import DONE
from classit_eval.leaderboard.tracks import fast_score_keys
from tests.test_leaderboard_sandbox import tree_hashes

REVISIONS = ["chck_1M", "chck_2M"]
MODEL = "org/tiny"  # a hub name: the export compares it with the results' model arguments
DATE = "2026-01-01T00-00-00.000000"

scalars = st.one_of(st.none(), st.booleans(), st.integers(),
                    st.sampled_from([10**400, -(10**400), 1e308, -1e308, 0.5, -1, 2]),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
PROPERTY = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def mutate(data: st.DataObject, value: object) -> object:
    """`value` with one node, reached by a random walk, replaced by random JSON, or one
    key or element removed."""
    node = data.draw(st.integers(0, 2), label="action")
    if isinstance(value, (dict, list)) and value and node:
        keys = list(value) if isinstance(value, dict) else list(range(len(value)))
        key = data.draw(st.sampled_from(keys), label="key")
        if node == 1 and data.draw(st.booleans(), label="remove"):
            del value[key]
        else:
            value[key] = mutate(data, value[key])
        return value
    return data.draw(json_values, label="replacement")


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def one_line_or_result(code: int, err: str) -> None:
    assert "Traceback" not in err
    assert code in (0, 1) or (code == 2 and len(err.strip().splitlines()) == 1), (code, err)


# -- the submission JSON that `babylm check` reads ------------------------------------------
def submission() -> dict:
    """A small submission: the fast scores of two revisions, GLUE WSC, WUG adj, AoA."""
    wug = family_items(FAMILIES["wug_adj"], fast=False)["wug_adj"]
    return {
        "fast_eval_results": {key: [dict.fromkeys(sorted(fast_score_keys(FAMILIES[key])), 0.5)
                                    for _ in REVISIONS] for key in FAST_KEYS},
        "glue": {"wsc": {"predictions": [{"id": f"wsc_{i}", "pred": label}
                                         for i, label in enumerate(glue_labels("wsc"))]}},
        "wug_adj": {"wug_adj": {"predictions": [
            {"id": f"wug_adj_{i}", "pred": item.candidates[0], "prob": i / len(wug)}
            for i, item in enumerate(wug)]}},
        "aoa": {"results": [{"step": r, "surprisal": 3.0} for r in REVISIONS]},
    }


@pytest.fixture(scope="module")
def base_submission(eval_data: Path) -> str:
    return json.dumps(submission())


@PROPERTY
@given(data=st.data(), only=st.sets(st.sampled_from(
    ["fast_eval_results", "glue", "wug_adj", "aoa", "blimp", "reading"]), max_size=3))
def test_a_mutated_submission_is_checked_or_one_line(base_submission: str, tmp_path: Path,
                                                     data: st.DataObject,
                                                     only: set[str]) -> None:
    folder = tmp_path / "check"
    folder.mkdir(exist_ok=True)
    path = folder / "s.json"
    path.write_text(json.dumps(mutate(data, json.loads(base_submission))))
    options = ["--only", ",".join(sorted(only))] if only else []
    code, _, err = run_cli(["babylm", "check", str(path), "--revisions", ",".join(REVISIONS),
                            "--skip", "glue/boolq,glue/mnli,glue/mrpc,glue/multirc,glue/qqp,"
                            "glue/rte", *options])
    one_line_or_result(code, err)
    assert [p.name for p in folder.iterdir()] == ["s.json"]


# -- the results JSON (and marker, predictions) that `babylm export` reads --------------------
def write_run(run: Path) -> dict[str, Path]:
    """A run folder written as lm-eval and classit-eval finetune write one: WUG adj fast on
    chck_1M (results, sample log, the run's marker) and WSC predictions on main."""
    run.mkdir(parents=True)
    (run / "classit_babylm.json").write_text(json.dumps(
        {"model": MODEL, "backend": "causal", "track": "strict-small",
         "revisions": ["chck_1M"]}))
    task = "classit_wug_adj_fast"
    unit = run / "chck_1M" / task
    (unit / "m").mkdir(parents=True)
    results = unit / "m" / f"results_{DATE}.json"
    results.write_text(json.dumps({
        "results": {task: {"alias": task}}, "configs": {task: {"task": task}},
        "config": {"model_args": f"pretrained={MODEL},revision=chck_1M", "limit": None},
        "date": 1.0}))
    items = family_items(FAMILIES["wug_adj"], fast=True)["wug_adj"]
    with open(unit / "m" / f"samples_{task}_{DATE}.jsonl", "w") as handle:
        for k, item in enumerate(items):
            handle.write(json.dumps({
                "doc_id": k, "arguments": {f"gen_args_{i}": {"arg_0": "", "arg_1": c}
                                           for i, c in enumerate(item.candidates)},
                "filtered_resps": [[str(-1.0 - math.sin(k + i)), "False"]
                                   for i in range(len(item.candidates))]}) + "\n")
    marker = unit / DONE
    marker.write_text(json.dumps({"results": f"m/results_{DATE}.json",
                                  "samples": {task: f"m/samples_{task}_{DATE}.jsonl"}}))
    glue = run / "main" / "classit_finetune_wsc" / "m"
    glue.mkdir(parents=True)
    glue_results = glue / f"results_{DATE}.json"
    glue_results.write_text(json.dumps({"config": {"model_args": f"pretrained={MODEL}"}}))
    predictions = glue / f"predictions_classit_finetune_wsc_{DATE}.jsonl"
    predictions.write_text("".join(json.dumps({"doc_id": i, "pred": label}) + "\n"
                                   for i, label in enumerate(glue_labels("wsc"))))
    return {"results": results, "marker": marker, "glue_results": glue_results,
            "predictions": predictions}


def test_the_hand_made_run_exports(eval_data: Path, tmp_path: Path) -> None:
    write_run(tmp_path / "run")
    target = tmp_path / "out" / "s.json"
    code, out, err = run_cli(["babylm", "export", str(tmp_path / "run"), "--allow-missing",
                              "--output", str(target)])
    assert code == 0, err
    written = json.loads(target.read_text())
    assert len(written["glue"]["wsc"]["predictions"]) == 52
    assert -1 <= written["fast_eval_results"]["wug_adj"][0]["wug_adj"] <= 1


@PROPERTY
@given(data=st.data(), which=st.sampled_from(["results", "marker", "glue_results",
                                              "predictions"]))
def test_a_mutated_run_folder_exports_or_is_one_line(eval_data: Path, tmp_path: Path,
                                                    data: st.DataObject, which: str) -> None:
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    files = write_run(root / "run")
    path = files[which]
    if which == "predictions":  # one line of the JSONL file
        lines = path.read_text().splitlines()
        k = data.draw(st.integers(0, len(lines) - 1), label="line")
        lines[k] = json.dumps(mutate(data, json.loads(lines[k])))
        path.write_text("\n".join(lines) + "\n")
    else:
        path.write_text(json.dumps(mutate(data, json.loads(path.read_text()))))
    before = tree_hashes(root)
    target = root / "out" / "s.json"
    code, _, err = run_cli(["babylm", "export", str(root / "run"), "--allow-missing",
                            "--output", str(target)])
    one_line_or_result(code, err)
    after = tree_hashes(root)
    assert {k: v for k, v in after.items() if not k.startswith("out")} == before
    assert {k for k in after if k.startswith("out")} <= {"out", "out/s.json"}
    assert code != 0 or target.is_file()

"""`classit-eval babylm export`: every bad input is one error line naming the file, on a
real run folder (a tiny model's WUG task on two checkpoints) damaged in one way each."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from classit_eval import cli
from classit_eval.leaderboard.run_folder import DONE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wug_run(pretrained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of the WUG task on chck_2K, chck_4K and the final model."""
    out = tmp_path_factory.mktemp("wug-run") / "run"
    assert cli.main(["babylm", "run", "--model", str(pretrained), "--track", "strict-small",
                     "--output-dir", str(out), "--revisions", "chck_2K,chck_4K",
                     "--tasks", "wug_adj", "--model-args", "dtype=float32",
                     "--no-export"]) == 0
    return out


def damaged(wug_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(wug_run, copy)
    return copy


def export_error(run: Path, capsys, *extra: str) -> str:
    """The one error line of an export of `run` that must fail."""
    capsys.readouterr()
    code = cli.main(["babylm", "export", str(run), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("classit-eval babylm export: error: ")
    return err[0]


def samples_file(run: Path, revision: str, task: str) -> Path:
    return next((run / revision / task).rglob(f"samples_{task}_*.jsonl"))


def test_the_run_exports(wug_run: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "s.json"
    assert cli.main(["babylm", "export", str(wug_run), "--allow-missing",
                     "--output", str(target)]) == 0
    submission = json.loads(target.read_text())
    assert [len(v["predictions"]) for v in submission["wug_adj"].values()] == [200]
    first = submission["wug_adj"]["wug_adj"]["predictions"][0]
    assert first["id"] == "wug_adj_0" and 0 <= first["prob"] <= 1
    assert first["pred"].startswith("Create a noun out of the following adjective: actignable.")


def test_a_missing_revision_is_named(wug_run: Path, tmp_path: Path, capsys) -> None:
    run = damaged(wug_run, tmp_path)
    shutil.rmtree(run / "chck_4K")
    error = export_error(run, capsys)
    assert "parts of the submission are missing: " in error
    assert "no results for revision(s) chck_4K; main/classit_blimp, " in error
    assert "--allow-missing" in error


def test_results_of_another_checkpoint_or_model(wug_run: Path, tmp_path: Path,
                                                capsys, pretrained: Path) -> None:
    run = damaged(wug_run, tmp_path)
    shutil.rmtree(run / "chck_2K")
    shutil.copytree(run / "chck_4K", run / "chck_2K")
    error = export_error(run, capsys, "--allow-missing")
    assert f"results of {pretrained}/chck_4K, but {run}/chck_2K must hold those of " \
           f"{pretrained} at chck_2K" in error
    other = damaged(wug_run, tmp_path / "other")
    error = export_error(other, capsys, "--allow-missing", "--model", "/models/someone-else")
    assert "must hold those of /models/someone-else" in error


def test_a_task_run_with_limit(wug_run: Path, tmp_path: Path, capsys) -> None:
    run = damaged(wug_run, tmp_path)
    results = next((run / "main" / "classit_wug_adj").rglob("results_*.json"))
    data = json.loads(results.read_text())
    data["config"]["limit"] = 20
    results.write_text(json.dumps(data))
    error = export_error(run, capsys, "--allow-missing")
    assert f"{results}: classit_wug_adj was run with --limit 20" in error


def test_a_sample_log_of_the_wrong_length(wug_run: Path, tmp_path: Path, capsys) -> None:
    run = damaged(wug_run, tmp_path)
    path = samples_file(run, "chck_2K", "classit_wug_adj_fast")
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    error = export_error(run, capsys, "--allow-missing")
    assert "classit_wug_adj_fast has 199 documents, its data " \
           "(fast_eval/wug_adj_nominalization) has 200" in error


def test_a_predictions_file_of_the_wrong_length(wug_run: Path, tmp_path: Path,
                                                capsys) -> None:
    run = damaged(wug_run, tmp_path)
    folder = run / "main" / "classit_finetune_wsc" / "model"
    folder.mkdir(parents=True)
    path = folder / "predictions_classit_finetune_wsc_2025.jsonl"
    path.write_text("".join(json.dumps({"doc_id": i, "id": f"wsc_{i}", "pred": 0, "gold": 0})
                            + "\n" for i in range(51)))
    error = export_error(run, capsys, "--allow-missing")
    assert f"{path}: 51 predictions, the wsc validation file has 52" in error


def test_a_cut_off_run_is_not_exported(wug_run: Path, tmp_path: Path, capsys) -> None:
    """A run killed after writing its results but before its sample log."""
    run = damaged(wug_run, tmp_path)
    samples_file(run, "main", "classit_wug_adj").unlink()
    (run / "main" / "classit_wug_adj" / DONE).unlink()
    error = export_error(run, capsys, "--allow-missing")
    assert "no sample log samples_classit_wug_adj_" in error and "--log_samples" in error


def hand_run(run: Path, revision: str, task: str) -> Path:
    """A copy of the run's results of `task` placed by hand in the revision folder, as a
    later run with other settings would leave them (scoring=full)."""
    own = next((run / revision / task).rglob("results_*.json"))
    date = own.stem.removeprefix("results_")
    folder = run / revision / "by-hand" / own.parent.name
    folder.mkdir(parents=True)
    data = json.loads(own.read_text())
    data["date"] += 1000
    data["config"]["model_args"] = data["config"]["model_args"].replace(
        "scoring=babylm2025", "scoring=full")
    copy = folder / "results_2099-01-01T00-00-00.json"
    copy.write_text(json.dumps(data))
    for sample in own.parent.glob(f"samples_*_{date}.jsonl"):
        shutil.copy(sample, folder / sample.name.replace(date, "2099-01-01T00-00-00"))
    return copy


def test_a_hand_run_beside_the_runs_results_is_ambiguous(wug_run: Path, tmp_path: Path,
                                                         capsys) -> None:
    run = damaged(wug_run, tmp_path)
    copy = hand_run(run, "main", "classit_wug_adj")
    target = tmp_path / "s.json"
    error = export_error(run, capsys, "--allow-missing", "--output", str(target))
    own = next((run / "main" / "classit_wug_adj").rglob("results_*.json"))
    assert f"{run}/main: {copy} also holds classit_wug_adj, beside the run's own {own}" in error
    assert not target.exists()
    # without the run's marker, two results of one task: no guess either
    (run / "main" / "classit_wug_adj" / DONE).unlink()
    error = export_error(run, capsys, "--allow-missing", "--output", str(target))
    assert f"{run}/main: 2 files hold classit_wug_adj" in error and "no marker" in error
    assert not target.exists()

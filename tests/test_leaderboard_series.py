"""`classit-eval babylm run` on a tiny model trained by `classit-eval train pretrain` with
checkpoint milestones: the workflow end to end, a kill and a resume, and the errors it
gives before evaluating anything."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from classit_eval import cli
from classit_eval.data.series import Checkpoint, find_checkpoints, revision_words
from classit_eval.families import GLUE_SIZES
from classit_eval.leaderboard.run_folder import DONE, RUN_MANIFEST
from classit_eval.leaderboard.series import Session, Unit

REPO = Path(__file__).resolve().parent.parent
REVISIONS = "chck_2K,chck_4K,chck_6K"
def run_argv(model: Path, out: Path, *extra: str) -> list[str]:
    """`babylm run` of the `pretrained` fixture (conftest.py) on its three checkpoints."""
    return ["babylm", "run", "--model", str(model), "--track", "strict-small",
            "--output-dir", str(out), "--revisions", REVISIONS, "--model-args", "dtype=float32",
            *extra]


def markers(out: Path) -> dict[str, dict]:
    """Every finished (revision, task), by `revision/task`."""
    return {f"{p.parent.parent.name}/{p.parent.name}": json.loads(p.read_text())
            for p in out.glob(f"*/*/{DONE}")}


def test_checkpoints_are_found_by_name(tmp_path: Path) -> None:
    for name in ("chck_1M", "chck_2M"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}")
    (tmp_path / "chck_3M").mkdir()  # no config.json: not a checkpoint
    found, missing = find_checkpoints(str(tmp_path), ["chck_1M", "chck_2M", "chck_3M"])
    assert [c.revision for c in found] == ["chck_1M", "chck_2M"] and missing == ["chck_3M"]
    assert found[0].pretrained == str(tmp_path / "chck_1M") and found[0].hub_revision is None
    assert revision_words("chck_20M") == 20_000_000 and revision_words("chck_2K") == 2000


def test_missing_checkpoints_are_one_error_before_anything_runs(tmp_path: Path,
                                                                 capsys) -> None:
    (tmp_path / "model" / "chck_1M").mkdir(parents=True)
    (tmp_path / "model" / "chck_1M" / "config.json").write_text("{}")
    out = tmp_path / "out"
    code = cli.main(["babylm", "run", "--model", str(tmp_path / "model"), "--track",
                     "strict-small", "--output-dir", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "18 of the 19 checkpoints of track strict-small are missing: chck_2M, chck_3M" in (
        err[0])
    assert "--allow-missing" in err[0] and not out.exists()


def test_an_output_folder_of_another_model_is_refused(tmp_path: Path, capsys) -> None:
    (tmp_path / "model" / "chck_1M").mkdir(parents=True)
    (tmp_path / "model" / "chck_1M" / "config.json").write_text("{}")
    out = tmp_path / "out"
    out.mkdir()
    (out / RUN_MANIFEST).write_text(json.dumps({"model": "/models/other", "backend": "causal",
                                            "scoring": "babylm2025", "model_args": {}}))
    code = cli.main(["babylm", "run", "--model", str(tmp_path / "model"), "--track",
                     "strict-small", "--output-dir", str(out), "--revisions", "chck_1M"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert f"{out} holds the results of another run (model='/models/other' here" in err[0]


def test_bad_finetune_arguments_stop_the_run_at_once(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["babylm", "run", "--model", str(tmp_path), "--track", "strict-small",
                  "--output-dir", str(tmp_path / "out"), "--finetune-args", "--epochs 0"])
    code = exit_.value.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--epochs: 0" in err[0]


@pytest.mark.slow
def test_the_workflow_end_to_end(pretrained: Path, tmp_path: Path, capsys) -> None:
    """Fast tasks on three checkpoints, the full ones and fine-tuning on the final model,
    the submission file written and accepted by check (for the tasks that were run)."""
    out = tmp_path / "run"
    assert cli.main(run_argv(pretrained, out, "--tasks", "wug_adj,reading,glue",
                             "--glue-tasks", "wsc", "--allow-missing", "--finetune-args",
                             "--epochs 1 --max-train-examples 16 --batch-size 8")) == 0
    printed = capsys.readouterr().out
    assert "blimp" not in markers(out) and set(markers(out)) == {
        "chck_2K/classit_wug_adj_fast", "chck_4K/classit_wug_adj_fast",
        "chck_6K/classit_wug_adj_fast", "chck_2K/classit_reading_fast",
        "chck_4K/classit_reading_fast", "chck_6K/classit_reading_fast",
        "main/classit_wug_adj", "main/classit_reading", "main/classit_finetune_wsc"}
    path = out / "all_full_preds_and_fast_scores_causal.json"
    assert f"wrote {path}" in printed
    submission = json.loads(path.read_text())
    assert len(submission["glue"]["wsc"]["predictions"]) == 52
    assert len(submission["reading"]["reading"]["predictions"]) == 1726
    fast = submission["fast_eval_results"]
    assert len(fast["wug_adj"]) == 3 and fast["blimp"] == [None, None, None]
    for i, revision in enumerate(REVISIONS.split(",")):  # official formula == task's metric
        task = markers(out)[f"{revision}/classit_wug_adj_fast"]["scores"]["spearman"]
        assert fast["wug_adj"][i]["wug_adj"] == pytest.approx(task, abs=1e-12)
        reading = markers(out)[f"{revision}/classit_reading_fast"]["scores"]
        assert fast["reading"][i]["rt"] == pytest.approx(reading["eye_tracking"] / 100)
        assert math.isfinite(reading["eye_tracking_token_null"])  # the model's tokenizer
    skip = ",".join(f"glue/{t}" for t in GLUE_SIZES if t != "wsc")
    code = cli.main(["babylm", "check", str(path), "--revisions", REVISIONS, "--only",
                     "wug_adj,reading,glue,fast_eval_results", "--skip", skip])
    report = capsys.readouterr().out
    assert code == 0, report
    assert "0 problem(s), the file is valid" in report
    # without --only, the tasks not run are reported, and the file is marked incomplete
    assert cli.main(["babylm", "check", str(path), "--revisions", REVISIONS]) == 1
    assert "classit_incomplete / blimp: exported with --allow-missing; missing " \
           "main/classit_blimp" in capsys.readouterr().out
    figure = tmp_path / "curves.png"
    assert cli.main(["babylm", "curves", str(out), str(path), "--plot", str(figure),
                     "--track", "strict-small"]) == 0
    assert figure.stat().st_size > 1000


@pytest.mark.slow
def test_a_killed_run_resumes_without_redoing_finished_work(pretrained: Path,
                                                            tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    argv = run_argv(pretrained, out, "--tasks", "wug_adj", "--no-export")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "classit_eval", *argv], cwd=REPO,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    second = out / "chck_4K" / "classit_wug_adj_fast" / DONE
    deadline = time.monotonic() + 600
    while not second.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert second.is_file(), "the run ended or timed out before its second revision"
    before = markers(out)
    assert {"chck_2K/classit_wug_adj_fast", "chck_4K/classit_wug_adj_fast"} <= set(before)
    assert "main/classit_wug_adj" not in before

    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    after = markers(out)
    first_run, second_run = (r["run_id"] for r in json.loads((out / RUN_MANIFEST).read_text())
                             ["runs"])
    for name in ("chck_2K/classit_wug_adj_fast", "chck_4K/classit_wug_adj_fast"):
        assert f"{name}: done before, skipped" in printed
        assert after[name] == before[name] and after[name]["run_id"] == first_run
    ran = {name for name, record in after.items() if record["run_id"] == second_run}
    assert "main/classit_wug_adj" in ran and ran <= {"chck_6K/classit_wug_adj_fast",
                                                     "main/classit_wug_adj"}
    assert set(after) == {f"{r}/classit_wug_adj_fast" for r in REVISIONS.split(",")} | {
        "main/classit_wug_adj"}


def settings(**changes) -> argparse.Namespace:
    """The settings `babylm run` hands its Session."""
    return argparse.Namespace(**{
        "reading_bootstrap": 0, "scoring": "babylm2025", "data_dir": None,
        "model_args": {"dtype": "float32"}, "device": "cpu", "batch_size": 32,
        "backend": "causal", "bootstrap_iters": 0, **changes})


@pytest.mark.slow
def test_reused_requests_and_swapped_weights_score_as_a_fresh_run(
        pretrained: Path, tiny_model_nobos: Path, tmp_path: Path) -> None:
    """Weights swapped into one model, requests and encodings reused: the same scores as
    lm-eval run afresh on each checkpoint; a checkpoint with another tokenizer gets a model
    of its own."""
    import lm_eval

    from classit_eval.data.checkpoints import fingerprint
    from classit_eval.lmeval.plugin import task_manager

    session = Session(settings(), tmp_path / "run", "test")
    unit = Unit("classit_wug_adj_fast", "wug_adj")
    ours = {}
    for revision in REVISIONS.split(","):
        ours[revision] = session.evaluate(Checkpoint(revision, str(pretrained / revision)), unit)
    first = session.lm
    assert first.encode_seconds > 0 and len(first.encodings) == 400  # 200 docs x 2
    for revision in ("chck_2K", "chck_6K"):
        fresh = lm_eval.simple_evaluate(
            model="classit", model_args={"pretrained": str(pretrained / revision),
                                         "scoring": "babylm2025", "dtype": "float32"},
            tasks=[unit.task], device="cpu", task_manager=task_manager(classit_only=True),
            bootstrap_iters=0)
        assert ours[revision]["scores"]["spearman"] == pytest.approx(
            fresh["results"][unit.task]["spearman,none"], abs=1e-12)
    other = Checkpoint("other", str(tiny_model_nobos))
    assert fingerprint(first.tokenizer) != fingerprint(
        AutoTokenizer.from_pretrained(tiny_model_nobos))
    assert session.lm_for(other) is not first
    assert session.lm_for(other) is session.lm  # the same tokenizer again: swapped in place


def test_swapped_weights_reach_the_float64_copy_that_certifies(pretrained: Path) -> None:
    """After load_weights, the documents re-scored in float64 must be scored by the new
    checkpoint: its float64 copy, not the first checkpoint's."""
    import torch

    from classit_eval.lmeval.backend import ClassitLM

    lm = ClassitLM(pretrained=str(pretrained / "chck_2K"), device="cpu")
    first = lm.scorer.exact_model()  # loaded now, from chck_2K
    lm.load_weights(str(pretrained / "chck_6K"))
    exact = lm.scorer.exact_model()
    assert exact is not first and exact.dtype == torch.float64
    for (name, a), b in zip(exact.named_parameters(), lm.model.parameters(), strict=True):
        assert torch.equal(a, b.double()), name
    assert not all(torch.equal(a, b) for a, b in
                   zip(first.parameters(), exact.parameters(), strict=True))

"""Faults and scale: a pretraining killed with SIGKILL resumes to the same weights as an
uninterrupted run, and 2 processes (torchrun, gloo on CPU) train as 1 with twice the batch."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from classit_eval import cli
from tests.tiny import tiny_pretrain_argv

pytestmark = pytest.mark.slow

def pretrain_args(shared_data: Path, tokenizer: Path, out: Path, *extra: str) -> list[str]:
    text = shared_data / "corpora" / "babylm-samples" / "train_100k" / "open_subtitles.train"
    return tiny_pretrain_argv(text, tokenizer, out, "--seq-len", "64", "--warmup-steps", "10",
                              "--checkpoint-words", "20k", *extra)


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def assert_same_weights(a: Path, b: Path) -> None:
    left, right = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert left.keys() == right.keys()
    for name in left:
        assert (left[name] - right[name]).abs().max().item() < 1e-5, name


def test_sigkill_then_resume_ends_with_the_uninterrupted_weights(
    shared_data: Path, tiny_model: Path, tmp_path: Path
) -> None:
    steps = ["--max-steps", "400", "--save-every-steps", "25"]
    reference = tmp_path / "reference"
    assert cli.train_main(pretrain_args(shared_data, tiny_model, reference, *steps)) == 0

    out = tmp_path / "killed"
    argv = [sys.executable, "-m", "classit_eval", "train",
            *pretrain_args(shared_data, tiny_model, out, *steps)]
    process = subprocess.Popen(argv, env=env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("resume/state_*/progress.json")):
        assert process.poll() is None, f"the run ended before its first state: {process.stderr}"
        assert time.monotonic() < deadline, "no resume state within 2 minutes"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    saved = json.loads(next(out.glob("resume/state_*/progress.json")).read_text())
    assert 0 < saved["step"] < 400 and not (out / "model.safetensors").exists()

    resumed = subprocess.run([*argv, "--resume"], env=env(), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from {out / 'resume'}" in resumed.stdout
    assert_same_weights(reference, out)
    assert_same_weights(reference / "chck_20K", out / "chck_20K")
    record = json.loads((out / "classit_train.json").read_text())
    assert record["step"] == 400
    assert record["words_seen"] == json.loads((reference / "classit_train.json").read_text())[
        "words_seen"]


def test_an_unfinished_run_is_not_overwritten_without_resume(
    shared_data: Path, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    (out / "resume" / "state_5").mkdir(parents=True)
    (out / "resume" / "state_5" / "progress.json").write_text("{}")
    assert cli.train_main(pretrain_args(shared_data, tiny_model, out)) == 2
    assert "Pass --resume to continue it" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None,
                    reason="torchrun not installed")
def test_two_processes_train_as_one_with_twice_the_batch(
    shared_data: Path, tiny_model: Path, tmp_path: Path
) -> None:
    single = tmp_path / "single"
    assert cli.train_main(pretrain_args(shared_data, tiny_model, single,
                                  "--max-steps", "12", "--batch-size", "4")) == 0
    double = tmp_path / "double"
    torchrun = Path(sys.executable).parent / "torchrun"
    run = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "--master_port", "29517", "-m",
         "classit_eval", "train",
         *pretrain_args(shared_data, tiny_model, double, "--max-steps", "12",
                        "--batch-size", "2")],
        env=env(), capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((double / "classit_train.json").read_text())
    assert record["processes"] == 2 and record["step"] == 12
    assert_same_weights(single, double)

"""Data-parallel evaluation: two processes (torchrun, gloo on the CPU) give one's results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TASKS = ("classit_blimp_fast_wh_island,classit_ewok_fast_physical_relations,"
         "classit_entity_tracking_fast_regular,classit_wug_adj_fast")
# what differs between any two runs: when they ran and for how long
VOLATILE = ("date", "total_evaluation_time_seconds", "start_time", "end_time")


def run(launcher: list[str], model: Path, out: Path) -> dict:
    command = [*launcher, "-m", "classit_eval", "run", "--model", "classit", "--model_args",
               f"pretrained={model}", "--device", "cpu", "--batch_size", "4", "--tasks", TASKS,
               "--limit", "9", "--output_path", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = out.rglob("results_*.json")
    results = json.loads(path.read_text())
    return {k: v for k, v in results.items() if k not in VOLATILE}


@pytest.mark.slow
def test_two_processes_give_the_results_file_of_one(tiny_model, tmp_path):
    one = run([sys.executable], tiny_model, tmp_path / "one")
    two = run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"],
              tiny_model, tmp_path / "two")
    assert one["n-samples"] == two["n-samples"]
    assert one["results"] == two["results"]
    assert one == two

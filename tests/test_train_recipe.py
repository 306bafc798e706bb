"""The CLASS-IT recipe end to end at toy scale (scripts/classit_recipe.py): tokenizer,
pretraining with milestones, Switchboard and SmolLM2-written Wikipedia pairs, the three
curricula, the zero-shot fast suite on every checkpoint, z-scores. A few minutes on 2 cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from classit_eval.data import smollm2
from classit_eval.train import metadata

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "classit_recipe.py"
MODELS = {"chck_50K", "chck_100K", "chck_150K", "pretrained", "instructed_merged",
          "instructed_switch_wiki", "instructed_wiki_switch"}


def recipe(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CLASSIT_TOKEN_CACHE": str(cache)}
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True,
                          text=True, timeout=1200)


def test_the_toy_recipe_runs_end_to_end(shared_data: Path, tmp_path: Path) -> None:
    try:
        smollm2.gguf_path()  # SmolLM2 writes the Wikipedia pairs
    except (ModuleNotFoundError, FileNotFoundError) as err:
        pytest.skip(str(err))
    work = tmp_path / "recipe"
    run = recipe("--scale", "toy", "--work", str(work), cache=tmp_path / "cache")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    print(run.stdout[run.stdout.index("the recipe at toy scale took"):])

    pretrained = metadata.read(work / "pretrained")
    assert pretrained["command"] == "pretrain" and pretrained["words_seen"] > 150_000
    for label in ("chck_50K", "chck_100K", "chck_150K"):
        assert metadata.read(work / "pretrained" / label)["revision"] == label
    stages = {c: [s["name"] for s in metadata.read(work / f"instructed_{c}")["stages"]]
              for c in ("merged", "switch_wiki", "wiki_switch")}
    assert stages == {"merged": ["merged"], "switch_wiki": ["switchboard", "wiki"],
                      "wiki_switch": ["wiki", "switchboard"]}
    zscores = json.loads((work / "zscores.json").read_text())
    assert set(zscores["models"]) == MODELS
    assert "classit_blimp" in zscores["columns"] and len(zscores["columns"]) == 5
    assert (work / "zscores.md").read_text().count("instructed_") >= 3

    again = recipe("--scale", "toy", "--work", str(work), cache=tmp_path / "cache")
    assert again.returncode == 0 and again.stdout.count("done already: skipped") == 15


def test_the_paper_recipe_states_the_posters_settings(tmp_path: Path) -> None:
    corpus = tmp_path / "train_100M"
    corpus.mkdir()
    for name in ("bnc_spoken", "simple_wiki", "switchboard"):
        (corpus / f"{name}.train").write_text("a line\n")
    run = recipe("--scale", "paper", "--corpus", str(corpus), "--work", str(tmp_path / "w"),
                 "--dry-run", cache=tmp_path / "cache")
    assert run.returncode == 0, run.stderr
    commands = [line[2:] for line in run.stdout.splitlines() if line.startswith("$ ")]
    pretrain = next(c for c in commands if c.startswith("classit-train pretrain"))
    assert "models/llama-100m.json" in pretrain and "--epochs" not in pretrain  # the defaults
    assert "--vocab-size 16384" in commands[0]
    assert "meta-llama/Llama-3.2-3B-Instruct" in commands[3]
    assert sum(c.startswith("classit-train instruct ") for c in commands) == 3
    evaluations = [c for c in commands if c.startswith("classit-eval run")]
    assert len(evaluations) == 28 + 1 + 3 and all("--limit" not in c for c in evaluations)
    assert all("classit_zero_shot_fast" in c for c in evaluations)
    assert not (tmp_path / "w").exists()

"""The published BabyLM 2025 baselines in leaderboards/: the files are what the script
writes from its transcribed tables, and classit-zscore puts a user's model among them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from classit_eval import cli

REPO = Path(__file__).resolve().parent.parent
BASELINES = REPO / "leaderboards" / "babylm-2025"


def test_the_files_are_the_scripts_output(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_leaderboard_baselines.py"),
                    "--out", str(tmp_path)], check=True, capture_output=True)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.json"))
    stored = sorted(p.relative_to(BASELINES) for p in BASELINES.rglob("*.json"))
    assert written == stored and len(stored) == 17
    for path in stored:
        assert (tmp_path / path).read_text() == (BASELINES / path).read_text(), path
    mixed = json.loads((BASELINES / "strict-small-causal" / "gpt-bert-mixed_strict-small-causal"
                        / "results_baseline.json").read_text())
    assert mixed["results"]["classit_blimp"] == {"acc,none": 0.6962}
    assert mixed["results"]["classit_reading"]["eye_tracking,none"] == 9.5
    assert mixed["classit_source"]["commit"].startswith("19993f9")


def test_a_model_is_z_scored_against_the_baselines(tmp_path: Path, capsys) -> None:
    mine = tmp_path / "results" / "my-model"
    mine.mkdir(parents=True)
    (mine / "results_1.json").write_text(json.dumps({"results": {
        "classit_blimp": {"acc,none": 0.70}, "classit_blimp_supplement": {"acc,none": 0.60},
        "classit_ewok": {"acc,none": 0.50}, "classit_entity_tracking": {"acc,none": 0.30},
        "classit_reading": {"eye_tracking,none": 5.0, "self_paced_reading,none": 2.0}},
        "date": 1.0}))
    table = BASELINES / "strict-small-causal"
    references = [arg for p in sorted(table.iterdir()) for arg in ("--reference", p.name)]
    out = tmp_path / "z.json"
    assert cli.main(["zscore", str(tmp_path / "results"), str(table), *references,
                     "--json", str(out)]) == 0
    assert "my-model" in capsys.readouterr().out
    assert "my-model" in out.read_text()

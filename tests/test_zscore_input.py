"""`classit-zscore` on hand-written results files: what a user's file may hold instead of
lm-eval's, and output options that cannot be written. No model runs (fast lane)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classit_eval import cli


def results_folder(root: Path, blimp: dict[str, object]) -> Path:
    """One lm-eval-style results file per model, with its `classit_blimp_fast` entry and a
    WUG score."""
    for i, (model, entry) in enumerate(blimp.items()):
        folder = root / model
        folder.mkdir(parents=True)
        document = {"results": {"classit_blimp_fast": entry,
                                "classit_wug_adj_fast": {"spearman,none": 0.1 * i}},
                    "date": 1.0e9 + i}
        (folder / "results_2026-01-01T00-00-00.json").write_text(json.dumps(document))
    return root


def test_a_null_task_result_is_left_out_with_one_warning(tmp_path: Path, capsys) -> None:
    root = results_folder(tmp_path / "results", {"a": {"acc,none": 0.6}, "b": None,
                                                 "c": {"acc,none": 0.7}})
    assert cli.zscore_main([str(root), "--json", "-"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    warnings = [line for line in captured.err.splitlines() if "classit_blimp_fast has" in line]
    assert len(warnings) == 1 and "task classit_blimp_fast has null where lm-eval writes an " \
        "object of metrics; left out." in warnings[0]
    assert "Traceback" not in captured.err
    assert set(document["models"]) == {"a", "b", "c"}  # b keeps its WUG score


@pytest.mark.parametrize("option", ["--json", "--csv", "--markdown", "--plot"])
def test_an_output_naming_a_folder_is_one_line_and_nothing_written(tmp_path: Path, capsys,
                                                                   option: str) -> None:
    root = results_folder(tmp_path / "results", {"a": {"acc,none": 0.6},
                                                 "b": {"acc,none": 0.7}})
    target = tmp_path / "reports"
    target.mkdir()
    with pytest.raises(SystemExit) as exit_:
        cli.zscore_main([str(root), option, str(target)])
    assert exit_.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"argument {option}: {target} is a folder: give a file name" in line
    assert list(target.iterdir()) == []

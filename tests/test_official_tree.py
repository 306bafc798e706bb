"""The official results tree (`babylm export --official-tree`) against the organisers'
collator (`collate_preds.py`, imported from ../shared/data/reference as an oracle)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from classit_eval import cli
from classit_eval.data.series import TRACKS
from classit_eval.families import FAMILIES, FAST_KEYS, GLUE_SIZES
from classit_eval.leaderboard.official_tree import model_stem, write_tree
from classit_eval.leaderboard.tracks import AOA_KEY, FAST_RESULTS_KEY, GLUE_KEY
from scripts import make_format_fixtures as fixtures
from tests.oracles import official_collator as collator

REVISIONS = ["chck_2K", "chck_4K"]


@pytest.fixture(scope="module")
def collate():
    if not collator.COLLATOR.is_file():
        pytest.fail(f"the organisers' collator is not at {collator.COLLATOR}")
    return collator.load_module()


def collator_args(results: Path, model: str, track: str = "strict-small") -> argparse.Namespace:
    return argparse.Namespace(results_dir=results, model_path_or_name=Path(model),
                              backend="causal", revision_name="main", track=track,
                              multimodal=False, fast=True)


def test_the_tree_has_every_file_the_collator_looks_for(tmp_path, collate, capsys):
    """Every path `collate_preds.py` requires, for the final model and each revision."""
    submission = {key: {} for key in FAMILIES} | {GLUE_KEY: dict.fromkeys(GLUE_SIZES, []),
                                                  AOA_KEY: {"results": []}}
    revisions = TRACKS["strict-small"]
    fast = {revision: dict.fromkeys(FAST_KEYS, {}) for revision in revisions}
    files = write_tree(tmp_path, "/models/my-model.v2/", "causal", submission, fast)
    assert model_stem("/models/my-model.v2/") == "my-model" == Path("my-model.v2").stem
    args = collator_args(tmp_path, "/models/my-model.v2")
    assert collate._check_validity_of_dir(args, "main", fast=False)
    assert all(collate._check_validity_of_dir(args, r, fast=True) for r in revisions)
    assert capsys.readouterr().out == ""  # the collator names nothing missing
    assert len(files) == len(FAMILIES) + len(GLUE_SIZES) + 1 + len(revisions) * len(FAST_KEYS)
    (tmp_path / "my-model" / "main" / "zero_shot" / "causal" / "comps" / "comps" /
     "predictions.json").unlink()
    assert not collate._check_validity_of_dir(args, "main", fast=False)


def test_the_tree_writes_through_no_link_and_no_parent_folder(tmp_path):
    """A linked folder inside the tree, or a model name whose stem is `..`, is one error:
    nothing is written outside the folder given."""
    from classit_eval.errors import ResultsError

    outside = tmp_path / "outside"
    outside.mkdir()
    tree = tmp_path / "tree"
    (tree / "m").mkdir(parents=True)
    (tree / "m" / "main").symlink_to(outside, target_is_directory=True)
    submission = {GLUE_KEY: {"rte": []}}
    with pytest.raises(ResultsError, match="symbolic link"):
        write_tree(tree, "/models/m", "causal", submission, {})
    with pytest.raises(ResultsError, match="no folder name"):
        write_tree(tree, "/models/x/..", "causal", submission, {})
    assert list(outside.iterdir()) == []


@pytest.mark.slow
def test_run_export_and_the_collator_agree_on_two_checkpoints(pretrained, eval_data, tmp_path,
                                                              collate, capsys):
    """`babylm run` on two checkpoints (the WUG, COMPS, reading and WSC parts; format
    fixtures where data is absent) -> `babylm export --official-tree` -> the collator's own
    functions on that tree: its predictions are ours, its fast scores within 1e-6."""
    staging = tmp_path / "fixtures"
    fixtures.write_fixtures(staging, comps_per_file=3, train_lines=8)
    data = fixtures.overlay(eval_data, staging, tmp_path / "data")
    run_dir, tree = tmp_path / "run", tmp_path / "results"
    tasks = "wug_adj,wug_past,comps,reading,glue"
    assert cli.main(["babylm", "run", "--model", str(pretrained), "--track", "strict-small",
                     "--output-dir", str(run_dir), "--revisions", ",".join(REVISIONS),
                     "--tasks", tasks, "--glue-tasks", "wsc", "--allow-missing",
                     "--no-export", "--data-dir", str(data), "--finetune-args",
                     "--epochs 1 --max-train-examples 16 --batch-size 8"]) == 0
    assert cli.main(["babylm", "export", str(run_dir), "--allow-missing", "--data-dir",
                     str(data), "--official-tree", str(tree)]) == 0
    capsys.readouterr()
    ours = collator.read(run_dir / "all_full_preds_and_fast_scores_causal.json")
    main = tree / model_stem(str(pretrained)) / "main"
    zero_shot = main / "zero_shot" / "causal"
    theirs = {  # what collate_full_eval_preds reads, part by part
        "wug_adj": zero_shot / "wug_adj" / "wug_adj_nominalization" / "predictions.json",
        "wug_past": zero_shot / "wug_past" / "wug_past_tense" / "predictions.json",
        "comps": zero_shot / "comps" / "comps" / "predictions.json",
        "reading": zero_shot / "reading" / "predictions.json",
    }
    for key, path in theirs.items():
        loaded = collate._load_results(path)
        assert not collator.differences(ours[key], loaded), key
        if key != "comps":  # the COMPS fixture here is 3 pairs a file, not the official size
            assert collate._check_size(key, loaded, fast=False), key
    wsc = collate._load_results(main / "finetune" / "wsc" / "predictions.json")
    assert collate._check_size("wsc", wsc, fast=False)
    assert not collator.differences({"wsc": ours[GLUE_KEY]["wsc"]}, wsc)

    fast_dir = collator.fast_data(data, tmp_path / "fast_plain")
    for i, revision in enumerate(REVISIONS):
        base = tree / model_stem(str(pretrained)) / revision / "zero_shot" / "causal"
        wug = collate._load_results(base / "wug_adj" / "wug_adj_nominalization" /
                                    "predictions.json")
        past = collate._load_results(base / "wug_past" / "wug_past_tense" / "predictions.json")
        reading = collate._load_results(base / "reading" / "predictions.json")
        assert collate._check_size("wug_past", past, True)
        assert collate._check_size("reading", reading, True)
        computed = {
            "wug_adj": collate._calculate_wugs_results(
                wug, "wug_adj_nominalization", fast_dir / "wug_adj_nominalization"),
            "wug_past": collate._calculate_wugs_results(past, "wug_past_tense",
                                                        fast_dir / "wug_past_tense"),
            "reading": collate._calculate_reading_results(
                reading, fast_dir / "reading" / "reading_data.csv"),
        }
        for key, value in computed.items():
            assert not collator.differences(ours[FAST_RESULTS_KEY][key][i], value, 1e-6), (
                revision, key, value)
    assert json.dumps(ours[FAST_RESULTS_KEY]["blimp"]) == "[null, null]"  # not run here


def test_an_official_tree_that_is_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "tree").write_text("")
    assert cli.main(["babylm", "export", str(tmp_path / "run"), "--track", "strict-small",
                     "--official-tree", str(tmp_path / "tree")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--official-tree" in err and "a file, not a folder" in err
    assert not list((tmp_path / "run").iterdir())  # nothing written


def test_the_counts_are_the_collators(collate):
    """families.py and data/series.py restate the item counts and revisions collate_preds.py
    asserts, full and fast."""
    from classit_eval import families

    assert collate.COMPS_SIZES == families.COMPS_SIZES
    assert sum(families.COMPS_SIZES.values()) == 91_028
    assert collate.FULL_SIZES["wug_past"] == collate.FAST_SIZES["wug_past"] == 50
    assert {k: v for k, v in collate.FULL_SIZES.items() if k in families.GLUE} == {
        key: glue.sizes for key, glue in families.GLUE.items()}
    for key, family in families.FAMILIES.items():
        for fast, official in ((False, collate.FULL_SIZES), (True, collate.FAST_SIZES)):
            ours = families.expected_sizes(family, fast)
            if key not in official:
                assert fast and not family.fast and not ours, key
            elif isinstance(official[key], dict):
                assert ours == official[key], key
            elif fast:  # one count, asserted for every subtask
                assert set(ours.values()) == {official[key]}, key
            else:
                assert ours == {key: official[key]}, key
    assert collate.STRICT_SMALL_FAST_REVISIONS == TRACKS["strict-small"]
    assert collate.OTHER_FAST_REVISIONS == TRACKS["strict"]
    assert collate.AOA_SIZE == families.AOA.sizes

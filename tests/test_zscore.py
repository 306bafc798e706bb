"""`classit-zscore` on results files written by real lm-eval runs of tiny models.

Three tiny LLaMAs (two curricula names, two sizes) are evaluated on the fast zero-shot
tasks with a small limit, and saved by lm-eval's EvaluationTracker as `lm_eval
--output_path` does. Two of them get a second run (entity tracking, WUG again), so
models have several files, one lacks a task, and a task has two runs to pick from.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

from classit_eval import cli
from classit_eval.compare import CompareError, CompareWarning
from classit_eval.compare.load import load
from classit_eval.compare.registry import columns_for, metric_value
from tests.tiny import build_tiny_model

pytestmark = pytest.mark.slow  # every test here uses `runs`: three tiny models through lm-eval

ZERO_SHOT = ["classit_blimp_supplement_fast", "classit_ewok_fast", "classit_wug_adj_fast"]
MODELS = {  # name -> (seed, hidden size)
    "llama-tiny_merged": (0, 32),
    "llama-tiny_switch_wiki": (1, 32),
    "llama-small_wiki_switch": (2, 48),
}
CURRICULUM = r"_(?P<curriculum>merged|switch_wiki|wiki_switch)$"


def evaluate(model: Path, tasks: list[str], limit: int, out: Path, manager) -> Path:
    """Run lm-eval on `model` and save its results file as `lm_eval --output_path` does."""
    import lm_eval
    from lm_eval.loggers import EvaluationTracker

    tracker = EvaluationTracker(output_path=str(out))
    results = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={model}", tasks=tasks, limit=limit, device="cpu",
        task_manager=manager, evaluation_tracker=tracker,
    )
    tracker.save_results_aggregated(results=results, samples=results.pop("samples", None))
    return max(out.rglob("results_*.json"), key=lambda p: p.stat().st_mtime)


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory, corpus_file: Path, eval_data: Path) -> dict:
    """{"dir": results folder, "models": {name: path}, "files": {name: [result files]}}."""
    from lm_eval.tasks import TaskManager

    from classit_eval.lmeval.plugin import task_dir

    # only the classit tasks: indexing lm-eval's thousands of tasks takes seconds
    manager = TaskManager(include_path=str(task_dir()), include_defaults=False)
    root = tmp_path_factory.mktemp("zscore")
    out = root / "results"
    models, files = {}, {}
    for name, (seed, hidden) in MODELS.items():
        models[name] = build_tiny_model(root / "models" / name, corpus_file, seed=seed,
                                        hidden=hidden)
        files[name] = [evaluate(models[name], ZERO_SHOT, 3, out, manager)]
    for name in list(MODELS)[:2]:  # second run: a new task, and WUG on more items
        files[name].append(evaluate(models[name], ["classit_entity_tracking_fast",
                                                   "classit_wug_adj_fast"], 5, out, manager))
    return {"dir": out, "models": models, "files": files}


def results_of(path: Path) -> dict:
    return json.loads(path.read_text())["results"]


def run_json(capsys, *argv: str) -> tuple[dict, str]:
    """Run the command with `--json -`; return its JSON and its stderr."""
    assert cli.zscore_main([*argv, "--json", "-"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def expected_scores(runs: dict) -> pd.DataFrame:
    """The primary metric of each model and column, read straight from the last run's file."""
    table: dict[str, dict[str, float]] = {}
    for name, paths in runs["files"].items():
        for path in paths:  # in run order: later runs overwrite
            for task, metrics in results_of(path).items():
                for column in columns_for(task):
                    table.setdefault(name, {})[column.name] = metric_value(metrics, column.metric)
    return pd.DataFrame(table).T


def test_real_results_z_scores_and_summaries(runs, capsys):
    doc, err = run_json(capsys, str(runs["dir"]), "--name-from", "checkpoint")
    expected = expected_scores(runs)
    assert set(doc["models"]) == set(MODELS)
    # _fast twins map to the full task's column; subtasks are not columns
    assert set(doc["columns"]) == {"classit_blimp_supplement", "classit_ewok",
                                   "classit_entity_tracking", "classit_wug_adj"}
    assert doc["columns"]["classit_wug_adj"]["metric"] == "spearman"
    for column in doc["columns"]:
        values = expected[column].dropna()
        mean, std = values.mean(), values.std(ddof=1)
        for name in values.index:
            entry = doc["models"][name]
            assert entry["scores"][column] == pytest.approx(values[name])
            z = entry["families"]["all"]["z"][column]
            assert z == (0.0 if std == 0 else pytest.approx((values[name] - mean) / std))
    # several files per model merged; the latest WUG run (limit 5) wins over the first
    first, second = runs["files"]["llama-tiny_merged"]
    wug = doc["models"]["llama-tiny_merged"]["scores"]["classit_wug_adj"]
    assert wug == pytest.approx(results_of(second)["classit_wug_adj_fast"]["spearman,none"])
    assert len(doc["models"]["llama-tiny_merged"]["files"]) == 2
    # a task missing for a model: null, and its summary counts the tasks it has
    small = doc["models"]["llama-small_wiki_switch"]["families"]["all"]
    assert small["z"]["classit_entity_tracking"] is None
    assert small["n_tasks"] == 3
    assert doc["models"]["llama-tiny_merged"]["families"]["all"]["n_tasks"] == 4
    # the summary is the distribution of the model's z-scores
    zs = [v for v in small["z"].values() if v is not None]
    assert small["median"] == pytest.approx(np.median(zs))
    assert small["q1"] == pytest.approx(np.percentile(zs, 25))
    assert small["mean"] == pytest.approx(np.mean(zs))
    assert set(doc["models"]["llama-small_wiki_switch"]["families"]) == {"zero_shot", "all"}
    assert "run with limit=3" in err


def test_models_ordered_by_median_and_default_names(runs, capsys):
    doc, _ = run_json(capsys, str(runs["dir"]))
    names = list(doc["models"])
    assert all(name.startswith("__") and name.endswith(tuple(MODELS)) for name in names)
    medians = [doc["models"][n]["families"]["all"]["median"] for n in names]
    assert medians == sorted(medians, reverse=True)


def test_reference_models(runs, capsys):
    ref = ["llama-tiny_merged", "llama-tiny_switch_wiki"]
    doc, _ = run_json(capsys, str(runs["dir"]), "--name-from", "checkpoint",
                      "--reference", ref[0], "--reference", ref[1])
    expected = expected_scores(runs)
    spread = 0
    for column, values in expected.items():
        mean, std = values[ref].mean(), values[ref].std(ddof=1)
        spread += std > 0
        for name, entry in doc["models"].items():
            z = entry["families"]["all"]["z"][column]
            if np.isnan(values[name]):
                assert z is None
            else:
                assert z == (0.0 if std == 0 else pytest.approx((values[name] - mean) / std))
    assert spread >= 1  # the references differ on a task: z is not trivially 0
    assert doc["reference"] == ref


def test_group_by_and_paired_wilcoxon(runs, capsys):
    doc, _ = run_json(capsys, str(runs["dir"]), "--name-from", "checkpoint",
                      "--group-by", CURRICULUM,
                      "--compare", "llama-tiny_merged", "llama-small_wiki_switch")
    assert doc["models"]["llama-tiny_merged"]["group"] == "merged"
    assert set(doc["groups"]) == {"merged", "switch_wiki", "wiki_switch"}
    assert doc["groups"]["wiki_switch"]["models"] == ["llama-small_wiki_switch"]
    test = next(t for t in doc["tests"] if t["a"] == "llama-tiny_merged" and t["family"] == "all")
    za = doc["models"]["llama-tiny_merged"]["families"]["all"]["z"]
    zb = doc["models"]["llama-small_wiki_switch"]["families"]["all"]["z"]
    diff = [za[c] - zb[c] for c in za if za[c] is not None and zb[c] is not None]
    assert test["n_tasks"] == len(diff) == 3 and isinstance(test["n_tasks"], int)
    assert test["p_value"] == pytest.approx(wilcoxon(diff).pvalue)
    assert test["wins"] == sum(d > 0 for d in diff)
    pairs = {(t["a"], t["b"]) for t in doc["tests"]}
    assert ("merged", "switch_wiki") in pairs


def test_group_by_training_metadata(runs, capsys):
    """--group-by-field reads classit-train's classit_train.json in each evaluated checkpoint."""
    from classit_eval.train import metadata

    sizes = {"llama-tiny_merged": "1M", "llama-tiny_switch_wiki": "1M"}
    for name, size in sizes.items():
        curriculum = name.split("_", 1)[1]
        metadata.write(runs["models"][name], "instruct", model_size=size, curriculum=curriculum)
    try:
        doc, err = run_json(capsys, str(runs["dir"]), "--name-from", "checkpoint",
                            "--group-by-field", "curriculum")
    finally:
        for name in sizes:
            (runs["models"][name] / metadata.FILENAME).unlink()
    assert doc["models"]["llama-tiny_merged"]["group"] == "merged"
    assert set(doc["groups"]) == {"merged", "switch_wiki"}
    assert "llama-small_wiki_switch: no classit_train.json at its checkpoint" in err
    assert cli.zscore_main([str(runs["dir"]), "--group-by-field", "curriculum",
                        "--group-by", CURRICULUM]) == 2
    assert "not both" in capsys.readouterr().err


def test_finetune_family_and_registry_metrics(runs, tmp_path, capsys):
    """Fine-tuning files (the schema lm-eval writes, fine-tuning task names) join the table."""
    values = {"llama-tiny_merged": 0.7, "llama-tiny_switch_wiki": 0.5,
              "llama-small_wiki_switch": 0.6}
    for name, paths in runs["files"].items():
        data = json.loads(paths[0].read_text())
        acc = values[name]
        data["results"] = {
            "classit_finetune_rte": {"alias": "rte", "acc,none": acc, "f1,none": 0.1,
                                     "mcc,none": 0.0},
            "classit_finetune_mrpc": {"alias": "mrpc", "acc,none": 0.1, "f1,none": acc,
                                      "mcc,none": 0.0},
        }
        data["group_subtasks"], data["date"] = {}, data["date"] + 3600
        folder = tmp_path / paths[0].parent.name
        folder.mkdir()
        (folder / "results_finetune.json").write_text(json.dumps(data))
    doc, _ = run_json(capsys, str(runs["dir"]), str(tmp_path), "--name-from", "checkpoint")
    assert doc["columns"]["classit_finetune_mrpc"]["metric"] == "f1"
    assert doc["columns"]["classit_finetune_rte"]["metric"] == "acc"
    merged = doc["models"]["llama-tiny_merged"]
    assert merged["scores"]["classit_finetune_mrpc"] == pytest.approx(0.7)
    assert merged["families"]["finetune"]["z"] == {"classit_finetune_rte": pytest.approx(1.0),
                                                   "classit_finetune_mrpc": pytest.approx(1.0)}
    assert merged["families"]["finetune"]["n_tasks"] == 2
    assert merged["families"]["all"]["n_tasks"] == 6


def test_outputs_csv_markdown_plot(runs, tmp_path, capsys):
    args = [str(runs["dir"]), "--name-from", "checkpoint", "--group-by", CURRICULUM]
    out = {fmt: tmp_path / f"out.{fmt}" for fmt in ("json", "csv", "md", "png", "svg", "pdf")}
    assert cli.zscore_main([*args, "--json", str(out["json"]), "--csv", str(out["csv"]),
                        "--markdown", str(out["md"]), "--plot", str(out["png"])]) == 0
    text = capsys.readouterr().out
    assert "z-scores (per task, against all models)" in text and "llama-tiny_merged" in text
    doc = json.loads(out["json"].read_text())
    csv = pd.read_csv(out["csv"], index_col="model")
    for name, entry in doc["models"].items():
        assert csv.at[name, "all median"] == pytest.approx(entry["families"]["all"]["median"])
        assert csv.at[name, "group"] == entry["group"]
    assert "| llama-tiny_merged" in out["md"].read_text()
    assert out["png"].read_bytes()[:4] == b"\x89PNG"
    for fmt, magic in (("svg", b"<?xml"), ("pdf", b"%PDF")):
        assert cli.zscore_main([*args, "--plot", str(out[fmt])]) == 0
        assert out[fmt].read_bytes()[:5].startswith(magic)
    assert cli.zscore_main([*args, "--plot", str(tmp_path / "fig.gif")]) == 2
    assert "fig.gif: the file must end in .png" in capsys.readouterr().err


def test_bad_and_foreign_files_are_warned_and_skipped(runs, tmp_path, capsys):
    shutil.copytree(runs["dir"], tmp_path / "results")
    (tmp_path / "results" / "results_broken.json").write_text('{"results": {')
    config = runs["models"]["llama-tiny_merged"] / "config.json"
    shutil.copy(config, tmp_path / "results" / "results_foreign.json")
    shutil.copy(config, tmp_path / "results")  # e.g. a checkpoint saved beside the results
    doc, err = run_json(capsys, str(tmp_path / "results"), "--name-from", "checkpoint")
    assert len(doc["models"]) == 3
    assert "results_broken.json: skipped, not readable as JSON" in err
    assert "results_foreign.json: skipped, not an lm-eval results file" in err
    assert "ignored 1 JSON file(s) not named results*.json" in err and "config.json" in err
    summary = err.strip().splitlines()[-1]  # last, so that it is seen: every file it skipped
    assert summary.startswith("classit-zscore: warning: could not read 2 file(s)")
    assert "results_broken.json" in summary and "results_foreign.json" in summary


def test_cut_file_of_a_model_the_user_asked_for_is_an_error(runs, tmp_path, capsys):
    """A results file cut in the middle loses its model: exit 2 if the user asked for it."""
    shutil.copytree(runs["dir"], tmp_path / "results")
    (cut,) = (tmp_path / "results").glob("*llama-small_wiki_switch/results_*.json")
    cut.write_text(cut.read_text()[:500])
    other = runs["files"]["llama-tiny_merged"][0]
    base = [str(tmp_path / "results"), "--name-from", "checkpoint"]
    doc, err = run_json(capsys, *base)  # a stray broken file in a scanned folder: a warning
    assert set(doc["models"]) == {"llama-tiny_merged", "llama-tiny_switch_wiki"}
    assert f"could not read 1 file(s), left out of the comparison: {cut}" in err
    selections = {
        "--models": ["--models", "small"],
        "--reference": ["--reference", "llama-small_wiki_switch",
                        "--reference", "llama-tiny_merged"],
        "--compare": ["--compare", "llama-small_wiki_switch", "llama-tiny_merged"],
    }
    for argv, why in [([*base, *selection], "which you selected")
                      for selection in selections.values()] + [
            ([str(cut), str(other)], "named on the command line")]:
        assert cli.zscore_main([*argv, "--json", str(tmp_path / "z.json")]) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
        assert len(errors) == 1 and str(cut) in errors[0] and why in errors[0]
        assert not (tmp_path / "z.json").exists()


def test_nan_scores_are_left_out_with_a_warning(runs, tmp_path, capsys):
    """A reading run under --limit reports NaN: that cell is missing, not a number."""
    shutil.copytree(runs["dir"], tmp_path / "results")
    path = next((tmp_path / "results").rglob("results_*.json"))
    data = json.loads(path.read_text())
    data["results"]["classit_reading_fast"] = {"eye_tracking,none": float("nan"),
                                               "self_paced_reading,none": float("nan")}
    path.write_text(json.dumps(data))  # json writes NaN as lm-eval does
    doc, err = run_json(capsys, str(tmp_path / "results"), "--name-from", "checkpoint")
    assert "classit_reading_fast has eye_tracking = NaN" in err
    assert not any(c.startswith("classit_reading") for c in doc["columns"])


def test_zero_variance_column(runs, capsys):
    # every model ran 3 items of each of the 11 EWoK domains: one value for all
    doc, err = run_json(capsys, str(runs["dir"]), "--name-from", "checkpoint",
                        "--metric", "classit_ewok_fast=sample_len")
    assert "classit_ewok_fast: every model scores 33 (zero variance)" in err
    assert {m["families"]["all"]["z"]["classit_ewok_fast"]
            for m in doc["models"].values()} == {0.0}


def test_one_model_no_results_bad_options(runs, tmp_path, capsys):
    assert cli.zscore_main([str(runs["dir"]), "--models", "small"]) == 2
    assert "z-scores need at least two models; found 1" in capsys.readouterr().err
    assert cli.zscore_main([str(tmp_path)]) == 2
    assert f"No lm-eval results file (JSON with a `results` object) under {tmp_path}" in (
        capsys.readouterr().err)
    assert cli.zscore_main([str(tmp_path / "nope")]) == 2
    assert "nope: no such file or folder" in capsys.readouterr().err
    assert cli.zscore_main([str(runs["dir"]), "--reference", "llama-tiny_merged"]) == 2
    assert "--reference llama-tiny_merged: no such model" in capsys.readouterr().err
    assert cli.zscore_main([str(runs["dir"]), "--group-by", "merged"]) == 2
    assert "has no named group" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.zscore_main([str(runs["dir"]), "--metric", "acc"])
    assert "write TASK=METRIC" in capsys.readouterr().err


def test_load_warns_for_a_missing_metric_and_bad_name_from(runs):
    with pytest.warns(CompareWarning) as caught:
        results = load([runs["files"]["llama-tiny_merged"][0]], name_from="checkpoint",
                       extra={"classit_wug_adj_fast": "nope"})
    messages = " ".join(str(w.message) for w in caught)
    assert "task classit_wug_adj_fast has no metric 'nope' (it has spearman" in messages
    assert "run with limit=3" in messages
    assert "classit_wug_adj_fast" not in results.columns
    assert "classit_blimp_supplement" in results.columns
    with pytest.raises(CompareError, match="--name-from 'dir'"):
        load([runs["dir"]], name_from="dir")


def test_dispatch_and_console_script(runs, capsys):
    assert cli.main(["zscore", str(runs["dir"]), "--name-from", "checkpoint"]) == 0
    assert "llama-small_wiki_switch" in capsys.readouterr().out
    script = Path(sys.executable).parent / "classit-zscore"
    done = subprocess.run([script, "--help"], capture_output=True, text=True, check=True)
    assert "--group-by REGEX" in done.stdout

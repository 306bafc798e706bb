"""The lm-eval task `classit_reading_fast` under the stock `hf` model, and bad input."""

from __future__ import annotations

import importlib
import math
import shutil
from pathlib import Path

import lm_eval
import pandas as pd
import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

import classit_eval.lmeval.plugin
from classit_eval.data.files import DataError
from classit_eval.reading import dataset, regression, surprisal, task


@pytest.fixture(scope="module")
def library_metrics(tiny_model: Path, eval_data: Path) -> dict[str, dict[str, float]]:
    """The metrics of classit_eval.reading itself (running convention) on the fast csv,
    by word probability."""
    csv = dataset.load_csv(eval_data / dataset.FAST_CSV)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    out = {}
    for word_prob in ("raw", "corrected"):
        pred, prev = surprisal.reading_surprisals(model, tokenizer, csv, "running",
                                                  word_prob=word_prob)
        out[word_prob] = regression.fit_all(dataset.with_surprisals(csv, pred, prev)).metrics()
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "word_prob"),
                         [("hf", "raw"), ("classit", "raw"), ("classit", "corrected")])
def test_task_equals_library(backend: str, word_prob: str, tiny_model: Path, eval_data: Path,
                             library_metrics) -> None:
    """Under both backends (the tiny tokenizer adds BOS, so both see the same tokens); only
    `classit` corrects word probabilities (its default), `hf` scores them raw."""
    if backend == "classit":
        importlib.import_module("classit_eval.lmeval.backend")  # registers the backend
    manager = classit_eval.lmeval.plugin.task_manager(
        metadata={"data_dir": str(eval_data), "reading_bootstrap": 50,
                  "pretrained": str(tiny_model)} |
        ({"word_prob": "raw"} if word_prob == "raw" and backend == "classit" else {}))
    out = lm_eval.simple_evaluate(
        model=backend, model_args={"pretrained": str(tiny_model)},
        tasks=["classit_reading_fast"], task_manager=manager, device="cpu", batch_size=64,
    )
    got = out["results"]["classit_reading_fast"]
    for name, value in library_metrics[word_prob].items():
        assert got[f"{name},none"] == pytest.approx(value, abs=1e-4), name
    assert got["eye_tracking_ci_low,none"] < got["eye_tracking,none"] < got[
        "eye_tracking_ci_high,none"]
    for name in ("eye_tracking", "self_paced_reading"):  # the null baselines, beside
        assert math.isfinite(got[f"{name}_token_null,none"])  # (the model args' tokenizer)
        assert got[f"{name}_null_mean,none"] < got[f"{name}_null_p95,none"]
        assert 0 < got[f"{name}_null_p,none"] <= 1
    if word_prob == "corrected":  # the correction moves the scores (self-paced: 3e-3)
        raw = library_metrics["raw"]
        assert max(abs(got[f"{name},none"] - raw[name]) for name in raw) > 1e-3


@pytest.mark.slow
def test_classit_backend_reproduces_the_official_reader(tiny_model_nobos: Path, eval_data: Path,
                                                       tmp_path: Path) -> None:
    """With reading_convention=babylm2025, `--model classit` gives the library's official-
    reader surprisals (which lm-eval's `hf` cannot: it tokenises context and word together)."""
    import classit_eval.lmeval.backend  # noqa: F401  registers the backend

    csv = dataset.load_csv(eval_data / dataset.FAST_CSV)
    model_dir = shutil.copytree(tiny_model_nobos, tmp_path / "model")
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.bos_token = tokenizer.eos_token  # the csv has one empty context
    tokenizer.save_pretrained(model_dir)
    pred, prev = surprisal.reading_surprisals(model, tokenizer, csv, "babylm2025")
    expected = regression.fit_all(dataset.with_surprisals(csv, pred, prev)).metrics()
    manager = classit_eval.lmeval.plugin.task_manager(classit_only=True, metadata={
        "data_dir": str(eval_data), "reading_bootstrap": 0, "reading_convention": "babylm2025"})
    out = lm_eval.simple_evaluate(
        model="classit", model_args={"pretrained": str(model_dir), "dtype": "float32"},
        tasks=["classit_reading_fast"], task_manager=manager, device="cpu", batch_size=64)
    got = out["results"]["classit_reading_fast"]
    for name, value in expected.items():
        assert got[f"{name},none"] == pytest.approx(value, abs=1e-4), name


def test_bad_convention_is_a_clear_error(eval_data: Path) -> None:
    with pytest.raises(ValueError, match="reading_convention='gpt2' is not one of"):
        task.load(data_dir=str(eval_data), reading_convention="gpt2")


def test_word_prob_option(eval_data: Path) -> None:
    """corrected by default under running, raw (only) under the official convention."""
    from classit_eval.names import ENCODING_FIELD
    from classit_eval.scoring import BABYLM2025_READER, WORD_IN_TEXT_CORRECTED

    assert task.load(data_dir=str(eval_data))["test"][0][ENCODING_FIELD] == \
        WORD_IN_TEXT_CORRECTED
    official = task.load(data_dir=str(eval_data), reading_convention="babylm2025")["test"]
    assert official[0][ENCODING_FIELD] == BABYLM2025_READER
    with pytest.raises(ValueError, match="word_prob=corrected needs reading_convention=running"):
        task.load(data_dir=str(eval_data), reading_convention="babylm2025", word_prob="corrected")
    with pytest.raises(ValueError, match="word_prob='exact' is not one of corrected, raw"):
        task.load(data_dir=str(eval_data), word_prob="exact")


def test_csv_missing_a_column_is_a_clear_error(eval_data: Path, tmp_path: Path) -> None:
    root = tmp_path / "evaluation_data"
    (root / "full_eval/reading").mkdir(parents=True)
    csv = pd.read_csv(eval_data / dataset.FULL_CSV).drop(columns=["Subtlex_log10"])
    csv.to_csv(root / dataset.FULL_CSV, index=False)
    with pytest.raises(DataError, match=r"reading_data.csv: missing column\(s\) Subtlex_log10"):
        task.load(data_dir=str(root))


def test_docs_cover_every_row_and_previous_word(eval_data: Path) -> None:
    docs = task.load(data_dir=str(eval_data))["test"]
    csv = dataset.load_csv(eval_data / dataset.FULL_CSV)
    keys = set(zip(docs["context"], docs["word"], strict=True))
    assert set(task._queries(csv)) == keys and len(keys) == len(docs)
    assert ("None", "of") in keys  # the empty csv item, read as "None" like the official
    doc = docs[0]
    assert (task.doc_to_text(doc), task.doc_to_target(doc)) == ("Arthur placed", " the")
    assert task.doc_to_target(doc | {"convention": "babylm2025"}) == "the"


def test_no_data_is_a_clear_error(tmp_path: Path) -> None:
    shutil.rmtree(tmp_path, ignore_errors=True)
    with pytest.raises(FileNotFoundError, match="download-data"):
        task.load(data_dir=str(tmp_path / "nowhere"))


def test_partial_run_scores_nan_with_a_warning(eval_data: Path, caplog) -> None:
    """`--limit` on classit_zero_shot_fast must not stop the other tasks: NaN, explained."""
    docs = task.load(data_dir=str(eval_data), reading_bootstrap=0)["test"]
    items = [task.process_results(docs[k], [(-1.0, False)])["eye_tracking"] for k in range(10)]
    with caplog.at_level("WARNING"):
        assert math.isnan(task.aggregation("eye_tracking")(items))
        assert math.isnan(task.aggregation("self_paced_reading")(items))
    assert "without --limit" in caplog.text


@pytest.mark.slow
def test_items_are_small_and_the_fits_run_once_per_run(eval_data: Path, monkeypatch) -> None:
    """Each item is (context, word, surprisal, run key); the csv comes from `load`, and one
    set of fits serves every metric."""
    from classit_eval.names import READING_METRICS

    docs = task.load(data_dir=str(eval_data), classit_fast=True,
                     classit_task="classit_reading_fast", reading_bootstrap=0)["test"]
    per_doc = [task.process_results(doc, [(-1.0 - k % 7, False)]) for k, doc in enumerate(docs)]
    assert set(per_doc[0]) == set(READING_METRICS)
    assert per_doc[0]["eye_tracking"] == ("Arthur placed", "the", 1.0, "classit_reading_fast")
    fits = []
    real_fit_all = regression.fit_all
    monkeypatch.setattr(regression, "fit_all", lambda frame: fits.append(1) or real_fit_all(frame))
    monkeypatch.setattr(dataset, "load_csv", lambda *_: pytest.fail("the csv is read again"))
    scores = {m: task.aggregation(m)([d[m] for d in per_doc]) for m in READING_METRICS}
    assert len(fits) == 1
    assert not math.isnan(scores["eye_tracking"]) and math.isnan(scores["eye_tracking_ci_low"])

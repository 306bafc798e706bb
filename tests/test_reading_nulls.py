"""The null baselines of the reading scores (classit_eval.reading.nulls)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from transformers import AutoTokenizer

from classit_eval import cli
from classit_eval.names import READING_METRICS, READING_NULLS
from classit_eval.reading import dataset, nulls, regression, task
from classit_eval.scoring import word_steps

OFFICIAL = "reference/babylm-2025-pipeline-outputs/{}/main/zero_shot/causal/reading"


@pytest.fixture(scope="module")
def csv(eval_data: Path) -> pd.DataFrame:
    return dataset.load_csv(eval_data / dataset.FAST_CSV)


@pytest.fixture(scope="module")
def official(shared_data: Path, csv: pd.DataFrame):
    """An official baseline's surprisals (opt-128) and their official fits."""
    path = shared_data / OFFICIAL.format("opt-128") / "prediction.jsonl"
    preds = dataset.load_predictions(path, len(csv))
    frame = dataset.with_surprisals(csv, preds["pred"], preds["prev_pred"])
    return frame, regression.fit_all(frame)


def test_permutations_move_rows_within_their_sentence(csv: pd.DataFrame) -> None:
    groups = pd.factorize(csv["sentence"])[0]
    perms = nulls.shuffled_within(groups, 20, seed=1)
    for perm in perms:
        assert sorted(perm) == list(range(len(groups)))  # a permutation
        np.testing.assert_array_equal(groups[perm], groups)  # inside each sentence
    assert (perms != np.arange(len(groups))).mean() > 0.5  # and it moves most rows
    np.testing.assert_array_equal(perms, nulls.shuffled_within(groups, 20, seed=1))


@pytest.mark.slow
def test_permutation_null_is_seeded_and_its_fast_fits_equal_statsmodels(official) -> None:
    frame, result = official
    for dv, predictors in regression.SCORED:  # the unpermuted column: the official score
        _, design, y = regression.design(frame, dv, predictors, True)
        fit = result.fit(dv, spillover=predictors == regression.SPILLOVER)
        score = nulls.added_column_scores(design[:, :-1], y, design[:, -1:], fit.r2_baseline)
        assert score[0] == pytest.approx(fit.score, abs=1e-9), dv
    first = nulls.null_baselines(frame, result, 200, seed=5)
    assert first == nulls.null_baselines(frame, result, 200, seed=5)  # same seed, same value
    assert first != nulls.null_baselines(frame, result, 200, seed=6)
    for name in ("eye_tracking", "self_paced_reading"):
        assert 1 / 201 <= first[f"{name}_null_p"] <= 1
        assert first[f"{name}_null_mean"] < first[f"{name}_null_p95"]
        assert math.isnan(first[f"{name}_token_null"])  # no tokenizer given
    # opt-128's eye-tracking score (0.29) is above its null, self-paced (0.00) is not
    assert first["eye_tracking_null_p"] < 0.05 < first["self_paced_reading_null_p"]


@pytest.mark.parametrize("convention", ["running", "babylm2025"])
def test_token_surprisal_counts_the_scored_tokens(convention: str, tiny_model: Path,
                                                  csv: pd.DataFrame) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    rows = csv.head(40)
    pred, prev = nulls.token_surprisals(tokenizer, rows, convention)
    counts = pred / math.log(len(tokenizer))
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
    if convention == "babylm2025":  # the word alone, without its leading space
        alone = [len(tokenizer(str(w), add_special_tokens=False)["input_ids"])
                 for w in rows["word"]]
        np.testing.assert_allclose(counts, alone)
    else:  # the continuation of its context in running text
        steps = [word_steps(tokenizer, i, str(w))
                 for i, w in zip(rows["item"], rows["word"], strict=True)]
        np.testing.assert_allclose(counts, [len(s[0][1]) for s in steps])
    assert np.isnan(prev).tolist() == (~dataset.has_previous(rows)).tolist()


@pytest.mark.slow
def test_token_count_surprisal_scores_exactly_the_token_null(tiny_model: Path,
                                                              csv: pd.DataFrame) -> None:
    """A model whose surprisal is the token count: its scores are the token-count null."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    pred, prev = nulls.token_surprisals(tokenizer, csv, "running")
    surprisal = dict(zip(zip(csv["item"], csv["word"].astype(str), strict=True), pred, strict=True))
    surprisal |= {(i, str(w)): s for i, w, s in zip(csv["prev_item"], csv["prev_word"], prev,
                                                     strict=True) if s == s}
    run = task.ReadingRun(csv, bootstrap=0, seed=0, permutations=100,
                   tokenizer=(str(tiny_model), None), convention="running")
    got = run.scores([(c, w, s, "x") for (c, w), s in surprisal.items()])
    assert set(got) == set(READING_METRICS)
    for name in ("eye_tracking", "self_paced_reading"):
        assert got[name] == got[f"{name}_token_null"]
        assert got[f"{name}_null_p"] < 0.05  # the token count beats its own permutations


def test_no_nulls_when_asked_for_none(csv: pd.DataFrame) -> None:
    nan = nulls.summary({"eye_tracking": 1.0, "self_paced_reading": 1.0}, None, None)
    assert set(nan) == set(READING_NULLS) and all(math.isnan(v) for v in nan.values())


@pytest.mark.slow
def test_reading_score_reports_the_nulls(shared_data: Path, eval_data: Path, tiny_model: Path,
                                         capsys) -> None:
    path = shared_data / OFFICIAL.format("opt-128") / "prediction.jsonl"
    argv = [str(path), "--data-dir", str(eval_data), "--permutations", "50",
            "--tokenizer", str(tiny_model)]
    assert cli.main(["reading-score", *argv]) == 0
    printed = capsys.readouterr().out
    assert "eye_tracking null baselines: token count" in printed
    assert "permuted within sentences (50, seed 0)" in printed
    assert cli.main(["reading-score", str(path), "--data-dir", str(eval_data), "--tokenizer",
                          str(eval_data / "no-such-tokenizer")]) == 2
    assert "no-such-tokenizer" in capsys.readouterr().err


def test_wug_permutation_null(eval_data: Path) -> None:
    """WUG's null shuffles the model's ratios across items: each null value is scipy's
    Spearman rho of one shuffling; a model that is the human ratio is far above it."""
    from scipy.stats import spearmanr

    from classit_eval.zero_shot import tasks as zero_shot

    docs = zero_shot.load_wug("fast_eval/wug_adj_nominalization", data_dir=str(eval_data))["test"]
    human = np.array([d["ratio"] for d in docs])
    model = np.random.default_rng(0).random(len(human)).round(1)  # with ties
    null = zero_shot.spearman_null(model, human, n=30, seed=2)
    perms = np.argsort(np.random.default_rng(2).random((30, len(human))), axis=1)
    expected = [spearmanr(model[p], human).statistic for p in perms]
    np.testing.assert_allclose(null, expected, atol=1e-12)
    np.testing.assert_array_equal(null, zero_shot.spearman_null(model, human, n=30, seed=2))
    noise = np.random.default_rng(1).normal(size=(len(docs), 2))  # unrelated to the humans
    items = [zero_shot.process_wug(d, [(a, False), (b, False)])["spearman_null_p"]
             for d, (a, b) in zip(docs, noise, strict=True)]
    assert zero_shot.spearman_null_p(items) > 0.05
    faithful = list(zip(human, human, strict=True))
    assert zero_shot.spearman_null_p(faithful) == 1 / (zero_shot.WUG_PERMUTATIONS + 1)
    assert zero_shot.spearman_null_p95(faithful) < 0.2 < zero_shot.spearman(faithful)


def test_token_null_without_a_usable_tokenizer_is_nan_with_one_warning(csv: pd.DataFrame,
                                                                      tmp_path: Path,
                                                                      caplog) -> None:
    missing = task.ReadingRun(csv, 0, 0, permutations=10, tokenizer=(str(tmp_path / "none"), None))
    unnamed = task.ReadingRun(csv, 0, 0, permutations=10)
    with caplog.at_level("WARNING"):
        assert task._token_surprisals(missing) is None
        assert task._token_surprisals(unnamed) is None
        assert task._token_surprisals(unnamed) is None  # warned once per load
    assert f"NaN: No folder {tmp_path / 'none'}" in caplog.text
    assert caplog.text.count("name no tokenizer") == 1

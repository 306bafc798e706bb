"""The regression reproduces the official BabyLM 2025 outputs of 23 models to 1e-6."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classit_eval.reading import dataset, regression

REFERENCE = "reference/babylm-2025-pipeline-outputs"
READING = "main/zero_shot/causal/reading"


@pytest.fixture(scope="module")
def csv(eval_data: Path):
    return dataset.load_csv(eval_data / dataset.FULL_CSV)


def reference_dirs(shared: Path) -> list[Path]:
    return sorted(p / READING for p in (shared / REFERENCE).iterdir())


def frame_for(folder: Path, csv):
    preds = dataset.load_predictions(folder / "prediction.jsonl", len(csv))
    return dataset.with_surprisals(csv, preds["pred"], preds["prev_pred"])


def read_report(path: Path) -> tuple[str, str]:
    text = path.read_text()
    eye = re.search(r"EYE TRACKING SCORE: (\S+)", text).group(1)
    spr = re.search(r"SELF-PACED READING SCORE: (\S+)", text).group(1)
    return eye, spr


@pytest.mark.slow
def test_all_reference_models_reproduced(shared_data: Path, csv) -> None:
    folders = reference_dirs(shared_data)
    assert len(folders) == 23
    for folder in folders:
        result = regression.fit_all(frame_for(folder, csv))
        assert (f"{result.eye_tracking:.2f}", f"{result.self_paced_reading:.2f}") == read_report(
            folder / "report.txt"
        ), folder
        for fits, name in ((result.predictive_power, "predictive_power.jsonl"),
                           (result.spillover, "predictive_power_spillover.jsonl")):
            expected = [json.loads(line) for line in (folder / name).read_text().splitlines()]
            assert [f.variable for f in fits] == [e["Predicted variable"] for e in expected]
            for fit, ref in zip(fits, expected, strict=True):
                got = fit.official_record()
                for key in ("R2", "Change in R2 from baseline"):
                    assert got[key] == pytest.approx(ref[key], abs=1e-6), (folder, name, key)
                for key in ("Coefficient", "Number of standard deviations", "P-value", "AIC",
                            "Change in AIC from baseline"):
                    assert got[key] == pytest.approx(ref[key], rel=1e-6, abs=1e-9), (folder, key)
        corr = (folder / "correlations.txt").read_text().split()
        assert {k: f"{v:.4f}" for k, v in regression.correlations(frame_for(folder, csv)).items()} \
            == dict(zip(corr[::2], corr[1::2], strict=True))


@pytest.mark.slow
def test_nan_rows_dropped_as_official(shared_data: Path, csv) -> None:
    frame = frame_for(reference_dirs(shared_data)[0], csv)
    # 30 words lack a frequency; 206 rows have no previous-word surprisal (205 sentence-
    # second words, plus the word after "None", which pandas reads as NaN in prev_item).
    assert frame["Subtlex_log10"].isna().sum() == 30
    assert frame["prev_pred"].isna().sum() == 206 == (~dataset.has_previous(csv)).sum()
    result = regression.fit_all(frame)
    assert result.fit("RTfirstfix").n == 1726 - 30
    assert result.fit("RTfirstfix", spillover=True).n == int(
        (frame["Subtlex_log10"].notna() & frame["prev_pred"].notna()).sum())
    assert (csv["item"] == "None").sum() == 1  # the empty item is read as "None", as official


@pytest.mark.slow
def test_bootstrap_is_paired_and_matches_statsmodels(shared_data: Path, csv) -> None:
    frames = [frame_for(f, csv) for f in reference_dirs(shared_data)[:2]]
    result = regression.fit_all(frames[0])
    for dv, predictors in regression.SCORED:  # plain least squares = statsmodels
        _, design, y = regression.design(frames[0], dv, predictors, True)
        spill = predictors == regression.SPILLOVER
        assert _r2(design, y) == pytest.approx(result.fit(dv, spill).r2, abs=1e-12)
    samples = regression.bootstrap([frames[0], frames[0], frames[1]], n_resamples=50, seed=3)
    assert samples.shape == (50, 3, 2)
    np.testing.assert_array_equal(samples[:, 0], samples[:, 1])  # same draws for every model
    np.testing.assert_array_equal(samples, regression.bootstrap(
        [frames[0], frames[0], frames[1]], n_resamples=50, seed=3))
    low, high = regression.interval(samples[:, 0, 0])
    assert low < result.eye_tracking < high
    # each resample's score is a least-squares fit on its drawn sentences' rows
    rng = np.random.default_rng(3)
    groups = pd.factorize(frames[1]["sentence"])[0]
    for r in range(3):
        drawn = rng.integers(0, groups.max() + 1, groups.max() + 1)
        rows = np.concatenate([np.flatnonzero(groups == g) for g in drawn])
        scores = []
        for dv, predictors in regression.SCORED:
            r2 = [_r2(*_drawn(frames[1], rows, dv, predictors, pred))
                  for pred in (False, True)]
            scores.append((r2[1] - r2[0]) / (1 - r2[0]) * 100)
        expected = (np.mean(scores[: len(regression.EYE_TRACKING)]), scores[-1])
        np.testing.assert_allclose(samples[r, 2], expected, rtol=1e-9)


def _r2(x: np.ndarray, y: np.ndarray) -> float:
    """R2 of a least-squares fit: the plain computation the bootstrap's is checked against."""
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    centred = y - y.mean()
    return 1.0 - float(resid @ resid) / float(centred @ centred)


def _drawn(frame, rows, dv, predictors, pred):
    """The design and response of the drawn rows (a row drawn twice counts twice)."""
    keep, x, y = regression.design(frame, dv, predictors, pred)
    where = np.cumsum(keep) - 1
    picked = where[rows[keep[rows]]]
    return x[picked], y[picked]

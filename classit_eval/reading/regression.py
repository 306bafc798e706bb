"""The BabyLM 2025 reading score: normalised delta-R2 of OLS fits, and its bootstrap.

For each dependent variable (DV) two ordinary-least-squares fits are compared, as in the
official `evaluation_pipeline/reading/run.py` of BabyLM 2025:

* predictive power: `DV ~ Subtlex_log10 + length + context_length` and their pairwise
  interactions (baseline), then the same plus `pred` (the word's surprisal);
* spillover: the baseline adds `prev_length` and `prev_pred` (the previous word's
  surprisal), with all pairwise interactions.

Each fit uses the rows where its own columns are all present (baseline and full model may
use different rows, as in the official code). The score of a DV is
`(R2_full - R2_base) / (1 - R2_base) * 100`; `eye_tracking` is the mean over the four
eye-tracking DVs of the predictive-power fits, `self_paced_reading` the spillover fit of
`self_paced_reading_time`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from classit_eval.errors import DataError
from classit_eval.names import EYE_TRACKING, SELF_PACED
from classit_eval.names import READING_VARIABLES as VARIABLES

BASELINE = ("Subtlex_log10", "length", "context_length")
SPILLOVER = (*BASELINE, "prev_length", "prev_pred")
PRED = "pred"
# Columns of reading_data.csv the regression needs (prev_pred and pred come from a model).
CSV_COLUMNS = ("item", "word", "sentence", "prev_item", "prev_word", "prev_length",
               *BASELINE, *VARIABLES)


def formula(dv: str, predictors: Sequence[str], with_pred: bool) -> str:
    """`dv ~ a + b + ... + a:b + ...` (all pairwise interactions), plus `pred` if asked."""
    terms = [*predictors, *(f"{a}:{b}" for a, b in combinations(predictors, 2))]
    return f"{dv} ~ " + " + ".join([*terms, PRED] if with_pred else terms)


@dataclass(frozen=True)
class Fit:
    """One DV: the full model's `pred` statistics and its gain over the baseline."""

    variable: str
    coefficient: float
    t_value: float
    p_value: float
    r2: float
    r2_baseline: float
    aic: float
    aic_baseline: float
    n: int

    @property
    def delta_r2(self) -> float:
        return self.r2 - self.r2_baseline

    @property
    def score(self) -> float:
        """Normalised delta-R2 in percent: the share of unexplained variance `pred` explains."""
        return self.delta_r2 / (1 - self.r2_baseline) * 100

    def official_record(self) -> dict:
        """This fit as one line of the official `predictive_power*.jsonl`."""
        return {
            "Predicted variable": self.variable,
            "Coefficient": self.coefficient,
            "Number of standard deviations": self.t_value,
            "P-value": self.p_value,
            "R2": self.r2,
            "Change in R2 from baseline": self.delta_r2,
            "AIC": self.aic,
            "Change in AIC from baseline": self.aic - self.aic_baseline,
        }


def fit_variable(data: pd.DataFrame, dv: str, predictors: Sequence[str]) -> Fit:
    """Baseline and full OLS fits of `dv`, each on its own complete rows."""
    import statsmodels.formula.api as smf

    base_rows = data[[dv, *predictors]].dropna()
    base = smf.ols(formula(dv, predictors, False), data=base_rows).fit()
    full_rows = data[[PRED, dv, *predictors]].dropna()
    full = smf.ols(formula(dv, predictors, True), data=full_rows).fit()
    return Fit(
        variable=dv, coefficient=float(full.params[PRED]), t_value=float(full.tvalues[PRED]),
        p_value=float(full.pvalues[PRED]), r2=float(full.rsquared),
        r2_baseline=float(base.rsquared), aic=float(full.aic), aic_baseline=float(base.aic),
        n=int(full.nobs),
    )


@dataclass(frozen=True)
class ReadingResult:
    """All fits of one model: `predictive_power` (no spillover) and `spillover`."""

    predictive_power: tuple[Fit, ...]
    spillover: tuple[Fit, ...]

    def fit(self, variable: str, spillover: bool = False) -> Fit:
        fits = self.spillover if spillover else self.predictive_power
        return next(f for f in fits if f.variable == variable)

    @property
    def eye_tracking(self) -> float:
        return float(np.mean([self.fit(dv).score for dv in EYE_TRACKING]))

    @property
    def self_paced_reading(self) -> float:
        return self.fit(SELF_PACED, spillover=True).score

    def metrics(self) -> dict[str, float]:
        """The two official scores, then one normalised delta-R2 per DV.

        The per-DV value is the spillover fit for self-paced reading (as its score) and the
        predictive-power fit for the eye-tracking and EEG measures.
        """
        out = {"eye_tracking": self.eye_tracking, "self_paced_reading": self.self_paced_reading}
        for dv in VARIABLES:
            out[dv] = self.fit(dv, spillover=dv == SELF_PACED).score
        return out

    def as_dict(self) -> dict:
        return {
            "metrics": self.metrics(),
            "predictive_power": [asdict(f) for f in self.predictive_power],
            "spillover": [asdict(f) for f in self.spillover],
        }


def check_columns(data: pd.DataFrame, where: str, needed: Sequence[str] = CSV_COLUMNS) -> None:
    """Raise DataError naming `where` if `data` lacks a needed column."""
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)}. The reading task needs the "
            "columns of the official BabyLM 2025 reading_data.csv; re-download it "
            "(`classit-eval download-data`)."
        )


def fit_all(data: pd.DataFrame) -> ReadingResult:
    """All fits; `data` holds the csv columns plus `pred` and `prev_pred` (surprisals)."""
    check_columns(data, "reading data", (*CSV_COLUMNS, PRED, "prev_pred"))
    return ReadingResult(
        predictive_power=tuple(fit_variable(data, dv, BASELINE) for dv in VARIABLES),
        spillover=tuple(fit_variable(data, dv, SPILLOVER) for dv in VARIABLES),
    )


def correlations(data: pd.DataFrame) -> dict[str, float]:
    """Pearson correlation of `pred` with each DV (the official correlations.txt)."""
    return {dv: float(v) for dv, v in data[[PRED, *VARIABLES]].corr()[PRED].items() if dv != PRED}


def design(data: pd.DataFrame, dv: str, predictors: Sequence[str], with_pred: bool):
    """The OLS design matrix (intercept, terms of `formula`) and response, complete rows only."""
    cols = [dv, *predictors, *([PRED] if with_pred else [])]
    keep = data[cols].notna().all(axis=1).to_numpy()
    x = data.loc[keep, list(predictors)].to_numpy(float)
    pairs = combinations(range(x.shape[1]), 2)
    parts = [np.ones(len(x)), *x.T, *(x[:, i] * x[:, j] for i, j in pairs)]
    if with_pred:
        parts.append(data.loc[keep, PRED].to_numpy(float))
    return keep, np.column_stack(parts), data.loc[keep, dv].to_numpy(float)


SCORED = [(dv, BASELINE) for dv in EYE_TRACKING] + [(SELF_PACED, SPILLOVER)]


def bootstrap(
    frames: Sequence[pd.DataFrame], n_resamples: int = 1000, seed: int = 0,
    group: str = "sentence",
) -> np.ndarray:
    """Scores of resampled data: shape (n_resamples, len(frames), 2) for (eye, self-paced).

    Sentences (`group`) are drawn with replacement, with all their rows; every frame (one
    per model, same csv rows) uses the same draws, so differences between models are paired.
    """
    rng = np.random.default_rng(seed)
    groups = pd.factorize(frames[0][group])[0]
    n_groups = groups.max() + 1
    counts = np.stack([np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)
                       for _ in range(n_resamples)])  # how often each sentence is drawn
    out = np.empty((n_resamples, len(frames), 2))
    for m, frame in enumerate(frames):
        scores = np.empty((n_resamples, len(SCORED)))
        for k, (dv, predictors) in enumerate(SCORED):
            base_keep, base_x, base_y = design(frame, dv, predictors, False)
            full_keep, full_x, full_y = design(frame, dv, predictors, True)
            r2b = resampled_r2(base_x, base_y, groups[base_keep], counts)
            r2f = resampled_r2(full_x, full_y, groups[full_keep], counts)
            scores[:, k] = (r2f - r2b) / (1 - r2b) * 100
        out[:, m, 0] = scores[:, : len(EYE_TRACKING)].mean(axis=1)
        out[:, m, 1] = scores[:, -1]
    return out


def resampled_r2(x: np.ndarray, y: np.ndarray, groups: np.ndarray, counts: np.ndarray
                 ) -> np.ndarray:
    """The OLS R2 of `y` on `x` (its first column the intercept) in each resample, whose
    rows are each group's rows `counts[r, group]` times over.

    A resample's normal equations are the count-weighted sums of its groups' (x'x, x'y,
    y'y, sum y, rows), so all resamples cost one matrix product and a batched solve
    instead of a least-squares fit each (1,000 resamples x 10 fits took seconds). The
    predictors are standardised and y centred first, which leaves R2 as it is (the
    intercept absorbs the shifts) and keeps the equations well conditioned; a resample
    whose equations are singular is fitted by least squares."""
    x = x.copy()
    spread = x[:, 1:].std(axis=0)
    x[:, 1:] = (x[:, 1:] - x[:, 1:].mean(axis=0)) / np.where(spread > 0, spread, 1)
    y = y - y.mean()
    p = x.shape[1]
    rows = np.column_stack([(x[:, :, None] * x[:, None, :]).reshape(len(x), p * p),
                            x * y[:, None], y * y, y, np.ones(len(y))])
    per_group = np.zeros((counts.shape[1], rows.shape[1]))
    np.add.at(per_group, groups, rows)
    sums = counts @ per_group
    xx, xy = sums[:, : p * p].reshape(-1, p, p), sums[:, p * p: p * p + p]
    yy, sy, n = sums[:, -3], sums[:, -2], sums[:, -1]
    try:
        coef = np.linalg.solve(xx, xy[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:  # a singular resample: each by least squares
        coef = np.stack([np.linalg.lstsq(a, b, rcond=None)[0] for a, b in zip(xx, xy, strict=True)])
    return 1.0 - (yy - (coef * xy).sum(axis=1)) / (yy - sy * sy / n)


def interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central percentile interval of bootstrap samples."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)

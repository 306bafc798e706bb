"""Null baselines of the reading scores: what a score is worth beside chance and token count.

A reading score is the share of the baseline regression's unexplained variance that the
surprisal explains. Two things explain some of it without any language model:

* the token count: a model that guesses uniformly over its vocabulary has the surprisal
  `tokens x ln V` (the word's tokens under the model's own tokenizer and the run's
  convention, V the vocabulary size). A random model is close to that, and scores high
  because longer words (in tokens) are read longer. `token_null` scores that predictor
  through the official statsmodels fits of the two scores (`regression.fit_variable`), for
  both `pred` and `prev_pred`, so a model whose surprisal is exactly the token count
  scores exactly the token-count null.
* chance: the model's surprisals shuffled across the words of each sentence (seeded
  permutations). Each permutation keeps the sentence's set of surprisals and the baseline
  (with `prev_pred` for self-paced reading) and breaks the word-to-surprisal pairing. The
  p-value is `(1 + #{null >= score}) / (N + 1)`.

The official scores stay those of `regression.fit_all` (statsmodels). The permutation
scores use the same definition, computed for all permutations at once: the baseline design
(an orthonormal basis of it, from its SVD) is projected out of the response and of every
permuted surprisal column together, and the gain in R2 of one added column is
`(r_y . r_p)^2 / (r_p . r_p)` over the total sum of squares (equal to the statsmodels
score to 1e-9 on the unpermuted column, a test).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from classit_eval.names import EYE_TRACKING, READING_NULL_FIELDS, READING_SCORES, SELF_PACED
from classit_eval.reading import dataset, regression
from classit_eval.scoring import word_steps


def token_surprisals(tokenizer, data: pd.DataFrame, convention: str = "running"
                     ) -> tuple[np.ndarray, np.ndarray]:
    """`tokens x ln V` of each row's word and of its previous word (NaN without one): the
    surprisal of a uniform guess over the tokenizer's vocabulary, token by token, as the
    convention scores the word (`scoring.word_steps`)."""
    ln_v = math.log(len(tokenizer))
    counts: dict[tuple[str, str], int] = {}

    def surprisal(context: str, word: object) -> float:
        key = (context, str(word))
        if key not in counts:
            counts[key] = sum(len(cont) for _, cont in word_steps(tokenizer, *key, convention))
        return counts[key] * ln_v

    pred = [surprisal(i, w) for i, w in zip(data["item"], data["word"], strict=True)]
    prev = [surprisal(i, w) if ok else math.nan for i, w, ok in
            zip(data["prev_item"], data["prev_word"], dataset.has_previous(data), strict=True)]
    return np.array(pred), np.array(prev)


def token_null(data: pd.DataFrame, pred: Sequence[float] | np.ndarray,
               prev_pred: Sequence[float] | np.ndarray) -> dict[str, float]:
    """The two scores of the token-count surprisals, by the official regression (only the
    fits the two scores use, computed as `regression.ReadingResult` computes them)."""
    frame = dataset.with_surprisals(data, pred, prev_pred)
    eye = [regression.fit_variable(frame, dv, regression.BASELINE).score for dv in EYE_TRACKING]
    spr = regression.fit_variable(frame, SELF_PACED, regression.SPILLOVER)
    return {"eye_tracking": float(np.mean(eye)), "self_paced_reading": spr.score}


def shuffled_within(groups: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`n` permutations of the row indices (shape (n, rows)) that move rows only within
    their group: row i takes the value of row `out[k, i]`, of the same group."""
    rng = np.random.default_rng(seed)
    slots = np.argsort(groups, kind="stable")  # the rows, group by group
    # 2 g + u (u uniform in [0, 1)) sorts group by group, in random order inside a group
    drawn = np.argsort(2.0 * groups + rng.random((n, len(groups))), axis=-1)
    out = np.empty((n, len(groups)), dtype=np.intp)
    out[:, slots] = drawn
    return out


def added_column_scores(design: np.ndarray, y: np.ndarray, columns: np.ndarray,
                        r2_baseline: float) -> np.ndarray:
    """The normalised delta-R2 (x100) of adding each column of `columns` (rows x k) to the
    OLS fit of `y` on `design`, against the baseline R2 `r2_baseline`.

    `design` is projected out once (an orthonormal basis of its column space, from its
    SVD, so a rank-deficient design is handled as least squares does)."""
    u, s, _ = np.linalg.svd(design, full_matrices=False)
    basis = u[:, s > s[0] * max(design.shape) * np.finfo(float).eps]
    r_y = y - basis @ (basis.T @ y)
    r_p = columns - basis @ (basis.T @ columns)
    centred = y - y.mean()
    p_norm = np.einsum("ij,ij->j", r_p, r_p)
    gain = np.divide((r_y @ r_p) ** 2, p_norm, out=np.zeros_like(p_norm), where=p_norm > 0)
    r2_full = 1.0 - (float(r_y @ r_y) - gain) / float(centred @ centred)
    return (r2_full - r2_baseline) / (1 - r2_baseline) * 100


def permutation_scores(data: pd.DataFrame, result: regression.ReadingResult, n: int,
                       seed: int = 0, group: str = "sentence") -> np.ndarray:
    """Both scores (shape (n, 2): eye tracking, self-paced) of `n` within-sentence
    permutations of `pred`; `result` is the frame's official fits (their baseline R2)."""
    pred = data[regression.PRED].to_numpy(float)
    if not np.isfinite(pred).all():
        raise ValueError("the permutation null needs a finite surprisal on every row")
    perms = shuffled_within(pd.factorize(data[group])[0], n, seed)
    shuffled = pred[perms]
    per_dv = np.empty((n, len(regression.SCORED)))
    for k, (dv, predictors) in enumerate(regression.SCORED):
        keep, design, y = regression.design(data, dv, predictors, True)
        r2_baseline = result.fit(dv, spillover=predictors == regression.SPILLOVER).r2_baseline
        per_dv[:, k] = added_column_scores(design[:, :-1], y, shuffled[:, keep].T, r2_baseline)
    return np.column_stack([per_dv[:, : len(EYE_TRACKING)].mean(axis=1), per_dv[:, -1]])


def null_baselines(frame: pd.DataFrame, result: regression.ReadingResult, permutations: int,
                   seed: int = 0, token_pred: tuple[np.ndarray, np.ndarray] | None = None,
                   ) -> dict[str, float]:
    """The null metrics (names.READING_NULLS) of one model's frame and official fits.

    `permutations` 0 leaves the permutation null out; `token_pred` (from
    `token_surprisals`, None when the tokenizer is unknown) gives the token-count null."""
    scores = {"eye_tracking": result.eye_tracking, "self_paced_reading": result.self_paced_reading}
    samples = permutation_scores(frame, result, permutations, seed) if permutations > 0 else None
    tokens = token_null(frame, *token_pred) if token_pred is not None else None
    return summary(scores, samples, tokens)


def summary(scores: dict[str, float], null_samples: np.ndarray | None,
            token_scores: dict[str, float] | None) -> dict[str, float]:
    """`<score>_<field>` for each score and null field (NaN where a null was not computed)."""
    out = {}
    for k, name in enumerate(READING_SCORES):
        out[f"{name}_token_null"] = token_scores[name] if token_scores else math.nan
        if null_samples is None:
            out.update(dict.fromkeys((f"{name}_{f}" for f in READING_NULL_FIELDS[1:]), math.nan))
            continue
        null = null_samples[:, k]
        out[f"{name}_null_mean"] = float(null.mean())
        out[f"{name}_null_p95"] = float(np.percentile(null, 95))
        out[f"{name}_null_p"] = float((1 + np.sum(null >= scores[name])) / (len(null) + 1))
    return out

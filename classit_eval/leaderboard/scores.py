"""The organisers' scores, recomputed from a submission's predictions.

Each function restates what the official pipeline computes from the same predictions
(`collate_preds.py` for the per-revision `fast_eval_results`, `calculate_results_from_pred.py`
for the final model): accuracy is the share of items whose `pred`, stripped, equals the
gold string, stripped, pairing predictions with the data lines by position; WUG is
Spearman's rho between the `prob` of candidate 0 and the human ratio; reading is the
normalised delta-R2 of the surprisal `pred` (and `prev_pred`), self-paced reading with
spillover. The export computes `fast_eval_results` with these same functions, so they are
what the official collation writes for those predictions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from classit_eval.families import GLUE
from classit_eval.leaderboard.items import Item

Predictions = list[dict]  # [{"id": ..., "pred": ..., ...}] of one subtask


def accuracy(predictions: Predictions, items: Sequence[Item]) -> float:
    """Share of items whose `pred` equals the gold string (both stripped), by position."""
    pairs = list(zip(predictions, items, strict=False))
    correct = sum(_stripped(p.get("pred")) == item.gold for p, item in pairs)
    return correct / len(pairs) if pairs else math.nan


def _stripped(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def wug_rho(predictions: Predictions, items: Sequence[Item]) -> float | None:
    """Spearman's rho of `prob` and the human ratio; None when a prediction has no `prob`
    (the first 2025 releases of the pipeline wrote none)."""
    from scipy.stats import spearmanr

    pairs = list(zip(predictions, items, strict=False))
    if not pairs or any(not _is_number(p.get("prob")) for p, _ in pairs):
        return None
    rho = spearmanr([p["prob"] for p, _ in pairs], [item.ratio for _, item in pairs])[0]
    return float(rho)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def reading_scores(predictions: Predictions, csv) -> dict[str, float]:
    """`{"spr": .., "rt": ..}` as `collate_preds.py` writes them: fractions, not x100."""
    from classit_eval.reading import regression
    from classit_eval.reading.dataset import with_surprisals

    frame = with_surprisals(csv, [_float(p["pred"]) for p in predictions],
                            [_float(p.get("prev_pred")) for p in predictions])
    fits = regression.fit_all(frame)
    return {"spr": fits.self_paced_reading / 100, "rt": fits.eye_tracking / 100}


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)


def glue_scores(task: str, predictions: Predictions, labels: Sequence[int]) -> dict[str, float]:
    """Accuracy, and F1 of label 1 for the tasks the organisers score by F1."""
    preds = [p.get("pred") for p in predictions]
    out = {"acc": sum(p == y for p, y in zip(preds, labels, strict=True)) / len(labels)}
    if "f1" in GLUE[task].metrics:
        tp = sum(p == 1 and y == 1 for p, y in zip(preds, labels, strict=True))
        fp = sum(p == 1 and y != 1 for p, y in zip(preds, labels, strict=True))
        fn = sum(p != 1 and y == 1 for p, y in zip(preds, labels, strict=True))
        out["f1"] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return out


def glue_score(task: str, scores: dict[str, float]) -> float:
    """The number the organisers average for a GLUE task (F1 for MRPC and QQP)."""
    return scores[GLUE[task].metrics[0]]


def mean(values: Sequence[float]) -> float:
    """Plain mean; NaN when empty (the official averages are plain means)."""
    return sum(values) / len(values) if values else math.nan

"""z-scores of a models x columns score table, per-model summaries, groups and paired tests.

Each column is z-scored across the compared models (sample standard deviation, ddof=1),
or against the mean and standard deviation of reference models. A model's summary is the
distribution of its z-scores over the columns of a family (`finetune`, `zero_shot`, `all`).
"""

from __future__ import annotations

import itertools
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from classit_eval.compare import CompareError
from classit_eval.compare.load import warn
from classit_eval.compare.registry import FAMILIES

ALL = "all"
SUMMARY = ("mean", "median", "q1", "q3", "min", "max", "n_tasks")


def zscores(scores: pd.DataFrame,
            reference: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The z-score table and, per column, the `mean`, `std` and `n` it was computed from."""
    if len(scores) < 2:
        raise CompareError(
            f"z-scores need at least two models; found {len(scores)}: {', '.join(scores.index)}. "
            "Give more results folders (or fewer filters)."
        )
    base = scores
    if reference:
        unknown = [name for name in reference if name not in scores.index]
        if unknown:
            raise CompareError(f"--reference {', '.join(unknown)}: no such model; the models are "
                               f"{', '.join(scores.index)}.")
        if len(set(reference)) < 2:
            raise CompareError("--reference needs at least two models (a standard deviation).")
        base = scores.loc[list(dict.fromkeys(reference))]
    stats = pd.DataFrame({"mean": base.mean(), "std": base.std(ddof=1), "n": base.count()})
    whose = "reference models" if reference else "models"
    for column in stats.index[stats["n"] < 2]:
        warn(f"Column {column}: fewer than two {whose} have it; left out of the z-scores.")
    stats = stats[stats["n"] >= 2]
    flat = stats.index[np.isclose(stats["std"], 0.0)]
    for column in flat:
        warn(f"Column {column}: every {whose[:-1]} scores {stats.at[column, 'mean']:.4g} "
             "(zero variance); its z-scores are set to 0.")
    std = stats["std"].where(~stats.index.isin(flat), np.inf)  # x / inf = 0
    z = (scores[stats.index] - stats["mean"]) / std
    return z + 0.0, stats  # + 0.0 turns -0.0 into 0.0


def summarize(z: pd.DataFrame, families: dict[str, str]) -> pd.DataFrame:
    """Per (model, family): mean, median, quartiles, min, max of its z-scores and `n_tasks`."""
    rows = {}
    for family in (*FAMILIES, ALL):
        columns = [c for c in z.columns if family == ALL or families[c] == family]
        if not columns:
            continue
        for model, values in z[columns].iterrows():
            rows[model, family] = describe(values.dropna().to_numpy())
    index = pd.MultiIndex.from_tuples(list(rows), names=["model", "family"])
    return pd.DataFrame(list(rows.values()), index=index, columns=list(SUMMARY))


def describe(values: np.ndarray) -> list[float]:
    """mean, median, q1, q3, min, max and count of `values` (NaN stats when empty)."""
    if values.size == 0:
        return [np.nan] * 6 + [0]
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return [values.mean(), median, q1, q3, values.min(), values.max(), values.size]


def group_labels(models: list[str], pattern: str) -> dict[str, str]:
    """Each model's group: the named group(s) `pattern` finds in its name (joined by `/`)."""
    try:
        regex = re.compile(pattern)
    except re.error as err:
        raise CompareError(f"--group-by {pattern!r}: not a regular expression ({err}).") from err
    if not regex.groupindex:
        raise CompareError(f"--group-by {pattern!r} has no named group; write one, e.g. "
                           "'_(?P<curriculum>merged|switch_wiki|wiki_switch)$'.")
    labels = {}
    for model in models:
        match = regex.search(model)
        found = [v for v in match.groupdict().values() if v] if match else []
        if found:
            labels[model] = "/".join(found)
        else:
            warn(f"Model {model}: --group-by {pattern!r} does not match it; left out of the "
                 "groups.")
    return labels


def group_z(z: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """Groups x columns: the mean z-score of each group's models on each column."""
    members = z.loc[list(labels)]
    return members.groupby(pd.Series(labels)).mean()


def paired_test(a: pd.Series, b: pd.Series, families: dict[str, str]) -> pd.DataFrame:
    """Wilcoxon signed-rank test of `a` vs `b` over the columns both have, per family."""
    rows = {}
    for family in (*FAMILIES, ALL):
        columns = [c for c in a.index if family == ALL or families[c] == family]
        diff = (a[columns] - b[columns]).dropna()
        if diff.empty:
            continue
        with warnings.catch_warnings():  # scipy warns on all-zero differences, p is still set
            warnings.simplefilter("ignore", RuntimeWarning)
            test = wilcoxon(diff.to_numpy()) if (diff != 0).any() else None
        rows[family] = {
            "n_tasks": len(diff),
            "wins": int((diff > 0).sum()),
            "losses": int((diff < 0).sum()),
            "median_diff": float(diff.median()),
            "statistic": float(test.statistic) if test else np.nan,
            "p_value": float(test.pvalue) if test else 1.0,
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("family")


@dataclass
class Comparison:
    """Everything `classit-zscore` reports."""

    scores: pd.DataFrame  # models x columns, raw metric values
    z: pd.DataFrame  # models x columns
    column_stats: pd.DataFrame  # columns x (mean, std, n)
    families: dict[str, str]  # column -> family
    summary: pd.DataFrame  # (model, family) x SUMMARY
    reference: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # model -> group
    group_z: pd.DataFrame | None = None
    group_summary: pd.DataFrame | None = None
    tests: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)

    def order(self, family: str = ALL) -> list[str]:
        """Models by decreasing median z-score in `family` (models without one last)."""
        medians = self.summary.xs(family, level="family")["median"] if len(self.summary) else None
        if medians is None:
            return list(self.z.index)
        return list(medians.sort_values(ascending=False, na_position="last").index)


def compare(
    scores: pd.DataFrame,
    families: dict[str, str],
    reference: list[str] | None = None,
    group_by: str | None = None,
    compare_pairs: list[tuple[str, str]] | None = None,
    labels: dict[str, str] | None = None,
) -> Comparison:
    """z-scores, summaries, groups and paired tests of a models x columns score table.

    Groups come from `group_by` (a regex on model names) or ready-made `labels`.
    """
    z, column_stats = zscores(scores, reference)
    if z.columns.empty:
        raise CompareError("No column has values for two models or more: nothing to z-score.")
    families = {c: families[c] for c in z.columns}
    out = Comparison(scores, z, column_stats, families, summarize(z, families),
                     list(reference or []))
    pairs: list[tuple[str, str]] = []
    if group_by:
        labels = group_labels(list(z.index), group_by)
    if labels is not None:
        out.labels = {model: label for model, label in labels.items() if model in z.index}
        if not out.labels:
            raise CompareError("No model could be put in a group; see the warnings above.")
        out.group_z = group_z(z, out.labels)
        out.group_summary = summarize(out.group_z, families)
        pairs += itertools.combinations(sorted(out.group_z.index), 2)
    pairs += compare_pairs or []
    for a, b in pairs:
        out.tests[a, b] = paired_test(_row(out, a), _row(out, b), families)
    return out


def _row(out: Comparison, name: str) -> pd.Series:
    """The z-scores of a model, or the mean z-scores of a group."""
    if name in out.z.index:
        return out.z.loc[name]
    if out.group_z is not None and name in out.group_z.index:
        return out.group_z.loc[name]
    groups = f"; groups: {', '.join(out.group_z.index)}" if out.group_z is not None else ""
    raise CompareError(f"--compare {name!r}: no such model or group. Models: "
                       f"{', '.join(out.z.index)}{groups}.")

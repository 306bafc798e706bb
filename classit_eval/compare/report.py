"""Writing a `Comparison`: terminal text, JSON, CSV, Markdown and boxplot figures.

JSON schema (`"schema": "classit-zscore/1"`):

    {"schema", "reference": [model...],
     "columns": {column: {"task", "metric", "family", "mean", "std", "n_models"}},
     "models": {model: {"group": str | null, "files": [path...],
                        "scores": {column: value | null},
                        "families": {family: {"mean", "median", "q1", "q3", "min", "max",
                                              "n_tasks", "z": {column: z | null}}}}},
     "groups": {group: {"models": [model...], "families": {family: {... as above}}}},
     "tests": [{"a", "b", "family", "n_tasks", "wins", "losses", "median_diff",
                "statistic", "p_value"}]}

Families are `finetune`, `zero_shot` and `all`; a family without columns is left out.
Missing values are `null`; `n_tasks` says over how many columns a summary was computed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from classit_eval.compare.registry import FAMILIES, Column
from classit_eval.compare.stats import ALL, SUMMARY, Comparison

SCHEMA = "classit-zscore/1"
MISSING = "-"


def _num(value: float) -> float | None:
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return None if missing else float(value)


def _families(cmp: Comparison, summary: pd.DataFrame, z: pd.DataFrame, name: str) -> dict:
    out: dict[str, dict] = {}
    for family in (*FAMILIES, ALL):
        if (name, family) not in summary.index:
            continue
        stats = summary.loc[(name, family)]
        columns = [c for c in z.columns if family == ALL or cmp.families[c] == family]
        out[family] = {key: _num(stats[key]) for key in SUMMARY if key != "n_tasks"}
        out[family]["n_tasks"] = int(stats["n_tasks"])
        out[family]["z"] = {c: _num(z.at[name, c]) for c in columns}
    return out


def to_json(cmp: Comparison, columns: dict[str, Column], files: dict[str, list[Path]]) -> dict:
    """The comparison as a JSON-ready dict (schema in this module's docstring)."""
    doc: dict[str, Any] = {"schema": SCHEMA, "reference": cmp.reference, "columns": {},
                           "models": {}, "groups": {}, "tests": []}
    for name, row in cmp.column_stats.iterrows():
        col = columns[name]
        doc["columns"][name] = {"task": col.task, "metric": col.metric, "family": col.family,
                                "mean": _num(row["mean"]), "std": _num(row["std"]),
                                "n_models": int(row["n"])}
    for model in cmp.order():
        doc["models"][model] = {
            "group": cmp.labels.get(model),
            "files": [str(p) for p in files.get(model, [])],
            "scores": {c: _num(cmp.scores.at[model, c]) for c in cmp.z.columns},
            "families": _families(cmp, cmp.summary, cmp.z, model),
        }
    if cmp.group_z is not None:
        for group in cmp.group_z.index:
            doc["groups"][group] = {
                "models": sorted(m for m, g in cmp.labels.items() if g == group),
                "families": _families(cmp, cmp.group_summary, cmp.group_z, group),
            }
    for (a, b), table in cmp.tests.items():
        for family, row in table.iterrows():
            counts = {k: int(row[k]) for k in ("n_tasks", "wins", "losses")}
            stats = {k: _num(row[k]) for k in ("median_diff", "statistic", "p_value")}
            doc["tests"].append({"a": a, "b": b, "family": family, **counts, **stats})
    return doc


def summary_table(summary: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """One row per model (in `order`), `<family> <stat>` columns (the CSV layout)."""
    wide = summary.unstack("family").swaplevel(axis=1)
    families = [f for f in (*FAMILIES, ALL) if f in wide.columns.get_level_values(0)]
    wide = wide.reindex(columns=[(f, s) for f in families for s in SUMMARY])
    wide.columns = [f"{f} {s}" for f, s in wide.columns]
    return wide.reindex([m for m in order if m in wide.index])


def tests_table(cmp: Comparison) -> pd.DataFrame:
    if not cmp.tests:
        return pd.DataFrame()
    return pd.concat({f"{a} vs {b}": t for (a, b), t in cmp.tests.items()}, names=["pair"])


def to_csv(cmp: Comparison) -> pd.DataFrame:
    """One row per model: group, summary statistics per family, then `z:<column>`."""
    table = summary_table(cmp.summary, cmp.order())
    table.insert(0, "group", pd.Series(cmp.labels))
    z = cmp.z.add_prefix("z:")
    return table.join(z).rename_axis("model")


def short(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with `classit_` dropped from its column names, for display."""
    return table.rename(columns=lambda c: str(c).removeprefix("classit_"))


def sections(cmp: Comparison) -> list[tuple[str, pd.DataFrame]]:
    """The titled tables shown on the terminal and in Markdown."""
    order = cmp.order()
    base = f"reference models {', '.join(cmp.reference)}" if cmp.reference else "all models"
    summary = cmp.summary.loc[order].reindex([*FAMILIES, ALL], level="family")
    out = [
        ("Scores (primary metric per task)", short(cmp.scores.loc[order, cmp.z.columns])),
        (f"z-scores (per task, against {base})", short(cmp.z.loc[order])),
        ("Each model's z-scores by family (best median over all tasks first)", summary),
    ]
    if cmp.group_summary is not None and cmp.group_z is not None:
        group_order = list(cmp.group_summary.xs(ALL, level="family")["median"].sort_values(
            ascending=False).index)
        out.append(("Groups: mean z-score of their models per task",
                    short(cmp.group_z.loc[group_order].rename_axis("group"))))
        out.append(("Groups: summary by family",
                    cmp.group_summary.loc[group_order].rename_axis(["group", "family"])))
    if cmp.tests:
        out.append(("Paired Wilcoxon signed-rank tests over tasks (z of a - z of b)",
                    tests_table(cmp)))
    return out


def to_text(cmp: Comparison) -> str:
    parts = []
    for title, table in sections(cmp):
        text = table.to_string(float_format=lambda v: f"{v:.3f}", na_rep=MISSING)
        parts.append(f"{title}\n{'-' * len(title)}\n{text}\n")
    return "\n".join(parts)


def to_markdown(cmp: Comparison) -> str:
    parts = [f"### {title}\n\n{table.to_markdown(floatfmt='.3f', missingval=MISSING)}\n"
             for title, table in sections(cmp)]
    return "\n".join(parts)


def write(text: str, target: str) -> None:
    """Write `text` to the file `target`, or to the terminal for `-`."""
    if target == "-":
        print(text)
    else:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(text, encoding="utf-8")


def write_json(doc: dict, target: str) -> None:
    write(json.dumps(doc, indent=2, ensure_ascii=False), target)

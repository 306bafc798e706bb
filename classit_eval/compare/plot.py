"""The paper-style figure: per family, one box of z-scores per model, ordered by median."""

from __future__ import annotations

from pathlib import Path

from classit_eval.compare import CompareError
from classit_eval.compare.registry import FAMILIES
from classit_eval.compare.stats import ALL, Comparison

TITLES = {"finetune": "Fine-tuning tasks", "zero_shot": "Zero-shot tasks", ALL: "All tasks"}
FORMATS = (".png", ".svg", ".pdf")


def check_target(target: str | Path) -> Path:
    """`target` as a Path, refused unless its suffix names a format that can be written."""
    target = Path(target)
    if target.suffix.lower() not in FORMATS:
        raise CompareError(f"--plot {target}: the file must end in {', '.join(FORMATS)}.")
    return target


def plot(cmp: Comparison, target: str | Path) -> Path:
    """Write the boxplots of every family with columns to `target` (PNG, SVG or PDF)."""
    target = check_target(target)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # `vert` is deprecated since matplotlib 3.10, which added `orientation`
    new = tuple(int(p) for p in matplotlib.__version__.split(".")[:2]) >= (3, 10)
    HORIZONTAL = {"orientation": "horizontal"} if new else {"vert": False}

    families = [f for f in (*FAMILIES, ALL)
                if f in cmp.summary.index.get_level_values("family")]
    if len(families) == 2:  # one family: "all" would repeat it
        families = families[:1]
    height = 1.2 + 0.35 * len(cmp.z)
    fig, axes = plt.subplots(1, len(families), figsize=(4.2 * len(families), height),
                             sharey=False, squeeze=False)
    for ax, family in zip(axes[0], families, strict=True):
        columns = [c for c in cmp.z.columns if family == ALL or cmp.families[c] == family]
        order = [m for m in cmp.order(family)
                 if cmp.summary.at[(m, family), "n_tasks"] > 0][::-1]  # best on top
        data = [cmp.z.loc[m, columns].dropna().to_numpy() for m in order]
        ax.boxplot(data, widths=0.6, medianprops={"color": "black"},
                   flierprops={"marker": "o", "markersize": 3}, **HORIZONTAL)
        ax.set_yticks(range(1, len(order) + 1), order)
        ax.axvline(0, color="grey", linewidth=0.8, linestyle=":")
        ax.set_title(f"{TITLES[family]} ({len(columns)})")
        ax.set_xlabel("z-score")
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target

"""The figure of `classit-eval surprisal --plot`: surprisal along one item's words."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from classit_eval.surprisal.core import Row


def plot(rows: Sequence[Row], path: Path, base: str = "nats", tokens: bool = False) -> Path:
    """A bar per word (or token, `tokens`) in reading order, labelled with it; lines are
    shaded alternately when the item has several."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r.tokens[0] if tokens else r.word for r in rows]
    lines = sorted({r.line for r in rows})
    colours = ["tab:blue" if lines.index(r.line) % 2 == 0 else "tab:orange" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(rows) + 1), 3.6))
    ax.bar(range(len(rows)), [r.surprisal for r in rows], color=colours)
    ax.set_xticks(range(len(rows)), labels, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel(f"surprisal ({base})")
    ax.set_title(f"item {rows[0].item}" if rows else "no rows")
    fig.tight_layout()
    tmp = path.with_name(f"tmp-{path.name}")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)
    return path

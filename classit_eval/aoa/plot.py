"""The AoA figure: learning curves of a few words, and model vs child AoA when known.

Left: each chosen word's mean surprisal per checkpoint against words seen (log x), its
fitted sigmoid, and its AoA (a dashed line). Right, with the CDI table: each word's model
AoA (log10 words) against its child AoA (months), with Pearson r.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from classit_eval.aoa.fit import WordAoA, sigmoid


def mean_curves(rows: Sequence[dict]) -> dict[str, tuple[list[float], list[float]]]:
    """word -> (words seen per checkpoint, ascending; mean surprisal at each)."""
    sums: dict[str, dict[float, list[float]]] = {}
    for r in rows:
        sums.setdefault(r["target_word"], {}).setdefault(float(r["word_count"]), []).append(
            float(r["surprisal"]))
    return {w: (sorted(s), [math.fsum(s[k]) / len(s[k]) for k in sorted(s)])
            for w, s in sums.items()}


def pick_words(fits: Sequence[WordAoA], wanted: Sequence[str] | None, n: int = 4) -> list[str]:
    """The words asked for, else the first `n` words with an AoA (else with rows)."""
    if wanted:
        return list(wanted)
    chosen = [f.word for f in fits if f.aoa is not None][:n]
    return chosen or [f.word for f in fits if f.contexts][:n]


def plot(rows: Sequence[dict], fits: Sequence[WordAoA], mode: str, path: Path,
         words: Sequence[str] | None = None, child: dict[str, float | None] | None = None,
         r: float | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves, by_word = mean_curves(rows), {f.word: f for f in fits}
    chosen = [w for w in pick_words(fits, words) if w in curves]
    panels = 2 if child else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.2), squeeze=False)
    ax = axes[0][0]
    shift = 1.0 if mode == "babylm2025" else 0.0  # the official x is log10(words + 1)
    for k, word in enumerate(chosen):
        seen, mean = curves[word]
        color = f"C{k}"
        ax.plot(seen, mean, "o", color=color, label=word)
        fit = by_word.get(word)
        if fit is not None and fit.params is not None:
            grid = np.logspace(math.log10(seen[0]), math.log10(seen[-1]), 200)
            ax.plot(grid, -sigmoid(np.log10(grid + shift), *fit.params), "-", color=color)
        if fit is not None and fit.aoa is not None:
            ax.axvline(10 ** fit.aoa - shift, color=color, linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("words seen")
    ax.set_ylabel("mean surprisal (nats)")
    ax.set_title(f"learning curves ({mode}); dashed: AoA")
    ax.legend(fontsize=8)
    if child:
        ax = axes[0][1]
        pairs = [(child[f.word], f.aoa) for f in fits
                 if f.aoa is not None and child.get(f.word) is not None]
        if pairs:
            ax.scatter([p[0] for p in pairs], [p[1] for p in pairs], s=10)
        ax.set_xlabel("child AoA (months)")
        ax.set_ylabel("model AoA (log10 words)")
        ax.set_title(f"{len(pairs)} words, Pearson r = {r:.3f}" if r is not None else "")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

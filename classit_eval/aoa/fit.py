"""Learning curves: a sigmoid per word over log10(words seen), its age of acquisition.

Both modes fit `f(x) = a / (1 + exp(-b (x - c))) + d` to minus the surprisal (so the curve
rises as the word is learned) with scipy's `curve_fit`, and read off the AoA as the x where
the curve crosses a surprisal threshold halfway between a chance level and a minimum
(Chang & Bergen 2022). The AoA is log10 of the words seen, as the official score uses it.

`babylm2025` restates the official `AoAEvaluator.compute_model_aoa`
(`evaluation_pipeline/utils.py`): the fit runs on every (context, checkpoint) point, x is
log10(words + 1) with the words parsed from the step name; the chance level is
log2(300,000) (bits, against surprisals in nats), the minimum is the lowest single-context
surprisal; an AoA outside [first row's words, last row's words] is dropped.

`full` (the default) fixes those: the fit runs on each checkpoint's mean surprisal over the
word's contexts; chance is the surprisal of a uniform guess over the model's vocabulary for
each of the word's tokens (`tokens * ln V`, nats, like the surprisals); the minimum is the
fitted curve's lowest surprisal over the checkpoints; the AoA must lie between the first
and last checkpoint; a word needs `min_contexts` contexts (20, the value `eval_aoa.sh`
sets and never passes) and the series 4 checkpoints (a sigmoid has 4 parameters). Every
word without an AoA carries the reason.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from classit_eval.data.series import UNITS

OFFICIAL_VOCAB = 300_000  # the official `approximate_vocab`
MIN_CHECKPOINTS = 4  # a sigmoid has four parameters
MIN_CONTEXTS = {"full": 20, "babylm2025": 0}
STEP_NUMBER = re.compile(r"(\d+(?:\.\d+)?)\s*([KMB]?)", re.IGNORECASE)


def sigmoid(x: np.ndarray, a: float, b: float, c: float, d: float) -> np.ndarray:
    with np.errstate(over="ignore"):
        return a / (1 + np.exp(-b * (x - c))) + d


@dataclass
class WordAoA:
    """One word's learning curve and AoA (log10 words seen), or the reason it has none."""

    word: str
    contexts: int
    aoa: float | None = None
    reason: str | None = None
    params: tuple[float, float, float, float] | None = None  # a, b, c, d of -surprisal
    threshold: float | None = None  # the surprisal (nats) whose crossing is the AoA
    x: list[float] = field(default_factory=list)  # log10 words of each checkpoint
    curve: list[float] = field(default_factory=list)  # mean surprisal at each checkpoint

    def row(self) -> dict:
        return {"word": self.word, "contexts": self.contexts, "aoa_log10_words": self.aoa,
                "aoa_words": None if self.aoa is None else 10 ** self.aoa,
                "reason": self.reason, "params": self.params, "threshold": self.threshold}


def fit_sigmoid(x: np.ndarray, y: np.ndarray, maxfev: int
                ) -> tuple[float, float, float, float] | None:
    """curve_fit of the sigmoid from the official starting point; None if it fails."""
    from scipy.optimize import curve_fit

    p0 = [np.max(y) - np.min(y), 1.0, np.mean(x), np.min(y)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # covariance warnings: the parameters are used alone
        try:
            params, _ = curve_fit(sigmoid, x, y, p0=p0, maxfev=maxfev)
        except (RuntimeError, ValueError, TypeError):
            return None
    a, b, c, d = (float(p) for p in params)
    return a, b, c, d


def crossing(params: Sequence[float], level: float) -> float | None:
    """The x where the rising sigmoid reaches `level`; None if it never does."""
    a, b, c, d = params
    if a <= 0 or b <= 0 or not d < level < a + d:
        return None
    return c - math.log(a / (level - d) - 1) / b


# -- the official computation -----------------------------------------------------------------
def official_words(step: str | int | float) -> float | None:
    """Words seen as the official `extract_step_number` reads a step name (the first number
    in it, times K/M/B): chck_10M -> 1e7."""
    if isinstance(step, (int, float)):
        return float(step)
    match = STEP_NUMBER.search(str(step))
    return float(match[1]) * UNITS[match[2].upper()] if match else None


def official_aoa(word: str, steps: Sequence[float], surprisals: Sequence[float],
                 contexts: int) -> WordAoA:
    """The official model AoA of one word from its rows (in file order)."""
    out = WordAoA(word, contexts)
    if len(surprisals) < 3:
        out.reason = "fewer than 3 rows"
        return out
    s, w = np.asarray(surprisals, dtype=float), np.asarray(steps, dtype=float)
    keep = ~np.isnan(s)
    if not keep.any():
        out.reason = "every surprisal is NaN"
        return out
    s, w = s[keep], w[keep]
    chance = math.log2(OFFICIAL_VOCAB)
    out.threshold = chance - 0.5 * (chance - float(np.min(s)))
    out.params = fit_sigmoid(np.log10(w + 1), -s, maxfev=1000)
    if out.params is None:
        out.reason = "the sigmoid fit failed"
        return out
    aoa = crossing(out.params, -out.threshold)
    if aoa is None:
        out.reason = "the fitted curve does not cross the threshold"
    elif not w[0] <= 10 ** aoa - 1 <= w[-1]:
        out.reason = "AoA outside the first and last rows' words"
    else:
        out.aoa = aoa
    return out


# -- the corrected computation ----------------------------------------------------------------
def corrected_aoa(word: str, words_seen: Sequence[float], mean_surprisal: Sequence[float],
                  chance: float, contexts: int, min_contexts: int) -> WordAoA:
    """The AoA of one word from its mean surprisal at each checkpoint (ascending words)."""
    x = np.log10(np.asarray(words_seen, dtype=float))
    s = np.asarray(mean_surprisal, dtype=float)
    out = WordAoA(word, contexts, x=x.tolist(), curve=s.tolist())
    if contexts < max(1, min_contexts):
        out.reason = (f"{contexts} contexts, fewer than {min_contexts}" if contexts
                      else "no contexts in the words file")
        return out
    if len(x) < MIN_CHECKPOINTS:
        out.reason = f"{len(x)} checkpoints, a sigmoid needs {MIN_CHECKPOINTS}"
        return out
    out.params = fit_sigmoid(x, -s, maxfev=10_000)
    if out.params is None:
        out.reason = "the sigmoid fit failed"
        return out
    lowest = -float(np.max(sigmoid(x, *out.params)))
    if lowest >= chance:
        out.reason = "the fitted surprisal never falls below chance"
        return out
    out.threshold = chance - 0.5 * (chance - lowest)
    aoa = crossing(out.params, -out.threshold)
    if aoa is None:
        out.reason = "the fitted curve does not cross the threshold"
    elif aoa < x[0]:
        out.reason = "acquired before the first checkpoint"
    elif aoa > x[-1]:
        out.reason = "not acquired by the last checkpoint"
    else:
        out.aoa = aoa
    return out


# -- from the rows of a surprisal.json ------------------------------------------------------
def fit_rows(rows: Sequence[dict], mode: str, words: Sequence[str] | None = None,
             vocab_size: int | None = None, word_tokens: dict[str, float] | None = None,
             min_contexts: int | None = None) -> list[WordAoA]:
    """Every word's AoA from the official JSON's rows. `words` lists the words to report
    (those without rows get the reason); `full` needs the vocabulary size and each word's
    tokens (the JSON's `metadata.classit`)."""
    by_word: dict[str, list[dict]] = {}
    for row in rows:
        by_word.setdefault(row["target_word"], []).append(row)
    order = list(words) if words is not None else list(by_word)
    order += [w for w in by_word if w not in set(order)]
    if min_contexts is None:
        min_contexts = MIN_CONTEXTS[mode]
    out = []
    for word in order:
        found = by_word.get(word, [])
        contexts = len({r["context_id"] for r in found})
        if mode == "babylm2025":
            words_seen = [official_words(r["step"]) for r in found]
            kept = [(s, r) for s, r in zip(words_seen, found, strict=True) if s is not None]
            if contexts < min_contexts or not found:
                out.append(WordAoA(word, contexts, reason="no contexts in the words file"
                                   if not found else f"{contexts} contexts, fewer than "
                                   f"{min_contexts}"))
                continue
            out.append(official_aoa(word, [s for s, _ in kept],
                                    [float(r["surprisal"]) for _, r in kept], contexts))
            continue
        if vocab_size is None or word_tokens is None:
            raise ValueError("mode full needs the vocabulary size and the word tokens")
        per_step: dict[str, list[float]] = {}
        seen: dict[str, float] = {}
        for r in found:
            per_step.setdefault(r["step"], []).append(float(r["surprisal"]))
            seen[r["step"]] = float(r["word_count"])
        steps = sorted(per_step, key=seen.__getitem__)
        chance = word_tokens.get(word, 1.0) * math.log(vocab_size)
        out.append(corrected_aoa(word, [seen[s] for s in steps],
                                 [math.fsum(per_step[s]) / len(per_step[s]) for s in steps],
                                 chance, contexts, min_contexts))
    return out


def pearson(model: Sequence[WordAoA], child: dict[str, float | None], mode: str
            ) -> tuple[float, list[str]]:
    """Pearson r of model AoA (log10 words) and child AoA (months) over the words with
    both, and those words. Fewer than 3 words: 0.0 in babylm2025 (the official value),
    NaN in full (there is no correlation to report)."""
    from scipy.stats import pearsonr

    pairs = [(m.aoa, child[m.word]) for m in model
             if m.aoa is not None and child.get(m.word) is not None]
    words = [m.word for m in model if m.aoa is not None and child.get(m.word) is not None]
    if len(pairs) < 3:
        return (0.0 if mode == "babylm2025" else math.nan), words
    r = pearsonr([p[0] for p in pairs], [p[1] for p in pairs])[0]
    return float(r), words


# -- the permutation null ---------------------------------------------------------------------
def shuffled_across_checkpoints(rows: Sequence[dict], rng: np.random.Generator) -> list[dict]:
    """A copy of the rows where each context's surprisals are shuffled across its checkpoints:
    the same values per context, no learning order left in them."""
    groups: dict[tuple, list[int]] = {}
    for k, row in enumerate(rows):
        groups.setdefault((row["target_word"], row["context_id"]), []).append(k)
    out = [dict(row) for row in rows]
    for members in groups.values():
        for k, source in zip(members, rng.permutation(members), strict=True):
            out[k]["surprisal"] = rows[source]["surprisal"]
    return out


def permutation_null(rows: Sequence[dict], mode: str, child: dict[str, float | None],
                     n: int, seed: int = 0, **fit_args) -> np.ndarray:
    """The Pearson r (with children's AoA) of `n` seeded shufflings of the rows' surprisals
    across checkpoints, each refitted as `fit_rows(rows, mode, **fit_args)`; NaN where a
    shuffling leaves fewer than 3 words with an AoA."""
    rng = np.random.default_rng(seed)
    return np.array([pearson(fit_rows(shuffled_across_checkpoints(rows, rng), mode, **fit_args),
                             child, mode)[0] for _ in range(n)])


def null_summary(r: float, null: np.ndarray) -> dict[str, float]:
    """The null's 95th percentile and the p-value `(1 + #{null >= r}) / (N + 1)`, over the
    shufflings that have an r (a shuffling without one counts as below r)."""
    finite = null[np.isfinite(null)]
    return {"pearson_null_p95": float(np.percentile(finite, 95)) if finite.size else math.nan,
            "pearson_null_p": float((1 + np.sum(finite >= r)) / (len(null) + 1)),
            "pearson_null_n": int(len(null))}

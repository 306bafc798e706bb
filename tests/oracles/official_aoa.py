"""An independent restatement of the official BabyLM 2025 AoA computation, as an oracle.

It follows github babylm/evaluation-pipeline-2025 step by step, in the official code's
shape rather than classit_eval's, so that the tests can compare the package's
`babylm2025` mode with it:

- `surprisal`: `StepSurprisalExtractor.compute_surprisal` with the causal backend
  (`evaluation_pipeline/AoA_word/evaluation_functions.py`): one forward pass per context on
  `context.strip() + " " + word.strip()` tokenised with special tokens, the phrase mask of
  tokens whose offset ends after the word's start, inputs without the last token, targets
  without the first, minus the masked sum of log-softmax.
- `curve_fitness`: `AoAEvaluator.compute_curve_fitness` (`evaluation_pipeline/utils.py`):
  rows grouped by word in order, the step number read from the step name, the child AoA
  from the CDI table read with pandas, the model AoA from every row's (step, surprisal),
  and Pearson r over the words with both (0.0 with fewer than three).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.optimize import curve_fit
from scipy.stats import pearsonr


# -- surprisal -------------------------------------------------------------------------------
@torch.no_grad()
def surprisal(model, tokenizer, context: str, target_word: str) -> float:
    context = context.strip() + " "
    target_word = target_word.strip()
    input_text = context + target_word
    out = tokenizer(text=input_text, return_offsets_mapping=True)
    start_char_idx = len(input_text) - len(target_word)
    phrase_mask = [1 if end > start_char_idx else 0 for _, end in out["offset_mapping"]]
    tokens = torch.LongTensor(out["input_ids"]).unsqueeze(0)
    attention = torch.LongTensor(out["attention_mask"]).unsqueeze(0)[:, :-1]
    logits = model(input_ids=tokens[:, :-1], attention_mask=attention).logits
    log_probs = F.log_softmax(logits, dim=-1)
    target = torch.gather(log_probs, -1, tokens[:, 1:].unsqueeze(-1)).squeeze(-1)
    mask = torch.LongTensor(phrase_mask).unsqueeze(0)[:, 1:]
    return -torch.sum(target * mask, dim=1)[0].item()


# -- the fit ---------------------------------------------------------------------------------
def sigmoid_function(x, a, b, c, d):
    return a / (1 + np.exp(-b * (x - c))) + d


def extract_step_number(step_name):
    if isinstance(step_name, (int, float)):
        return float(step_name)
    match = re.search(r"(\d+(?:\.\d+)?)\s*([KMB]?)", str(step_name), re.IGNORECASE)
    if not match:
        return None
    unit = match.group(2).upper() if match.group(2) else ""
    return float(match.group(1)) * {"K": 1000, "M": 1000000, "B": 1000000000}.get(unit, 1)


def child_aoa(ages: np.ndarray, proportions: np.ndarray, threshold: float = 0.5):
    valid = ~np.isnan(proportions)
    if not np.any(valid):
        return None
    valid_ages, valid_props = ages[valid], proportions[valid]
    if len(valid_props) < 3:
        return None
    try:
        popt, _ = curve_fit(sigmoid_function, valid_ages, valid_props,
                            p0=[1.0, 0.1, np.mean(valid_ages), 0.0],
                            bounds=([0, 0, valid_ages[0], -0.5], [2.0, 1.0, valid_ages[-1], 0.5]),
                            maxfev=1000)
        a, b, c, d = popt
        if b <= 0 or a <= 0:
            return None
        if threshold <= d or threshold >= a + d:
            return None
        aoa = c - np.log((a / (threshold - d)) - 1) / b
        if aoa < valid_ages[0] or aoa > valid_ages[-1]:
            return None
        return aoa
    except Exception:
        return None


def model_aoa(surprisals: list[float], steps: list[float], threshold_percentile: float = 0.5,
              approximate_vocab: float = 300_000):
    if len(surprisals) < 3:
        return None
    steps, surprisals = np.array(steps), np.array(surprisals)
    valid = ~np.isnan(surprisals)
    if not np.any(valid):
        return None
    valid_steps, valid_surprisals = steps[valid], surprisals[valid]
    chance = np.log2(approximate_vocab)
    threshold = chance - threshold_percentile * (chance - np.min(valid_surprisals))
    try:
        neg = -valid_surprisals
        log_steps = np.log10(valid_steps + 1)
        popt, _ = curve_fit(sigmoid_function, log_steps, neg,
                            p0=[np.max(neg) - np.min(neg), 1.0, np.mean(log_steps), np.min(neg)],
                            maxfev=1000)
        a, b, c, d = popt
        neg_threshold = -threshold
        if b <= 0 or a <= 0:
            return None
        if neg_threshold <= d or neg_threshold >= a + d:
            return None
        log_aoa = c - np.log((a / (neg_threshold - d)) - 1) / b
        step = 10 ** log_aoa - 1
        if step < valid_steps[0] or step > valid_steps[-1]:
            return None
        return log_aoa
    except Exception:
        return None


def model_aoas(results: dict) -> dict[str, float | None]:
    """Every word's official model AoA (None where the official code gives none)."""
    data: dict[str, dict[str, list]] = {}
    for r in results["results"]:
        entry = data.setdefault(r["target_word"], {"steps": [], "surprisals": []})
        step = extract_step_number(r["step"])
        if step is not None:
            entry["steps"].append(step)
            entry["surprisals"].append(float(r["surprisal"]))
    return {w: model_aoa(d["surprisals"], d["steps"]) for w, d in data.items()}


def curve_fitness(results: dict, cdi_path) -> dict:
    """r, and the model and child AoAs of the words it pairs."""
    cdi = pd.read_csv(cdi_path)
    age_columns = [str(a) for a in range(16, 31) if str(a) in cdi.columns]
    ages = np.array([int(c) for c in age_columns])
    table = cdi[age_columns].values
    words, model, child = [], [], []
    for word, aoa in model_aoas(results).items():
        match = cdi["word"] == word
        if not np.any(match):
            continue
        kid = child_aoa(ages, table[np.where(match)[0][0]])
        if kid is None or aoa is None:
            continue
        words.append(word)
        model.append(aoa)
        child.append(kid)
    if len(model) < 3:
        return {"curve_fitness": 0.0, "words": words, "model": model, "child": child}
    return {"curve_fitness": float(pearsonr(model, child)[0]), "words": words, "model": model,
            "child": child}

"""An independent re-implementation of the official BabyLM 2025 causal scoring, as an oracle.

It follows the behaviour of evaluation_pipeline/sentence_zero_shot (github
babylm/evaluation-pipeline-2025) step by step, deliberately in the official pipeline's
shape rather than classit_eval's: each candidate index is a batch of its own, sequences
are right-padded with the pad token (EOS when there is none), the inputs are the padded
tokens without the last column and the targets without the first, the phrase mask marks
tokens whose character offset ends after the completion's start, shifted with the targets,
and the choice is `torch.max` over the stacked sums (ties go to the first candidate).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence


def candidate_tensors(tokenizer, sentence: str, completion: str) -> tuple[list[int], list[int]]:
    enc = tokenizer(sentence, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    start_char = len(sentence) - len(completion) + offsets[0][0]
    mask = [1 if end > start_char else 0 for _, end in offsets]
    return list(enc["input_ids"]), mask


@torch.no_grad()
def official_scores(model, tokenizer, items: list[dict], batch_size: int = 64) -> torch.Tensor:
    """items: {"sentences": [...], "completions": [...]}; returns (n_items, n_candidates)."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    n_candidates = len(items[0]["sentences"])
    rows = []
    for start in range(0, len(items), batch_size):
        batch = items[start:start + batch_size]
        per_candidate = []
        for k in range(n_candidates):
            encoded = [candidate_tensors(tokenizer, it["sentences"][k], it["completions"][k])
                       for it in batch]
            tokens = pad_sequence([torch.tensor(t) for t, _ in encoded], batch_first=True,
                                  padding_value=pad)
            attn = pad_sequence([torch.ones(len(t), dtype=torch.long) for t, _ in encoded],
                                batch_first=True, padding_value=0)
            mask = pad_sequence([torch.tensor(m) for _, m in encoded], batch_first=True,
                                padding_value=0)
            logits = model(input_ids=tokens[:, :-1], attention_mask=attn[:, :-1]).logits
            logprobs = F.log_softmax(logits, dim=-1)
            target = torch.gather(logprobs, -1, tokens[:, 1:].unsqueeze(-1)).squeeze(-1)
            per_candidate.append(torch.sum(target * mask[:, 1:], dim=1))
        rows.append(torch.stack(per_candidate, dim=1))
    return torch.cat(rows, dim=0)


def official_choice(scores: torch.Tensor) -> list[int]:
    return torch.max(scores, dim=1)[1].tolist()


# The official decoders of each data family, restated: (sentences, completions) per item.
def blimp_item(doc: dict) -> dict:
    pair = [doc["sentence_good"], doc["sentence_bad"]]
    return {"sentences": pair, "completions": pair}


def ewok_item(raw: dict) -> dict:
    targets = [raw["Target1"], raw["Target2"]]
    return {"sentences": [raw["Context1"] + " " + t for t in targets],
            "completions": [" " + t for t in targets]}


def entity_item(raw: dict) -> dict:
    return {"sentences": [raw["input_prefix"] + o for o in raw["options"]],
            "completions": list(raw["options"])}


def wug_item(raw: dict) -> dict:
    candidates = raw["sentences"].split("\t")
    return {"sentences": candidates, "completions": candidates}


# COMPS, restated from the official `decode_comps` (read_files.py) and `rank_and_evaluate`
# (compute_results.py): the sentence is prefix + " " + property phrase, the completion the
# phrase alone; the subset comes from the file stem (any unknown stem is the last one).
COMPS_STEMS = {"comps_base": "base", "comps_wugs": "wugs",
               "comps_wugs_dist-before": "wugs_dist_before"}


def comps_item(raw: dict, stem: str) -> dict:
    sentences = [" ".join([raw["prefix_acceptable"], raw["property_phrase"]]),
                 " ".join([raw["prefix_unacceptable"], raw["property_phrase"]])]
    return {"sentences": sentences, "completions": [raw["property_phrase"]] * 2,
            "uid": COMPS_STEMS.get(stem, "wugs_dist_in_between")}


def comps_predictions(items: list[dict], choices: list[int]) -> dict[str, dict]:
    """The official predictions.json of COMPS: per subset, `{"id": "<uid>_<n>", "pred":
    <the chosen whole sentence>}` numbered in reading order."""
    out: dict[str, list[dict]] = {}
    for item, chosen in zip(items, choices, strict=True):
        found = out.setdefault(item["uid"], [])
        found.append({"id": f"{item['uid']}_{len(found)}", "pred": item["sentences"][chosen]})
    return {uid: {"predictions": preds} for uid, preds in out.items()}

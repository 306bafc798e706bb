"""An independent restatement of the official BabyLM 2025 non-causal scoring, as an oracle.

It follows evaluation_pipeline/sentence_zero_shot (dataset.py, compute_results.py) and
evaluation_pipeline/reading/evaluation_functions.py of github babylm/evaluation-pipeline-2025
step by step, in the official pipeline's shape rather than classit_eval's: the candidates
of a batch of items are scored candidate index by candidate index; for `mlm`, `mntp` and
`enc_dec_mask` each item's masked copies are concatenated, padded with the pad token (CLS
when there is none), run in minibatches of `non_causal_batch_size` copies, and the
log-softmax at the read positions is summed back per item; `enc_dec_prefix` runs one padded
batch per candidate index and reads the decoder's last `len(targets)` positions.
Items come from tests/oracles/official_oracle.py's decoders (`prefixes` added where the official
readers set them). The reader is the official `get_p2_mlm` / `get_p2_mntp` / `get_p2_enc_dec`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence


def _extra(tokenizer) -> str:
    """The first additional special token (transformers 4's `additional_special_tokens`)."""
    tokens = getattr(tokenizer, "extra_special_tokens", None) or getattr(
        tokenizer, "additional_special_tokens", None)
    return tokens[0]


def _mask(tokenizer) -> int:
    if tokenizer.mask_token_id is not None:
        return tokenizer.mask_token_id
    return tokenizer.convert_tokens_to_ids(_extra(tokenizer))


def _pad(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else \
        tokenizer.cls_token_id


def masked_copies(tokenizer, backend: str, sentence: str, completion: str):
    """process_mlm/mntp/enc_dec_mask_sentences: (copies, read indices, targets)."""
    out = tokenizer(sentence, return_offsets_mapping=True)
    tokens = out["input_ids"]
    start_char = len(sentence) - len(completion)
    prepend = tokenizer.cls_token_id is not None or tokenizer.bos_token_id is not None
    indices = [i for i, (_, end) in enumerate(out["offset_mapping"]) if end > start_char
               and (backend != "mntp" or i != 0 or prepend)]
    copies = []
    for i in indices:
        row = torch.LongTensor(tokens)
        row[i] = _mask(tokenizer)
        copies.append(row)
    reads = [i - 1 for i in indices] if backend == "mntp" else indices
    return copies, reads, [tokens[i] for i in indices]


@torch.no_grad()
def masked_scores(model, tokenizer, backend: str, items: list[dict], batch_size: int = 64,
                  non_causal_batch_size: int = 64) -> torch.Tensor:
    """compute_mlm_results / compute_enc_dec_mask_results: (n_items, n_candidates)."""
    pad = _pad(tokenizer)
    if backend != "enc_dec_mask":
        decoder = None
    elif tokenizer.bos_token_id is not None:
        decoder = [tokenizer.bos_token_id, _mask(tokenizer)]
    else:
        decoder = [tokenizer.convert_tokens_to_ids(_extra(tokenizer))]
    rows = []
    for lo in range(0, len(items), batch_size):
        batch = items[lo:lo + batch_size]
        per_candidate = []
        for k in range(len(batch[0]["sentences"])):
            parts = [masked_copies(tokenizer, backend, it["sentences"][k], it["completions"][k])
                     for it in batch]
            copies = [c for p in parts for c in p[0]]
            tokens = pad_sequence(copies, batch_first=True, padding_value=pad)
            attn = pad_sequence([torch.ones(len(c), dtype=torch.long) for c in copies],
                                batch_first=True, padding_value=0)
            reads = torch.LongTensor([r for p in parts for r in p[1]])
            targets = torch.LongTensor([t for p in parts for t in p[2]])
            logps = []
            for s in range(0, len(copies), non_causal_batch_size):
                sl = slice(s, s + non_causal_batch_size)
                if backend == "enc_dec_mask":
                    dec = torch.LongTensor([decoder] * tokens[sl].shape[0])
                    logits = model(input_ids=tokens[sl], attention_mask=attn[sl],
                                   decoder_input_ids=dec,
                                   decoder_attention_mask=torch.ones_like(dec)).logits[:, -1]
                else:
                    logits = model(input_ids=tokens[sl], attention_mask=attn[sl]).logits
                    logits = logits[torch.arange(logits.shape[0]), reads[sl]]
                logps.append(F.log_softmax(logits, dim=-1).gather(
                    -1, targets[sl].unsqueeze(-1)).squeeze(-1))
            flat, sums, at = torch.cat(logps), [], 0
            for p in parts:
                sums.append(torch.sum(flat[at:at + len(p[0])]).item())
                at += len(p[0])
            # the official `torch.tensor(sums)` rounds each sum to float32 (1.5e-5 nats at
            # -300): kept in the model's dtype here, so a float64 run compares to 1e-5
            per_candidate.append(torch.tensor(sums, dtype=flat.dtype))
        rows.append(torch.stack(per_candidate, dim=1))
    return torch.cat(rows, dim=0)


@torch.no_grad()
def prefix_scores(model, tokenizer, items: list[dict], batch_size: int = 64) -> torch.Tensor:
    """process_enc_dec_prefix_sentences + compute_enc_dec_prefix_results."""
    mask = _mask(tokenizer)
    pad = _pad(tokenizer)
    cls = [tokenizer.cls_token_id] if tokenizer.cls_token_id is not None else []
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else [
        tokenizer.convert_tokens_to_ids(_extra(tokenizer))]
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    rows = []
    for lo in range(0, len(items), batch_size):
        batch = items[lo:lo + batch_size]
        per_candidate = []
        for k in range(len(batch[0]["sentences"])):
            enc, dec, tgt = [], [], []
            for it in batch:
                prefix = it["prefixes"][k]
                p = tokenizer(prefix, add_special_tokens=False)["input_ids"] if prefix else []
                c = tokenizer(it["completions"][k], add_special_tokens=False)["input_ids"]
                enc.append(torch.LongTensor(cls + p + [mask] + eos))
                dec.append(torch.LongTensor(bos + [mask] + c[:-1]))
                tgt.append(torch.LongTensor(c))
            ones = lambda seqs: pad_sequence(  # noqa: E731
                [torch.ones(len(s), dtype=torch.long) for s in seqs], batch_first=True)
            targets = pad_sequence(tgt, batch_first=True, padding_value=pad)
            logits = model(input_ids=pad_sequence(enc, batch_first=True, padding_value=pad),
                           attention_mask=ones(enc),
                           decoder_input_ids=pad_sequence(dec, batch_first=True,
                                                          padding_value=pad),
                           decoder_attention_mask=ones(dec)).logits
            logps = F.log_softmax(logits, dim=-1)
            first = logps.size(1) - targets.size(1)
            picked = logps[:, first:].gather(-1, targets.unsqueeze(-1)).squeeze(-1)
            per_candidate.append(torch.sum(picked * ones(tgt), dim=1))
        rows.append(torch.stack(per_candidate, dim=1))
    return torch.cat(rows, dim=0)


def scores(model, tokenizer, backend: str, items: list[dict], batch_size: int = 64
           ) -> torch.Tensor:
    if backend == "enc_dec_prefix":
        return prefix_scores(model, tokenizer, items, batch_size)
    return masked_scores(model, tokenizer, backend, items, batch_size)


# -- decoders: the official `prefixes` (tests/oracles/official_oracle.py gives the rest) ----------
def with_prefixes(item: dict, prefixes: list[str | None]) -> dict:
    return item | {"prefixes": prefixes}


# -- the reader ----------------------------------------------------------------------------
@torch.no_grad()
def _p(model, tokenizer, backend: str, sentence: str, word: str, masks: int = 3) -> float:
    """get_p_mlm / get_p_mntp / get_p_enc_dec: p of the first token of `word`."""
    if backend in ("mlm", "mntp"):
        ids = tokenizer(sentence + tokenizer.mask_token * masks, return_tensors="pt").input_ids
        ends_with_mask = ids[0, -1] == tokenizer.mask_token_id
        position = -masks if ends_with_mask else -(masks + 1)
        if backend == "mntp":
            position -= 1
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[:, position]
    else:
        cls = [tokenizer.cls_token_id] if tokenizer.cls_token is not None else []
        eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
        body = tokenizer(sentence, add_special_tokens=False)["input_ids"]
        ids = torch.LongTensor([cls + body + [_mask(tokenizer)] + eos])
        start = tokenizer.bos_token if tokenizer.bos_token is not None else _extra(tokenizer)
        dec = tokenizer(start, add_special_tokens=False, return_tensors="pt")
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids),
                       decoder_input_ids=dec["input_ids"],
                       decoder_attention_mask=dec["attention_mask"]).logits[:, 0]
    target = tokenizer(word, add_special_tokens=False)["input_ids"][0]
    return torch.softmax(logits[0], dim=-1)[target].item()


def reader_surprisal(model, tokenizer, backend: str, sentence: str, word: str) -> float:
    """get_p2_*: -log of the product of the word's subword probabilities."""
    target = tokenizer(word, add_special_tokens=False)["input_ids"]
    probs = [_p(model, tokenizer, backend, sentence, word)]
    sentence = sentence + tokenizer.decode(target[0])
    for token in target[1:]:
        piece = tokenizer.decode(token)
        probs.append(_p(model, tokenizer, backend, sentence, piece))
        sentence = sentence + piece
    return -math.log(math.prod(probs))

"""Scoring masked, hybrid and encoder-decoder models: the official `mlm`, `mntp`,
`enc_dec_mask` and `enc_dec_prefix` backends, in both scoring modes.

    scorer = MaskedScorer(model, tokenizer, backend="mlm", mode="babylm2025")
    scorer.score([("", "The cat sat.")])  # [(pseudo-log-likelihood, is_greedy)]

A request (context, continuation) becomes `Query`s: an input (the encoder's tokens and,
for an encoder-decoder, the decoder's) and the positions read there, each with the token
whose log-probability is taken. The scored tokens are those whose character offsets end
after the start of the continuation (the official rule; with an empty context, the whole
sentence, without the space lm-eval puts in front of it).

- `mlm`: pseudo-log-likelihood. Each scored token is masked once (all others intact) and
  read at its own position: one input per scored token.
- `mntp` (masked next-token prediction, GPT-BERT): as `mlm`, but the masked token i is
  read at position i - 1. The official backend scores token 0 only when the tokenizer has
  a CLS or BOS token (reading it at position -1, the last one).
- `enc_dec_mask`: the encoder sees the sentence with one token masked (the mask token,
  else the first extra special token, T5's `<extra_id_0>`); the decoder gets
  `[BOS, MASK]` (`[<extra_id_0>]` without a BOS) and its last position is read.
- `enc_dec_prefix`: the encoder gets `[CLS] + context + [MASK] + [EOS]`, the decoder
  `[BOS, MASK] + continuation[:-1]`; the continuation's tokens are read, one input a request.

`babylm2025` is the official pipeline's construction, token for token. `full` differs
where the official one is arbitrary (docs/zero_shot.md measures each difference):

- `mlm`, `mntp`: a token that starts or continues a word is masked together with the rest
  of its word to its right (PLL-word-l2r, Kauf & Ivanova 2023): plain PLL lets the model
  read a word's other pieces and overrates words split into many tokens. `mntp` never
  scores a token without a position before it (no read at position -1).
- `enc_dec_*`: the decoder starts with the model's `decoder_start_token_id` followed by the
  mask, the model's own training format (the official uses BOS, or drops the start token
  of a model without BOS, T5); `enc_dec_prefix` takes each candidate's context from the
  request (the official EWoK reader pairs the second target with `Context2`, see
  classit_eval.names.PREFIXES_FIELD).

The engine: all queries of a call are pooled, identical inputs computed once (the reads of
all queries on them gathered), sorted by length and run in batches of `batch_size` rows,
right-padded only to the batch's longest; the LM head and its log-softmax run at the read
positions only (checked against the whole-sequence head on a model's first batch).
Certified float32 decisions come from Scorer.score_certified unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from tqdm import tqdm

from classit_eval.names import ENC_DEC_BACKENDS, MASKED_BACKENDS
from classit_eval.scoring.encodings import (
    BABYLM2025_READER,
    MODES,
    WORD_IN_TEXT,
    WORD_IN_TEXT_CORRECTED,
    reader_chain,
)
from classit_eval.scoring.scorer import Certificate, Scorer
from classit_eval.scoring.trie import Stats, logsumexp

log = logging.getLogger(__name__)

NUM_READER_MASKS = 3  # the official reader appends this many mask tokens to the context


@dataclass(frozen=True)
class Query:
    """One model input and what is read from it: (position, target token) pairs, read from
    the decoder's logits when there is a decoder, else the encoder's."""

    tokens: tuple[int, ...]
    decoder: tuple[int, ...] | None
    reads: tuple[tuple[int, int], ...]

    @property
    def span(self) -> tuple[tuple[int, int], ...]:
        """The scored tokens (Scorer.score_certified counts them for the error bound)."""
        return self.reads


# -- the tokenizer's special tokens, as the official pipeline finds them -------------------
def first_extra_special(tokenizer) -> str | None:
    """The first additional special token (transformers 5 calls them `extra`)."""
    for name in ("extra_special_tokens", "additional_special_tokens"):
        tokens = getattr(tokenizer, name, None)
        if isinstance(tokens, (list, tuple)) and tokens:
            return str(tokens[0])
    return None


def mask_token_id(tokenizer) -> int | None:
    """The mask token, else the first extra special token (T5's `<extra_id_0>`)."""
    if tokenizer.mask_token_id is not None:
        return tokenizer.mask_token_id
    extra = first_extra_special(tokenizer)
    return None if extra is None else tokenizer.convert_tokens_to_ids(extra)


def official_decoder_start(tokenizer, mask: int) -> tuple[int, ...]:
    """The official `enc_dec_mask` decoder input: [BOS, MASK], else [first extra special]."""
    if tokenizer.bos_token_id is not None:
        return (tokenizer.bos_token_id, mask)
    extra = first_extra_special(tokenizer)
    if extra is None:
        raise ValueError("The tokenizer has neither a BOS token nor an extra special token "
                         "to start the decoder with (the official enc_dec rule).")
    return (tokenizer.convert_tokens_to_ids(extra),)


# -- the scorer ---------------------------------------------------------------------------
class MaskedScorer(Scorer):
    """Scorer for the non-causal backends; the same interface and certification."""

    PLAIN_ENCODINGS = frozenset()  # a word in running text sees masks after it
    CORRECTED_ENCODINGS = frozenset()  # not defined for masked models: see encode_named

    def __init__(self, model, tokenizer, backend: str, mode: str = "full",
                 batch_size: int = 32, max_length: int | None = None, progress: bool = True,
                 exact_model: Callable[[], torch.nn.Module] | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"scoring={mode!r} is not a mode; choose one of {', '.join(MODES)}.")
        if backend not in (*MASKED_BACKENDS, *ENC_DEC_BACKENDS):
            raise ValueError(f"{backend!r} is not a masked or encoder-decoder backend.")
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(
                f"{type(tokenizer).__name__} is not a fast tokenizer: character offsets are "
                "needed to find the scored span. Load the model's tokenizer.json (use_fast=True)."
            )
        self.tokenizer, self.backend, self.mode = tokenizer, backend, mode
        self.engine = "masked"
        self._warned_raw = False
        self.batch_size = max(1, int(batch_size))
        self.cache_tokens = 0  # unused: no prefix cache
        config = model.config
        self.max_length = max_length or getattr(config, "max_position_embeddings", None)
        self.progress = progress
        mask = mask_token_id(tokenizer)
        if mask is None:
            raise ValueError(f"backend={backend} needs a mask token; the tokenizer has none.")
        self.mask: int = mask
        pad = tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else (tokenizer.cls_token_id or 0)
        self.prefix_token_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None \
            else tokenizer.bos_token_id
        if backend in ENC_DEC_BACKENDS:
            if mode == "babylm2025":
                self.decoder_start = official_decoder_start(tokenizer, self.mask)
            else:
                start = getattr(config, "decoder_start_token_id", None)
                if start is None:
                    start = tokenizer.bos_token_id
                if start is None:
                    raise ValueError("The model has no decoder_start_token_id (and the "
                                     "tokenizer no BOS) to start the decoder with.")
                self.decoder_start = (start, self.mask)
        self.stats, self.exact_stats = Stats(), Stats()
        self.certificate = Certificate()
        self.set_model(model, exact_model)

    def set_model(self, model, exact_model: Callable[[], torch.nn.Module] | None = None) -> None:
        self.model, self._exact, self._exact_loader = model, None, exact_model
        self.heads: dict[torch.nn.Module, bool] = {}  # may the LM head run at reads only

    # -- requests as queries ------------------------------------------------------------
    def encode_requests(  # type: ignore[override]  # a masked scorer's pieces are Queries
            self, requests: Sequence[tuple[str, str]]) -> list[list[Query]]:
        """The queries of each request (a list each: their scores are summed)."""
        if self.backend == "enc_dec_prefix":
            return [[self._prefix_query(c, x)] for c, x in requests]
        return [self._masked_queries(c, x) for c, x in requests]

    def _masked_queries(self, context: str, continuation: str,
                        open_right: bool = False) -> list[Query]:
        """One query per scored token of context + continuation. `open_right` puts
        NUM_READER_MASKS mask tokens after the continuation (before the tokenizer's final
        special tokens): the text goes on, unread, as the official reader signals it."""
        if not context and continuation.startswith(" "):
            continuation = continuation[1:]  # lm-eval's target delimiter
        text = context + continuation
        enc = self.tokenizer(text, return_offsets_mapping=True)
        ids, offsets, words = list(enc["input_ids"]), enc["offset_mapping"], enc.word_ids()
        if open_right:
            end = len(ids)
            while end > 0 and offsets[end - 1] == (0, 0) and ids[end - 1] != self.mask:
                end -= 1  # the final SEP / EOS the tokenizer adds
            ids[end:end] = [self.mask] * NUM_READER_MASKS
            offsets[end:end] = [(0, 0)] * NUM_READER_MASKS
            words[end:end] = [None] * NUM_READER_MASKS
        start = len(text) - len(continuation)
        span = [i for i, (_, end) in enumerate(offsets) if end > start]
        if self.mode == "full":
            special = set(self.tokenizer.all_special_ids)
            span = [i for i in span if ids[i] not in special]
        queries = []
        for i in span:
            masked = [i]
            if self.mode == "full" and self.backend in MASKED_BACKENDS:
                masked = [j for j in range(i, len(ids))
                          if j == i or (words[j] is not None and words[j] == words[i])]
                masked = masked[:next((k for k in range(1, len(masked))
                                       if masked[k] != masked[k - 1] + 1), len(masked))]
            query = self._masked_query(ids, masked, i)
            if query is not None:
                queries.append(query)
        if not queries:
            raise ValueError(f"{continuation!r} after {context!r}: no token to score.")
        return queries

    def score(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        """(summed log-probability, every read the argmax) per (context, continuation)."""
        queries = self.encode_requests(requests)  # certified as Encoded: .tokens and .span
        return self.score_requests(queries)  # type: ignore[arg-type]  # Queries, see above

    def _masked_query(self, ids: list[int], masked: list[int], i: int) -> Query | None:
        tokens = list(ids)
        for j in masked:
            tokens[j] = self.mask
        if self.backend == "mlm":
            return Query(tuple(tokens), None, ((i, ids[i]),))
        if self.backend == "mntp":
            if i == 0:
                if self.mode == "full" or self.prefix_token_id is None:
                    return None  # nothing before it to read
                # official: read at index -1, the last position (of the padded batch)
                return Query(tuple(tokens), None, ((len(tokens) - 1, ids[i]),))
            return Query(tuple(tokens), None, ((i - 1, ids[i]),))
        decoder = self.decoder_start
        return Query(tuple(tokens), decoder, ((len(decoder) - 1, ids[i]),))

    def _prefix_query(self, context: str, continuation: str) -> Query:
        """enc_dec_prefix: [CLS] + context + [MASK] + [EOS] -> [start] + continuation."""
        if not context and continuation.startswith(" "):
            continuation = continuation[1:]
        tok = self.tokenizer
        prefix = list(tok(context, add_special_tokens=False)["input_ids"]) if context else []
        target = list(tok(continuation, add_special_tokens=False)["input_ids"])
        if not target:
            raise ValueError(f"{continuation!r} encodes to no tokens.")
        cls = [tok.cls_token_id] if tok.cls_token_id is not None else []
        eos = [tok.eos_token_id] if tok.eos_token_id is not None else []
        encoder = (*cls, *prefix, self.mask, *eos)
        start: tuple[int, ...]
        if self.mode == "babylm2025":  # [BOS or first extra special, MASK]
            bos = tok.bos_token_id if tok.bos_token_id is not None else \
                tok.convert_tokens_to_ids(first_extra_special(tok))
            start = (bos, self.mask)
        else:
            start = self.decoder_start
        decoder = (*start, *target[:-1])
        first = len(start) - 1
        return Query(encoder, decoder, tuple((first + k, t) for k, t in enumerate(target)))

    def encode_named(  # type: ignore[override]  # a masked scorer's pieces are Queries
            self, name: str, context: str, continuation: str) -> list[Query]:
        """The queries of a request in the encoding its document names: the official
        reader's word surprisal (`babylm2025_reader`), or a word inside running text
        (`word_in_text`): a masked model sees mask tokens after it, an encoder-decoder
        fills a mask that stands for the word and the rest of the text. The corrected word
        probability (`word_in_text_corrected`) is defined for causal models: here it is
        the plain word, with a warning."""
        if name == WORD_IN_TEXT_CORRECTED:
            if not self._warned_raw:
                log.warning("backend=%s: word_prob=corrected applies to causal models; "
                            "word probabilities are the backend's own (raw).", self.backend)
                self._warned_raw = True
            name = WORD_IN_TEXT
        if name == WORD_IN_TEXT:
            if self.backend in ENC_DEC_BACKENDS:
                return [self._prefix_query(context, continuation)]
            return self._masked_queries(context, continuation, open_right=True)
        if name != BABYLM2025_READER:
            raise ValueError(f"backend={self.backend} has no scoring encoding {name!r}; "
                             f"known: {BABYLM2025_READER}, {WORD_IN_TEXT}.")
        return [self._reader_query(text, target)
                for text, target in reader_chain(self.tokenizer, context, continuation)]

    def _reader_query(self, text: str, target: int) -> Query:
        tok = self.tokenizer
        if self.backend in MASKED_BACKENDS:
            masks = tok.convert_ids_to_tokens(self.mask) * NUM_READER_MASKS
            ids = tuple(tok(text + masks)["input_ids"])
            first_mask = len(ids) - NUM_READER_MASKS - (ids[-1] != self.mask)
            position = first_mask if self.backend == "mlm" else first_mask - 1
            return Query(ids, None, ((position, target),))
        # the official enc_dec reader: encoder [CLS] + text + [MASK] + [EOS], decoder
        # the BOS token (else the first extra special token) as text, read at position 0
        cls = [tok.cls_token_id] if tok.cls_token_id is not None else []
        eos = [tok.eos_token_id] if tok.eos_token_id is not None else []
        encoder = (*cls, *tok(text, add_special_tokens=False)["input_ids"], self.mask, *eos)
        start = tok.bos_token if tok.bos_token is not None else first_extra_special(tok)
        decoder = tuple(tok(start, add_special_tokens=False)["input_ids"])
        return Query(encoder, decoder, ((0, target),))

    # -- scoring ------------------------------------------------------------------------
    def _score(  # type: ignore[override]  # a masked scorer's pieces are Queries
            self, model, encoded: Sequence[Query], batch_size: int, cache_tokens: int,
               stats: Stats, progress: bool, entropy: bool = False) -> list[tuple[float, bool]]:
        if entropy:
            raise ValueError(f"backend={self.backend}: entropies are given for causal models.")
        self.check_length(encoded)  # the encoder's inputs
        desc = f"scoring ({self.backend}, {self.mode}, {str(model.dtype).removeprefix('torch.')})"
        return score_queries(model, encoded, batch_size, self.pad_token_id, progress, desc,
                             stats, self.heads)


# -- the engine -----------------------------------------------------------------------------
def score_queries(model, queries: Sequence[Query], batch_size: int = 32, pad_token_id: int = 0,
                  progress: bool = False, desc: str = "scoring", stats: Stats | None = None,
                  heads: dict[torch.nn.Module, bool] | None = None) -> list[tuple[float, bool]]:
    """(log-probability summed over its reads, every read the argmax) per query.

    Identical inputs are computed once; inputs run longest first in batches of
    `batch_size` rows, right-padded to the batch's longest. `heads` remembers, per model,
    whether its LM head may run at the read positions only (see `_forward`).
    """
    reads: dict[tuple, set[tuple[int, int]]] = defaultdict(set)
    for q in queries:
        reads[(q.tokens, q.decoder)].update(q.reads)
    inputs = sorted(reads, key=lambda k: (-len(k[0]) - len(k[1] or ()), k))
    if stats is not None:
        stats.trie_bound += sum(len(q.tokens) + len(q.decoder or ()) for q in queries)
        stats.positions += sum(len(t) + len(d or ()) for t, d in inputs)
        stats.calls += -(-len(inputs) // batch_size)
    heads = {} if heads is None else heads
    results: dict[tuple, tuple[float, bool]] = {}
    batches = [inputs[i:i + batch_size] for i in range(0, len(inputs), batch_size)]
    for batch in tqdm(batches, desc=desc, disable=not progress):
        for key, per_read in zip(batch, _forward(model, batch, [reads[k] for k in batch],
                                                 pad_token_id, stats, heads), strict=True):
            for read, value in per_read.items():
                results[key + read] = value
    out = []
    for q in queries:
        parts = [results[(q.tokens, q.decoder) + read] for read in q.reads]
        out.append((math.fsum(ll for ll, _ in parts), all(g for _, g in parts)))
    return out


def _padded(rows: list[tuple[int, ...]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(len(r) for r in rows)
    ids = torch.full((len(rows), longest), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row)
        mask[i, :len(row)] = 1
    return ids, mask


def head_input(model) -> torch.nn.Module | None:
    """The module whose first output is what the LM head reads: the decoder of an
    encoder-decoder, else the base model (BertForMaskedLM.bert, ...); None if unknown."""
    if getattr(model.config, "is_encoder_decoder", False):
        return model.get_decoder() if hasattr(model, "get_decoder") else None
    base = getattr(model, "base_model", model)
    return None if base is model else base


@contextlib.contextmanager
def head_at(module: torch.nn.Module, rows: torch.Tensor, positions: torch.Tensor):
    """While open, `module`'s hidden states (B, T, H) are cut to the read positions,
    (1, N, H), so the LM head after it (a position-wise map) computes N rows, not B * T."""
    def hook(_module, _args, output):
        if isinstance(output, tuple):
            return (output[0][rows, positions][None], *output[1:])
        key = next(iter(output.keys()))
        output[key] = output[key][rows, positions][None]
        return output

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@torch.no_grad()
def _forward(model, batch: list[tuple], reads: list[set[tuple[int, int]]], pad: int,
             stats: Stats | None, heads: dict[torch.nn.Module, bool]
             ) -> list[dict[tuple[int, int], tuple[float, bool]]]:
    """Per input of the batch: {(position, target): (log-probability, is argmax)}.

    The LM head (vocabulary-sized: 15-25% of a BERT-base forward, most of a small one)
    runs at the read positions only, through `head_at`. Whether a model allows it is
    checked on its first batch: both ways, the same logits to 1e-4, else (a custom head
    that mixes positions) every later batch computes the head everywhere, as transformers
    does.
    """
    device = model.device
    ids, mask = _padded([k[0] for k in batch], pad)
    kwargs = {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
    padded = ids.numel()
    if batch[0][1] is not None:
        dec, dec_mask = _padded([k[1] for k in batch], pad)
        kwargs |= {"decoder_input_ids": dec.to(device),
                   "decoder_attention_mask": dec_mask.to(device), "use_cache": False}
        padded += dec.numel()
    if stats is not None:
        stats.padded += padded
    rows = [r for r, want in enumerate(reads) for _ in want]
    wanted = [read for want in reads for read in sorted(want)]
    row_index = torch.tensor(rows, device=device)
    positions = torch.tensor([p for p, _ in wanted], device=device)
    targets = torch.tensor([t for _, t in wanted], device=device)
    module = head_input(model)
    if heads.get(model) and module is not None:
        with head_at(module, row_index, positions):
            picked = model(**kwargs).logits[0]
    else:
        picked = model(**kwargs).logits[row_index, positions]
        if model not in heads:
            heads[model] = _head_at_reads_agrees(model, module, kwargs, row_index, positions,
                                                 picked)
    picked = picked.to(torch.promote_types(picked.dtype, torch.float32))
    logprobs = picked.gather(-1, targets[:, None]).squeeze(-1) - logsumexp(picked)
    greedy = picked.argmax(-1) == targets
    out: list[dict] = [{} for _ in batch]
    for row, read, lp, g in zip(rows, wanted, logprobs.tolist(), greedy.tolist(), strict=True):
        out[row][read] = (lp, g)
    return out


def _head_at_reads_agrees(model, module, kwargs: dict, rows: torch.Tensor,
                          positions: torch.Tensor, expected: torch.Tensor) -> bool:
    """Whether `head_at` gives `expected`, the whole-sequence head's logits (logged if not)."""
    if module is not None:
        try:
            with head_at(module, rows, positions):
                got = model(**kwargs).logits
            if got.shape == (1, *expected.shape) and torch.allclose(
                    got[0].float(), expected.float(), rtol=1e-4, atol=1e-4):
                return True
        except (RuntimeError, IndexError, TypeError, ValueError, AttributeError):
            pass
    log.info("%s: the LM head runs at every position (it cannot be cut to the read "
             "positions), which costs more time and memory.", type(model).__name__)
    return False

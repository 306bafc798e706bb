"""Log-probabilities of text spans under a causal LM: a small explicit scoring API.

    scorer = Scorer(model, tokenizer, mode="full", batch_size=32)
    scorer.score([("The cat", " sat."), ("", "Dogs bark.")])  # [(logprob, is_greedy), ...]

A request is (context, continuation); its span is the continuation. Two modes:

- `full` (default): the text is tokenised as running text (no special tokens), a prefix
  token (BOS, else EOS, as lm-eval does; else CLS, GPT-BERT's start token) is put in
  front, and every token overlapping the continuation is scored. Log-softmax is taken in
  float32 (float64 for a float64 model).
- `babylm2025`: the official BabyLM 2025 pipeline's scoring. The text is tokenised with
  the tokenizer's own special tokens (no BOS unless the tokenizer adds one); the span is
  the tokens whose character offsets end after the start of the continuation; the first
  token of the sequence is never scored (it has no left context). A request with an empty
  context is a whole sentence, which the official pipeline scores without the space that
  lm-eval's target delimiter puts in front of it: that one space is dropped.

Requests are scored in batches sorted by length (right padding only up to the longest
sequence of each batch), and a request whose tokens are a prefix of another request's
shares that request's forward pass: all words of a sentence cost one pass.

Encodings (what is scored) live in classit_eval.scoring.encodings; a scorer computes them.
"""

from __future__ import annotations

import copy
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
from tqdm import tqdm

from classit_eval.scoring.encodings import (
    MODES,
    WORD_IN_TEXT,
    WORD_IN_TEXT_CORRECTED,
    Encoded,
    encoding,
)
from classit_eval.scoring.tokenising import encode_batch, paused_gc, running
from classit_eval.scoring.trie import (
    Schedule,
    Slots,
    Stats,
    TrieScorer,
    distribution_entropy,
    logsumexp,
    trie_size,
)

# -- the scorer ---------------------------------------------------------------------------
ENGINES = ("trie", "sequences")
# The float32 error of a request's log-probability is taken to be at most this many nats
# per scored token (ERROR_PER_TOKEN[dtype] * scored tokens). Measured on SmolLM2-135M over
# every request of the whole fast suite, a float32 run against a pure float64 one: the
# error per scored token is 1.3e-6 at the median and 1.4e-3 at most (one token after BOS
# carried 4.5e-3), the largest request error 36% of this bound (docs/zero_shot.md).
# The bound is scaled with the dtype's machine epsilon; a run that finds it exceeded
# widens it (see Scorer.score_certified).
ERROR_PER_TOKEN_EPS = 2**15  # in units of the dtype's epsilon: 3.9e-3 nats for float32


EXACT_BATCH, EXACT_CACHE_TOKENS = 64, 2**30  # fixed, so float64 scores never depend on a run
# compiled schedules a scorer keeps (the tasks of a checkpoint series, each scored again with
# every checkpoint; a schedule's arrays take about 100 bytes per position computed)
SCHEDULES = 64


def error_per_token(dtype: torch.dtype) -> float:
    """The assumed rounding error of one token's log-probability computed in `dtype`."""
    return ERROR_PER_TOKEN_EPS * torch.finfo(dtype).eps


class Scorer:
    """Sums of token log-probabilities of continuations given contexts.

    `engine="trie"` (default) computes each distinct prefix of a call's sequences once
    (classit_eval.scoring.trie); `engine="sequences"` runs each distinct sequence that is
    not a prefix of another as one row, the reference the trie is tested against.
    `stats` counts the token positions computed (`stats.positions`), against the trie's
    size (`stats.trie_bound`); `exact_stats` those of the float64 re-scoring.
    """

    def __init__(self, model, tokenizer, mode: str = "full", batch_size: int = 32,
                 prefix_token_id: int | None = None, max_length: int | None = None,
                 progress: bool = True, engine: str = "trie", cache_tokens: int = 16384,
                 exact_model: Callable[[], torch.nn.Module] | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"scoring={mode!r} is not a mode; choose one of {', '.join(MODES)}.")
        if engine not in ENGINES:
            raise ValueError(f"engine={engine!r} is not an engine; choose {' or '.join(ENGINES)}.")
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(
                f"{type(tokenizer).__name__} is not a fast tokenizer: character offsets are "
                "needed to find the scored span. Load the model's tokenizer.json (use_fast=True)."
            )
        self.model, self.tokenizer, self.mode, self.engine = model, tokenizer, mode, engine
        self.batch_size = max(1, int(batch_size))
        self.cache_tokens = cache_tokens
        self.max_length = max_length or getattr(model.config, "max_position_embeddings", None)
        self.progress = progress
        if prefix_token_id is None:  # CLS: a GPT-BERT tokenizer starts text with it, not BOS
            prefix_token_id = next((t for t in (tokenizer.bos_token_id, tokenizer.eos_token_id,
                                                tokenizer.cls_token_id) if t is not None), None)
        if mode == "full" and prefix_token_id is None:
            raise ValueError(
                "scoring=full needs a BOS, EOS or CLS token to condition the first token on; "
                "the tokenizer has none. Pass prefix_token_id=<id> in the model arguments."
            )
        self.prefix_token_id = prefix_token_id
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (
            prefix_token_id if prefix_token_id is not None else 0)
        self.stats, self.exact_stats = Stats(), Stats()
        self.certificate = Certificate()
        self._boundary: torch.Tensor | None = None
        self._schedules: dict[tuple, Schedule] = {}  # compiled schedules, see _schedule
        self.set_model(model, exact_model)

    @property
    def boundary_ids(self) -> torch.Tensor:
        """The ids that start a word (classit_eval.scoring.wordprob, minicons' set), computed
        once for the tokenizer; assign others to change the set (`boundary_ids(tok, eos=True)`
        also lets the text end after the word)."""
        if self._boundary is None:
            from classit_eval.scoring.wordprob import boundary_ids

            self._boundary = torch.tensor(boundary_ids(self.tokenizer), dtype=torch.long)
        return self._boundary

    @boundary_ids.setter
    def boundary_ids(self, ids) -> None:
        self._boundary = torch.as_tensor(ids, dtype=torch.long)

    def set_model(self, model, exact_model: Callable[[], torch.nn.Module] | None = None) -> None:
        """Score with `model` (at construction, or another checkpoint of the same tokenizer);
        its float64 copy comes from `exact_model` when first needed."""
        self.model, self._exact, self._exact_loader = model, None, exact_model
        self._tries: dict[torch.nn.Module, TrieScorer] = {}
        if self.engine == "trie":  # checks the model's LM head now, not in the middle of a run
            self._tries[model] = TrieScorer(model, pad_token_id=self.pad_token_id)

    # -- tokenisation -------------------------------------------------------------------
    def encode(self, context: str, continuation: str) -> Encoded:
        """The tokens of context + continuation and the positions of the continuation."""
        return self.encode_many([(context, continuation)])[0]

    def encode_many(self, requests: Sequence[tuple[str, str]],
                    chunk: int = 4096) -> list[Encoded]:
        """`encode` of many requests, tokenised by the fast tokenizer in batches (a call per
        request costs more than the tokenising: 195k requests took 29 s one by one), each
        distinct request once (classit_eval.scoring.tokenising: a context that several
        requests share is mostly tokenised once too)."""
        special = self.mode == "babylm2025"
        index: dict[tuple[str, str], int] = {}
        order = []
        for context, continuation in requests:
            if special and not context and continuation.startswith(" "):
                continuation = continuation[1:]  # lm-eval's target delimiter, see module doc
            order.append(index.setdefault((context, continuation), len(index)))
        pairs = list(index)
        with paused_gc():
            if special:
                distinct = self._encode_special(pairs, chunk)
            else:
                assert self.prefix_token_id is not None  # scoring=full checked it
                distinct = running(self.tokenizer, self.prefix_token_id, pairs, chunk)
        return [distinct[k] for k in order]

    def _encode_special(self, pairs: list[tuple[str, str]], chunk: int) -> list[Encoded]:
        """`scoring=babylm2025`'s encodings: with the tokenizer's special tokens, as
        transformers adds them; the span is the tokens ending after the continuation's
        start, the first token never."""
        out: list[Encoded] = []
        for lo in range(0, len(pairs), chunk):
            part = pairs[lo: lo + chunk]
            texts = [c + x for c, x in part]
            batch = self.tokenizer(texts, add_special_tokens=True, return_offsets_mapping=True)
            for (_, continuation), text, ids, offsets in zip(
                    part, texts, batch["input_ids"], batch["offset_mapping"], strict=True):
                start = len(text) - len(continuation) + (offsets[0][0] if offsets else 0)
                span = tuple(i for i, (_, end) in enumerate(offsets) if end > start and i)
                out.append(Encoded(tuple(ids), span))
        return out

    def tokenize(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """The ids and character offsets of running text, without special tokens (what
        `scoring=full` puts after its prefix token)."""
        ids, offsets = encode_batch(self.tokenizer, [text])[0]
        return list(ids), [(start, end) for start, end in offsets]

    def encode_requests(self, requests: Sequence[tuple[str, str]]) -> list[list[Encoded]]:
        """The scored pieces of each request: one each (other scorers may give several)."""
        return [[piece] for piece in self.encode_many(requests)]

    # encodings that are the plain request for this scorer (the backend batches them so)
    PLAIN_ENCODINGS = frozenset({WORD_IN_TEXT})
    # encodings that are the plain request, corrected (the backend batches them too)
    CORRECTED_ENCODINGS = frozenset({WORD_IN_TEXT_CORRECTED})

    def encode_named(self, name: str, context: str, continuation: str) -> list[Encoded]:
        """The pieces of a request in the encoding a document asks for by name."""
        if name in self.PLAIN_ENCODINGS:
            return self.encode_requests([(context, continuation)])[0]
        if name in self.CORRECTED_ENCODINGS:
            from classit_eval.scoring.wordprob import word_requests

            return word_requests(self, [(context, continuation)], "corrected")
        return encoding(name)(self.tokenizer, context, continuation)

    # -- scoring ------------------------------------------------------------------------
    def score(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        """(sum of log-probabilities, whether every span token is the argmax) per request."""
        encoded = self.encode_many(requests)
        return self.score_encoded(encoded)

    def score_encoded(self, encoded: Sequence[Encoded], entropy: bool = False
                      ) -> list[tuple[float, bool]]:
        """Scores of encoded requests; with `entropy`, each also carries the entropy of the
        distribution predicting its span's first token (a third value)."""
        return self._score(self.model, encoded, self.batch_size, self.cache_tokens, self.stats,
                           self.progress, entropy)

    def check_length(self, encoded: Sequence) -> None:
        """A ValueError when an input is longer than the model takes."""
        check_length(max((len(e.tokens) for e in encoded), default=0), self.max_length)

    def _score(self, model, encoded: Sequence[Encoded], batch_size: int, cache_tokens: int,
               stats: Stats, progress: bool, entropy: bool = False) -> list[tuple[float, bool]]:
        self.check_length(encoded)
        desc = f"scoring ({self.mode}, {str(model.dtype).removeprefix('torch.')})"
        boundary = self.boundary_ids if any(e.boundary for e in encoded) else None
        if self.engine == "sequences":
            return score_sequences(model, encoded, batch_size, self.pad_token_id,
                                   self.max_length, progress, desc, stats, boundary, entropy)
        if model not in self._tries:
            self._tries[model] = TrieScorer(model, pad_token_id=self.pad_token_id)
        scorer = self._tries[model]
        scorer.batch_size, scorer.cache_tokens = batch_size, cache_tokens
        scorer.boundary_ids, scorer.entropy = boundary, entropy
        scorer.progress, scorer.desc = progress, desc
        scores, run = scorer.score(encoded, self._schedule(scorer, encoded))
        stats.add(run)
        return scores

    def _schedule(self, scorer: TrieScorer, encoded: Sequence[Encoded]) -> Schedule:
        """The engine's compiled schedule for `encoded`, kept while fewer than SCHEDULES
        others were used since (a checkpoint series scores the same requests with every
        checkpoint; a schedule depends only on the requests and the settings)."""
        key = (scorer.batch_size, scorer.cache_tokens, scorer.budget,
               tuple((e.tokens, e.span, getattr(e, "boundary", ())) for e in encoded))
        compiled = self._schedules.pop(key, None) or scorer.compile(encoded)
        while len(self._schedules) >= SCHEDULES:  # the least recently used goes
            del self._schedules[next(iter(self._schedules))]
        self._schedules[key] = compiled
        return compiled

    def score_requests(self, requests: Sequence[Sequence[Encoded]]) -> list[tuple[float, bool]]:
        """Each request's pieces scored (one call for them all) and summed."""
        return _per_request(requests, self.score_encoded)

    # -- certified decisions ------------------------------------------------------------
    def score_certified(self, requests: Sequence[Sequence[Encoded]],
                        documents: Sequence[Sequence[int]]) -> list[tuple[float, bool]]:
        """Scores of requests (each the sum of its pieces), whose decisions are float64's.

        `documents` lists the requests that are one document's candidates. All requests
        are scored in the model's dtype. Two candidates' float32 difference is off by at
        most the error bound (ERROR_PER_TOKEN_EPS) of the terms they do not share: a
        term two candidates share (the same prefix and token, one slot of the engine's
        run) is the very same float in both and cancels exactly. A document whose best
        candidate is not ahead of every other by more than that is scored again in
        float64 (all such documents in one call with a fixed batch size): the terms every
        candidate of the document shares keep their float32 value, the others are
        computed in float64 and replace theirs. The difference between candidates is then
        float64's, so which candidate is best, and whether there is a tie, is what float64
        decides, at any batch size and in any process. A re-scored request whose error
        exceeds half its bound shows that the bound is too tight for this model: it is
        widened and the documents checked again.
        """
        first = self.score_requests(requests)
        terms = _Terms(requests, self._tries[self.model].last if self.engine == "trie" and
                       self.model in self._tries else None)
        per_token = error_per_token(self.model.dtype)
        out, rescored, scale, worst = list(first), set(), 1.0, 0.0
        cert = self.certificate
        cert.documents += sum(len(doc) > 1 for doc in documents)
        while True:
            todo = [d for d, doc in enumerate(documents) if d not in rescored and len(doc) > 1
                    and not terms.separated([first[i][0] for i in doc], doc, per_token * scale)]
            if not todo:
                break
            started = time.perf_counter()
            again, pieces, shared = [], [], []
            for d in todo:
                common = terms.common(documents[d])
                for i in documents[d]:
                    kept, values, hits = terms.split(requests[i], i, common)
                    again.append(i)
                    pieces.append(kept)
                    shared.append((values, hits))
            exact_scores = (self.exact_scores(pieces) if any(pieces)
                            else [(0.0, True)] * len(pieces))
            cert.seconds += time.perf_counter() - started
            for i, (value, hit), kept, (values, hits) in zip(
                    again, exact_scores, pieces, shared, strict=True):
                out[i] = (math.fsum([value, *values]), hit and all(hits))
                size = sum(map(_term_count, kept))
                worst = max(worst, abs(out[i][0] - first[i][0]) / (per_token * max(1, size)))
            rescored.update(todo)
            if worst <= 0.5 * scale:
                break
            scale = 2 * worst
        cert.rescored += len(rescored)
        cert.worst, cert.widened = max(cert.worst, worst), max(cert.widened, scale)
        return out

    def exact_scores(self, requests: Sequence[Sequence[Encoded]]) -> list[tuple[float, bool]]:
        """The requests scored in float64, in one call with a fixed batch size and cache
        (EXACT_BATCH, EXACT_CACHE_TOKENS), whatever the run's. Equal token sequences are one
        trie path, so equal candidates tie exactly; other candidates' float64 scores can
        move with what else is re-scored beside them only by float64 rounding (~1e-13 nats),
        which no decision on a real model has come near (docs/zero_shot.md)."""
        return _per_request(requests, lambda flat: self._score(
            self.exact_model(), flat, EXACT_BATCH, EXACT_CACHE_TOKENS, self.exact_stats, False))

    def exact_model(self) -> torch.nn.Module:
        """The float64 model: this one if it is float64, else a copy made on first use."""
        if self.model.dtype == torch.float64:
            return self.model
        if self._exact is None:
            if self._exact_loader is not None:
                self._exact = self._exact_loader()
            else:
                self._exact = copy.deepcopy(self.model).to(torch.float64)
        return self._exact

    @property
    def positions(self) -> int:
        """Token positions computed so far, float64 re-scoring included (padding excluded)."""
        return self.stats.positions + self.exact_stats.positions


@dataclass
class Certificate:
    """What score_certified did: documents decided, documents re-scored in float64, the
    largest float32 error seen (as a fraction of its bound), and the widened bound scale."""

    documents: int = 0
    rescored: int = 0
    worst: float = 0.0
    widened: float = 1.0
    seconds: float = 0.0  # spent in the float64 re-scoring, the copy's loading included


def _sum(parts: list[tuple[float, bool]]) -> tuple[float, bool]:
    return math.fsum(ll for ll, _ in parts), all(g for _, g in parts)


def _per_request(requests: Sequence[Sequence[Encoded]],
                 score: Callable[[list[Encoded]], list[tuple[float, bool]]]
                 ) -> list[tuple[float, bool]]:
    """`score` of every piece in one call, summed per request."""
    scores = iter(score([piece for pieces in requests for piece in pieces]))
    return [_sum([next(scores) for _ in pieces]) for pieces in requests]


def _term_count(piece: Encoded) -> int:
    """A piece's terms: its span's log-probabilities and its boundary masses."""
    return len(piece.span) + len(getattr(piece, "boundary", ()))


class _Terms:
    """The terms of requests scored once, by slot where the engine tells (its `Slots`).

    A request's terms are its pieces' span log-probabilities and boundary masses. The span
    terms of a piece without boundary terms are known by their slot; any other term (or
    every term, for an engine that does not tell) counts as the request's own."""

    def __init__(self, requests: Sequence[Sequence[Encoded]], slots: Slots | None) -> None:
        self.slots = slots
        self.keys: list[Counter[int]] = []  # per request: its slots, with multiplicity
        self.own: list[int] = []  # per request: its terms without a slot
        self.pieces: list[list[list[int] | None]] = []  # per request, per piece: its slots
        flat = iter(slots.spans if slots is not None else ())
        for request in requests:
            keys: Counter[int] = Counter()
            own = 0
            per_piece: list[list[int] | None] = []
            for piece in request:
                span, boundary = next(flat, None), getattr(piece, "boundary", ())
                if span is None or boundary:
                    own += _term_count(piece)
                    per_piece.append(None)
                else:
                    keys.update(span)
                    per_piece.append(span)
            self.keys.append(keys)
            self.own.append(own)
            self.pieces.append(per_piece)

    def unshared(self, a: int, b: int) -> int:
        """The terms of requests `a` and `b` that are not one float in both."""
        ka, kb = self.keys[a], self.keys[b]
        return sum(((ka - kb) + (kb - ka)).values()) + self.own[a] + self.own[b]

    def separated(self, values: list[float], doc: Sequence[int], per_token: float) -> bool:
        """The best candidate exceeds every other by more than the error bound of the terms
        the two do not share (so no tie)."""
        best = max(range(len(values)), key=values.__getitem__)
        return all(values[best] - values[j] > per_token * self.unshared(doc[best], doc[j])
                   for j in range(len(values)) if j != best)

    def common(self, doc: Sequence[int]) -> Counter[int]:
        """The slots every candidate of a document holds (with multiplicity)."""
        common = Counter(self.keys[doc[0]])
        for i in doc[1:]:
            common &= self.keys[i]
        return common

    def split(self, request: Sequence[Encoded], i: int, common: Counter[int]
              ) -> tuple[list[Encoded], list[float], list[bool]]:
        """Request `i`'s pieces without the span positions whose slots are `common` (a
        piece left with nothing to score is dropped), and those slots' values and argmax
        hits as first scored."""
        if not common or self.slots is None:
            return list(request), [], []
        left, kept, values, hits = Counter(common), [], [], []
        for piece, slots in zip(request, self.pieces[i], strict=True):
            if slots is None:
                kept.append(piece)
                continue
            keep = []
            for position, slot in zip(sorted(piece.span), slots, strict=True):
                if left[slot] > 0:
                    left[slot] -= 1
                    values.append(self.slots.logprobs[slot])
                    hits.append(self.slots.hits[slot])
                else:
                    keep.append(position)
            if len(keep) == len(slots):
                kept.append(piece)
            elif keep:
                kept.append(replace(piece, span=tuple(keep)))
        return kept, values, hits


def score_sequences(model, encoded: Sequence[Encoded], batch_size: int = 32,
                    pad_token_id: int = 0, max_length: int | None = None,
                    progress: bool = False, desc: str = "scoring",
                    stats: Stats | None = None, boundary: torch.Tensor | None = None,
                    entropy: bool = False) -> list[tuple[float, bool]]:
    """(sum of span log-probabilities and `boundary` terms, every span token the argmax)
    per encoded request (`boundary`: the ids of Encoded.boundary's masses); with
    `entropy`, the entropy before the span's first token as a third value.

    Distinct token sequences that are a prefix of another are read off the longer one; the
    rest run longest first in batches of `batch_size`, right-padded to the batch's longest.
    """
    hosts = _prefix_hosts([e.tokens for e in encoded])
    unique_hosts = sorted(set(hosts.values()), key=lambda t: (-len(t), t))
    if stats is not None:
        stats.trie_bound += trie_size(sorted({e.tokens for e in encoded}))
        stats.positions += sum(len(h) for h in unique_hosts)
        stats.padded += sum(len(b) * len(b[0]) for b in
                            (unique_hosts[i:i + batch_size]
                             for i in range(0, len(unique_hosts), batch_size)))
        stats.calls += -(-len(unique_hosts) // batch_size)
    token_logprobs: dict[tuple[int, ...], tuple[torch.Tensor, ...]] = {}
    batches = [unique_hosts[i:i + batch_size] for i in range(0, len(unique_hosts), batch_size)]
    for batch in tqdm(batches, desc=desc, disable=not progress):
        for seq, result in zip(batch, _forward(model, batch, pad_token_id, max_length, boundary,
                                               entropy), strict=True):
            token_logprobs[seq] = result
    out = []
    for e in encoded:
        logprobs, greedy, masses, entropies = token_logprobs[hosts[e.tokens]]
        # position p of the sequence is predicted by the logits at p - 1
        idx = torch.tensor([p - 1 for p in e.span], dtype=torch.long)
        value = float(logprobs[idx].double().sum())
        if e.boundary:
            value = math.fsum([value, *(sign * float(masses[p - 1]) for p, sign in e.boundary)])
        out.append((value, bool(greedy[idx].all())))
        if entropy:
            out[-1] = (*out[-1], float(entropies[e.span[0] - 1]))  # type: ignore[assignment]  # 3rd: entropy
    return out


def check_length(longest: int, max_length: int | None) -> None:
    """A ValueError when an input of `longest` tokens is longer than the model takes."""
    if max_length and longest > max_length:
        raise ValueError(
            f"A request is {longest} tokens long, over the model's {max_length}; "
            "shorten the inputs or pass max_length=<n> if the model supports longer ones."
        )


@torch.no_grad()
def _forward(model, batch: list[tuple[int, ...]], pad_token_id: int, max_length: int | None,
             boundary: torch.Tensor | None = None, entropy: bool = False
             ) -> list[tuple[torch.Tensor, ...]]:
    """Per sequence: log p(token[p] | tokens[:p]) at index p - 1, argmax hits, the
    log-mass of `boundary` after tokens[:p] at index p - 1 (p up to the length; empty
    without `boundary`) and the entropy there (empty without `entropy`)."""
    longest = max(len(s) for s in batch)
    check_length(longest, max_length)
    device = model.device
    ids = torch.full((len(batch), longest), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(batch), longest), dtype=torch.long)
    for row, seq in enumerate(batch):
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    every = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
    every = every.to(torch.promote_types(every.dtype, torch.float32))
    total = logsumexp(every)
    masses = (logsumexp(every.index_select(-1, boundary.to(device))) - total
              if boundary is not None else total[:, :0])
    entropies = distribution_entropy(every, total) if entropy else total[:, :0]
    logits = every[:, :-1]
    targets = ids[:, 1:].to(device)
    logprobs = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - total[:, :-1]
    greedy = logits.argmax(-1) == targets
    return [(logprobs[r, : len(s) - 1].cpu(), greedy[r, : len(s) - 1].cpu(),
             masses[r, : len(s)].cpu(), entropies[r, : len(s)].cpu())
            for r, s in enumerate(batch)]


def _prefix_hosts(sequences: Sequence[tuple[int, ...]]) -> dict[tuple[int, ...], tuple[int, ...]]:
    """Map each distinct sequence to the longest sequence it is a prefix of (maybe itself).

    In lexicographic order, every sequence that extends `s` follows `s` directly, so `s`
    is a prefix of some sequence if and only if it is a prefix of its successor.
    """
    ordered = sorted(set(sequences))
    hosts: dict[tuple[int, ...], tuple[int, ...]] = {}
    for i in range(len(ordered) - 1, -1, -1):
        seq = ordered[i]
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        hosts[seq] = hosts[nxt] if nxt is not None and nxt[: len(seq)] == seq else seq
    return hosts

"""Prefix-tree scoring: every distinct prefix of a run's token sequences is computed once.

    scores, stats = TrieScorer(model, batch_size=32).score(encoded)

The token sequences of all requests form a trie, stored compressed (a radix tree): a node
is a segment of tokens shared by all sequences below it, and its children are where they
part. Each node is run through the model once, after its ancestors: the keys and values of
its ancestors' tokens (their KV cache) are its past, or its ancestors sit beside it in the
same row, so its tokens attend to the whole prefix without computing it again. The LM head
and log-softmax are applied only at positions whose next token is scored (inside the
segment, and at its last token for each child whose first token is scored), and the last
token of a sequence that no other sequence extends is not computed at all: nothing reads
its hidden state. So a run computes fewer token positions than the trie has nodes
(`Stats.trie_bound`).

Rows pack subtrees. Most segments are short (the few words where two sentences of a pair
differ, an answer option), and a forward call costs about as much as 40 positions on a CPU
whatever its size, because it reads every weight. So a row holds a node with as much of its
subtree as fits in `PACK` positions, side by side under a tree attention mask (each token
sees the row's past, its ancestors in the row and the tokens before it in its own segment)
and explicit position ids; the rest of the subtree hangs below and is packed in a later
row, after its ancestors' keys and values exist. On the fast suite (by plan) this takes
2,631 calls of 99 positions on average (10% padding) down to 1,052 of 249 (2.5%). A model
that does not honour a 4-D attention mask (checked once, `tree_masks_work`) gets one
segment a row.

Memory stays bounded: a node's keys and values are kept only while a node below it waits
for a later row, and the sorted sequences are taken in windows of at most `cache_tokens` trie
nodes, each window its own tree, so at most that many tokens' keys and values are held at
once. A prefix shared across a window boundary is computed once in each window: a smaller
cap costs more computation, never more memory; with `cache_tokens=1` every sequence is its
own window, as if scored alone.

The results equal scoring each sequence alone, up to floating-point rounding: the model
sees the same tokens at the same positions with the same attention, only in other batch
shapes. Padding is masked out of attention and its positions are never read.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from classit_eval.scoring.probes import (
    cache_argument,
    grouped_heads_in_sdpa,
    split_head,
    tree_masks_work,
)
from classit_eval.scoring.tokenising import paused_gc

log = logging.getLogger(__name__)
Tokens = tuple[int, ...]
HEAD_ROWS = 1024  # hidden states per LM-head call: bounds the logits' memory
HEAD_MIN_ROWS = 16  # ... and at least these (see TrieScorer.head_rows)
ROW_TOKENS = 16  # a call holds at most batch_size * ROW_TOKENS positions (or one row)
LOG2E = 1 / math.log(2)  # exp(x) = 2 ** (x * LOG2E)
PACK = 128  # a row packs the segments of subtrees up to this many positions
SIMILAR, SLACK = 0.9, 4  # a call's rows: >= 0.9 of its first's width, or <= 4 narrower


@dataclass
class Stats:
    """What a run computed: token positions (padding excluded), padded positions, calls."""

    positions: int = 0
    padded: int = 0
    calls: int = 0
    trie_bound: int = 0  # the trie's nodes: distinct non-empty prefixes of the sequences
    # states the LM head read (a compiled schedule counts them; `plan` does not)
    heads: int = field(default=0, compare=False)

    def add(self, other: Stats) -> None:
        self.positions += other.positions
        self.heads += other.heads
        self.padded += other.padded
        self.calls += other.calls
        self.trie_bound += other.trie_bound


@dataclass(eq=False)
class Node:
    """A segment of tokens at positions `start` .. `start + len(tokens) - 1`."""

    tokens: Tokens
    start: int
    parent: Node | None
    children: list[Node] = field(default_factory=list)
    scored: set[int] = field(default_factory=set)  # offsets whose log-probability is wanted
    slots: dict[int, int] = field(default_factory=dict)  # offset -> its slot (Schedule)
    # offsets o (0 .. len(tokens)) whose next-token distribution's mass on the boundary set
    # is wanted: log P(token o is in the set | the tokens before it), see `boundary` below
    massed: set[int] = field(default_factory=set)
    size: int = 0  # positions computed in its subtree, its own included
    deferred: list[Node] = field(default_factory=list)  # children left to a later row
    column: int = 0  # where its first token sits in the row it is computed in
    call: int = 0  # the call it is computed in, and its row there
    row: int = 0

    @property
    def end(self) -> int:
        return self.start + len(self.tokens)

    @property
    def computed_length(self) -> int:
        """Tokens run through the model: all, but a leaf's last unless the distribution
        after it is wanted (else nothing reads it)."""
        whole = self.children or len(self.tokens) in self.massed
        return len(self.tokens) if whole else len(self.tokens) - 1


def common_prefix(a: Tokens, b: Tokens) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def shared_prefixes(sorted_sequences: Sequence[Tokens]) -> list[int]:
    """Each sequence's common prefix with the one before it (the first's: 0). Taken once
    per run: the trie's size, its windows and its nodes all follow from it."""
    out, prev = [], Tokens()
    for seq in sorted_sequences:
        out.append(common_prefix(prev, seq))
        prev = seq
    return out


def trie_size(sorted_sequences: Sequence[Tokens], shared: Sequence[int] | None = None) -> int:
    """The number of trie nodes (distinct non-empty prefixes) of sorted distinct sequences
    (`shared`: their shared_prefixes, if taken)."""
    if shared is None:
        shared = shared_prefixes(sorted_sequences)
    return sum(map(len, sorted_sequences)) - sum(shared)


def build_tree(sorted_sequences: Sequence[Tokens], shared: Sequence[int] | None = None
               ) -> tuple[Node, dict[Tokens, Node]]:
    """The radix tree of sorted distinct sequences, and the node each sequence ends at
    (`shared`: their shared_prefixes, if taken).

    In sorted order a sequence shares with the whole tree built so far exactly its common
    prefix with the previous sequence, so `path` (the previous sequence's nodes) is all
    that is needed: cut it at the common prefix, splitting a node if the cut falls inside,
    and hang the rest of the sequence there. A sequence that extends the previous one
    extends its node instead: the words of a sentence are one segment, computed in one
    row. A sequence's node is then the one holding its last token or a node below it on
    its path (`_walk` climbs by position).
    """
    root = Node((), 0, None)
    ends: dict[Tokens, Node] = {}
    path: list[Node] = [root]
    prev = Tokens()
    if shared is None:
        shared = shared_prefixes(sorted_sequences)
    for seq, common in zip(sorted_sequences, shared, strict=True):
        if prev and common == len(prev):  # `prev` is a prefix of `seq`, its node a leaf
            path[-1].tokens += seq[common:]
            ends[seq] = path[-1]
            prev = seq
            continue
        while len(path) > 1 and path[-1].start >= common:
            path.pop()
        node = path[-1]
        if node.end > common:  # the cut is inside `node`: its upper part becomes a new node
            parent = node.parent
            assert parent is not None  # `node` starts at or after `common` > 0: not the root
            upper = Node(node.tokens[: common - node.start], node.start, parent, [node])
            parent.children[parent.children.index(node)] = upper
            node.tokens, node.start, node.parent = node.tokens[common - node.start:], common, upper
            path[-1] = node = upper
        leaf = Node(seq[common:], common, node)
        node.children.append(leaf)
        path.append(leaf)
        ends[seq] = leaf
        prev = seq
    return root, ends


def _walk(end: Node, positions: Sequence[int]):
    """(node, offset) of each position of a sequence ending at `end`, last position first."""
    node = end
    for p in sorted(positions, reverse=True):
        while node.start > p:
            assert node.parent is not None  # the root starts at 0 <= p
            node = node.parent
        yield node, p - node.start


def windows(sorted_sequences: Sequence[Tokens], cache_tokens: int, shared: Sequence[int]
            ) -> Iterator[tuple[Sequence[Tokens], list[int]]]:
    """Consecutive runs of sorted sequences (their shared_prefixes `shared`) whose tries
    have at most `cache_tokens` nodes (a single longer sequence is a window of its own),
    each with its sequences' shared prefixes within it (its first's: 0)."""
    size, start = 0, 0
    for i, (seq, common) in enumerate(zip(sorted_sequences, shared, strict=True)):
        new = len(seq) - common
        if i and size + new <= cache_tokens:
            size += new
            continue
        if i:
            yield sorted_sequences[start: i], [0, *shared[start + 1: i]]
        start, size = i, len(seq)
    if sorted_sequences:
        yield sorted_sequences[start:], [0, *shared[start + 1:]]


@dataclass(eq=False)
class Row:
    """Segments computed in one row of a forward call: subtrees below `anchor`, packed.

    Its past is the keys and values of `anchor` and its ancestors; its nodes (parents
    before children) sit side by side, each attending to the past, to its ancestors in
    the row and to itself (a tree attention mask), at its own positions in the sequence."""

    anchor: Node
    nodes: list[Node] = field(default_factory=list)
    width: int = 0


def _sizes(root: Node) -> None:
    order, stack = [], [root]
    while stack:
        node = stack.pop()
        order.append(node)
        stack += node.children
    for node in reversed(order):
        node.size = max(node.computed_length, 0) + sum(c.size for c in node.children)


def pack(anchor: Node, budget: int) -> list[Row]:
    """Rows for the deferred children of `anchor`: each child with as much of its subtree
    as fits in `budget` positions, in order; what does not fit is deferred again, below
    the node it hangs from. A segment longer than `budget` is a row of its own."""
    rows: list[Row] = []
    for child in anchor.deferred:
        if not rows or child.computed_length > budget - rows[-1].width:
            rows.append(Row(anchor))
        _place(child, rows[-1], budget)
    anchor.deferred = []
    return rows


def _place(node: Node, row: Row, budget: int) -> None:
    row.nodes.append(node)
    row.width += node.computed_length
    for child in node.children:
        if child.size == 0:  # a leaf's last token only: read from `node`'s last state
            continue
        if child.computed_length <= budget - row.width:
            _place(child, row, budget)  # all of its subtree when that fits, else its top
        else:
            node.deferred.append(child)  # `node` and its ancestors keep their keys and values


def schedule(root: Node, batch_size: int, budget: int = PACK) -> Iterator[list[Row]]:
    """The tree in calls of rows, a wave at a time: a wave's rows hang from nodes computed
    in the wave before (the first from the root), sorted by width so that a call pads
    little. (A compiled schedule keeps keys and values only until the last call that reads
    them: `compile_schedule`.)"""
    _sizes(root)
    root.deferred = [child for child in root.children if child.size > 0]
    wave = [root]
    while wave:
        rows = [row for anchor in wave for row in pack(anchor, budget)]
        rows.sort(key=lambda row: -row.width)  # stable: tree order otherwise
        wave = []
        for batch in batches(rows, batch_size):
            yield batch
            for row in batch:
                wave += [node for node in row.nodes if node.deferred]


def batches(rows: list[Row], batch_size: int) -> list[list[Row]]:
    """Consecutive rows (widest first), at most `batch_size`; a call ends before a row
    that would pad it beyond `batch_size * ROW_TOKENS` positions, or that is both narrower
    than SIMILAR times its first and more than SLACK positions narrower. A call costs
    about as much as 40 positions on a 2-core CPU (it reads all the weights), so a few
    padded positions are cheaper than more calls."""
    out: list[list[Row]] = []
    budget = batch_size * ROW_TOKENS
    for row in rows:
        batch = out[-1] if out else None
        if (batch and len(batch) < batch_size
                and (len(batch) + 1) * batch[0].width <= budget
                and (row.width >= SIMILAR * batch[0].width
                     or batch[0].width - row.width <= SLACK)):
            batch.append(row)
        else:
            out.append([row])
    return out


def plan(encoded: Sequence, batch_size: int = 32, cache_tokens: int = 16384,
         budget: int = PACK) -> Stats:
    """What TrieScorer.score computes for these requests, counted without a model."""
    sequences = sorted({e.tokens for e in encoded})
    shared = shared_prefixes(sequences)
    stats = Stats(trie_bound=trie_size(sequences, shared))
    for part, common in windows(sequences, cache_tokens, shared):
        root, _ = build_tree(part, common)
        for batch in schedule(root, batch_size, budget):
            widths = [row.width for row in batch]
            stats.positions += sum(widths)
            stats.padded += len(batch) * max(widths)
            stats.calls += 1
    return stats


@dataclass(eq=False)
class Head:
    """A run of the LM head over the states queued since the last: its targets' rows (in
    the queue, ascending), tokens and slots."""

    rows: np.ndarray
    tokens: torch.Tensor
    slots: torch.Tensor
    massed: np.ndarray  # the targets (ascending) whose boundary mass is wanted


@dataclass(eq=False)
class Call:
    """One forward call of a compiled schedule: everything about it but the model's numbers.

    Its past is the concatenation of `sources` (call, row, column, length: segments of
    earlier calls' keys and values), gathered into each row by `index`."""

    ids: torch.Tensor  # (rows, width) token ids, right-padded
    positions: torch.Tensor  # (rows, width) position ids
    widths: np.ndarray  # (rows,) columns used in each row
    pasts: np.ndarray  # (rows,) positions of each row's past
    past: int  # the longest past
    tree: np.ndarray | None  # (rows, width, ceil(width / 8)) the row's tree mask, bit-packed
    sources: list[tuple[int, int, int, int]]
    index: torch.Tensor | None  # (rows * past,) into the sources' concatenation + a zero column
    read: torch.Tensor | None  # flat (row * width + column) of the states the LM head reads
    keep: bool = False  # a later call reads its keys and values
    drop: list[int] = field(default_factory=list)  # calls that nothing after this one reads
    head: Head | None = None  # the LM head runs over the queued states after this call


@dataclass(eq=False)
class Slots:
    """What a run computed, by slot: per request its span's slots (in position order), and
    per slot the log-probability and the argmax hit. One slot is one computed number: two
    requests whose spans hold the same slot add the very same float (certification uses
    this: a shared term cancels exactly in a comparison)."""

    spans: list[list[int]]
    logprobs: list[float]
    hits: list[bool]


@dataclass(eq=False)
class Schedule:
    """A run compiled without the model: its calls, and per request the slots (one per
    predicted position of the trie) that hold its span's log-probabilities and its
    boundary masses. Built once, it scores the same requests with any checkpoint."""

    calls: list[Call]
    slots: int
    spans: list[list[int]]  # per request: its span's slots, in position order
    boundaries: list[list[tuple[int, int]]]  # per request: (slot, sign) of its boundary terms
    stats: Stats


@paused_gc()
def compile_schedule(encoded: Sequence, batch_size: int = 32, cache_tokens: int = 16384,
                     budget: int = PACK) -> Schedule:
    """The calls TrieScorer makes for these requests, as arrays (see `Schedule`)."""
    requests: dict[Tokens, list[int]] = defaultdict(list)
    for i, e in enumerate(encoded):
        requests[e.tokens].append(i)
    sequences = sorted(requests)
    shared = shared_prefixes(sequences)
    stats = Stats(trie_bound=trie_size(sequences, shared))
    spans: list[list[int]] = [[] for _ in encoded]
    boundaries: list[list[tuple[int, int]]] = [[] for _ in encoded]
    calls: list[Call] = []
    slots = 0
    for part, common in windows(sequences, cache_tokens, shared):
        root, ends = build_tree(part, common)
        for seq in part:
            for i in requests[seq]:
                span: list[int] = []
                for node, offset in _walk(ends[seq], encoded[i].span):
                    node.scored.add(offset)
                    slots = _slot(node, offset, slots)
                    span.append(node.slots[offset])
                spans[i] = span[::-1]  # _walk yields the last position first
                boundary = getattr(encoded[i], "boundary", ())
                if boundary:
                    signs = dict(boundary)
                    for node, offset in _walk(ends[seq], _positions(encoded[i])):
                        node.massed.add(offset)
                        slots = _slot(node, offset, slots)
                        boundaries[i].append((node.slots[offset], signs[node.start + offset]))
        first, targets = len(calls), _Targets()
        for batch in schedule(root, batch_size, budget):
            calls.append(_compile_call(batch, len(calls), budget, targets, stats))
            if targets.queued >= HEAD_ROWS:
                calls[-1].head = targets.head()
        if targets.rows:
            calls[-1].head = targets.head()
        last: dict[int, int] = {}
        for k in range(first, len(calls)):
            for c, *_ in calls[k].sources:
                last[c] = k
        for c, k in last.items():
            calls[c].keep = True
            calls[k].drop.append(c)
    return Schedule(calls, slots, spans, boundaries, stats)


def _slot(node: Node, offset: int, slots: int) -> int:
    """Give (node, offset) a slot if it has none; the number of slots given."""
    if offset not in node.slots:
        node.slots[offset] = slots
        return slots + 1
    return slots


@dataclass
class _Targets:
    """The LM head's queue while compiling: queued states and their targets."""

    queued: int = 0
    rows: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    slots: list[int] = field(default_factory=list)
    massed: list[int] = field(default_factory=list)

    def head(self) -> Head:
        head = Head(np.asarray(self.rows, dtype=np.int64),
                    torch.tensor(self.tokens, dtype=torch.long),
                    torch.tensor(self.slots, dtype=torch.long),
                    np.asarray(self.massed, dtype=np.int64))
        self.queued, self.rows, self.tokens, self.slots, self.massed = 0, [], [], [], []
        return head

    def add(self, node: Node, offset: int) -> None:
        """A target of the last queued state: the token at `offset` of `node` (a target
        past a leaf's last token, only a boundary mass, reads token 0 for nothing)."""
        if offset in node.massed:
            self.massed.append(len(self.rows))
        self.rows.append(self.queued - 1)
        self.tokens.append(node.tokens[offset] if offset < len(node.tokens) else 0)
        self.slots.append(node.slots[offset])


def _compile_call(batch: list[Row], number: int, budget: int, targets: _Targets,
                  stats: Stats) -> Call:
    """One forward call over `batch`, each row after its anchor's keys and values."""
    width, past = max(row.width for row in batch), max(row.anchor.end for row in batch)
    ids = np.zeros((len(batch), width), dtype=np.int64)
    positions = np.zeros((len(batch), width), dtype=np.int64)
    tree = np.zeros((len(batch), width, width), dtype=bool) if budget else None
    causal = np.tri(width, dtype=bool)
    read: list[int] = []
    for r, row in enumerate(batch):
        column = 0
        for node in row.nodes:
            node.column, node.call, node.row = column, number, r
            length = node.computed_length
            ids[r, column: column + length] = node.tokens[:length]
            positions[r, column: column + length] = np.arange(node.start, node.start + length)
            if tree is not None:
                query = tree[r, column: column + length]
                query[:, column: column + length] = causal[:length, :length]
                a = node.parent
                while a is not row.anchor:
                    assert a is not None  # the row's anchor is an ancestor of its nodes
                    query[:, a.column: a.column + len(a.tokens)] = True
                    a = a.parent
            column += length
            # the state at offset j predicts the token at j + 1, or a child's first token
            base = r * width + node.column
            for o in sorted(node.slots):
                if 0 < o <= length:
                    read.append(base + o - 1)
                    targets.queued += 1
                    targets.add(node, o)
            children = [child for child in node.children if 0 in child.slots]
            if children:  # only a node with children computes its last token
                read.append(base + len(node.tokens) - 1)
                targets.queued += 1
                for child in children:
                    targets.add(child, 0)
        if tree is not None:
            for q in range(row.width, width):  # never read
                tree[r, q, q] = True
    sources: list[tuple[int, int, int, int]] = []
    index = None
    if past:
        concat: dict[int, int] = {}  # id(ancestor) -> its offset in the concatenation
        total = 0
        where = np.full((len(batch), past), -1, dtype=np.int64)
        for r, row in enumerate(batch):
            for a in _chain(row.anchor):  # they hold positions a.start .. a.end - 1
                if id(a) not in concat:
                    concat[id(a)] = total
                    sources.append((a.call, a.row, a.column, len(a.tokens)))
                    total += len(a.tokens)
                where[r, a.start: a.end] = np.arange(concat[id(a)], concat[id(a)] + len(a.tokens))
        where[where < 0] = total  # `total`: a zero column
        index = torch.from_numpy(where.reshape(-1))
    stats.positions += sum(row.width for row in batch)
    stats.heads += len(read)
    stats.padded += len(batch) * width
    stats.calls += 1
    return Call(ids=torch.from_numpy(ids), positions=torch.from_numpy(positions),
                widths=np.array([row.width for row in batch]),
                pasts=np.array([row.anchor.end for row in batch]), past=past,
                tree=None if tree is None else np.packbits(tree, axis=-1),
                sources=sources, index=index,
                read=torch.tensor(read, dtype=torch.long) if read else None)


class TrieScorer:
    """Scores token sequences of one model by prefix tree; see the module doc."""

    def __init__(self, model, batch_size: int = 32, cache_tokens: int = 16384,
                 pad_token_id: int = 0, progress: bool = False, desc: str = "scoring") -> None:
        self.model = model
        self.batch_size = max(1, int(batch_size))
        self.cache_tokens = max(1, int(cache_tokens))
        self.pad_token_id = pad_token_id
        self.progress, self.desc = progress, desc
        self.boundary_ids: torch.Tensor | None = None  # set by a scorer that wants masses
        self.last: Slots | None = None  # the slots of the last `score` call
        self.entropy = False  # also the entropy of the distribution before each span
        self.base, self.head = split_head(model)
        self.cache_argument = cache_argument(self.base)
        self.budget = PACK if tree_masks_work(self.base, self.cache_argument) else 0
        # the head reads its whole weight (vocabulary x hidden) per block of states and writes
        # block x vocabulary logits: a block of twice the hidden size reads at most half as
        # much as it writes, and a smaller block keeps a small model's logits in the cache
        hidden = self.head.in_features if isinstance(self.head, torch.nn.Linear) else HEAD_ROWS
        self.head_rows = min(HEAD_ROWS, max(HEAD_MIN_ROWS, 2 * hidden))
        self._buffers: tuple[torch.Tensor, ...] | None = None  # see _logits
        if not self.budget:
            log.info("%s ignores 4-D attention masks: one trie segment a row (more calls).",
                     type(model).__name__)

    def compile(self, encoded: Sequence) -> Schedule:
        """This scorer's schedule for `encoded` (reusable with another checkpoint whose
        model honours tree masks alike)."""
        return compile_schedule(encoded, self.batch_size, self.cache_tokens, self.budget)

    def score(self, encoded: Sequence, compiled: Schedule | None = None
              ) -> tuple[list[tuple[float, bool]], Stats]:
        """(sum of span log-probabilities, every span token the argmax) per encoded request,
        plus its `boundary` terms: (position, sign) pairs adding sign x log P(the token at
        that position, which may be one past the end, is in `boundary_ids`). With
        `self.entropy`, a third value: the entropy (nats) of the next-token distribution
        that predicts the span's first token. `compiled`: `self.compile(encoded)`, made
        before (a checkpoint series scores the same requests again)."""
        compiled = compiled or self.compile(encoded)
        results = self._run(compiled)
        logprobs, hits = results["logprob"].tolist(), results["greedy"].tolist()
        self.last = Slots(compiled.spans, logprobs, hits)
        masses = results["mass"].tolist() if "mass" in results else []
        entropies = results["entropy"].tolist() if "entropy" in results else []
        out: list[tuple[float, bool]] = []
        for span, boundary in zip(compiled.spans, compiled.boundaries, strict=True):
            terms = [logprobs[s] for s in span]
            if boundary:
                terms += [sign * masses[s] for s, sign in boundary]
            out.append((math.fsum(terms), all(hits[s] for s in span)))
            if self.entropy:
                out[-1] = (*out[-1], entropies[span[0]])  # type: ignore[assignment]  # 3rd: entropy
        stats = Stats()
        stats.add(compiled.stats)
        return out, stats

    @torch.no_grad()
    def _run(self, compiled: Schedule) -> dict[str, torch.Tensor]:
        """The calls of a schedule, then the LM head: per slot, the log-probability, the
        argmax hit and (when wanted) the boundary mass and the entropy."""
        store: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # call -> its keys, values
        queue: list[torch.Tensor] = []
        results: dict[str, torch.Tensor] = {}
        device = self.model.device
        with tqdm(total=len(compiled.calls), desc=self.desc, disable=not self.progress) as bar:
            for k, call in enumerate(compiled.calls):
                cache = self._past(call, store)
                with grouped_heads_in_sdpa():
                    out = self.base(input_ids=call.ids.to(device),
                                    attention_mask=self._mask(call).to(device),
                                    position_ids=call.positions.to(device),
                                    use_cache=True, **{self.cache_argument: cache})
                if call.keep:  # one copy (layers, rows, heads, width, dim) of the new ones
                    store[k] = (torch.stack([layer.keys[:, :, call.past:]
                                             for layer in cache.layers]),
                                torch.stack([layer.values[:, :, call.past:]
                                             for layer in cache.layers]))
                for c in call.drop:
                    del store[c]
                states = out.last_hidden_state if self.head else out.logits
                if call.read is not None:
                    flat = states.reshape(-1, states.shape[-1])
                    queue.append(flat[call.read.to(flat.device)])
                if call.head is not None:
                    self._head(call.head, torch.cat(queue), results, compiled.slots)
                    queue = []
                bar.update()
        if "logprob" not in results:  # nothing scored
            results["logprob"] = torch.zeros(compiled.slots)
            results["greedy"] = torch.ones(compiled.slots, dtype=torch.bool)
        return results

    @staticmethod
    def _mask(call: Call) -> torch.Tensor:
        """(rows, 1, width, past + width) with a tree mask: each token sees its row's past,
        its ancestors in the row, whole, and its own segment up to itself; padding sees
        only itself. Else (rows, past + width), one segment a row: the model makes it
        causal."""
        rows, width = call.ids.shape
        past = np.arange(call.past) < call.pasts[:, None]
        if call.tree is None:
            mask = np.zeros((rows, call.past + width), dtype=bool)
            mask[:, : call.past] = past
            mask[:, call.past:] = np.arange(width) < call.widths[:, None]
            return torch.from_numpy(mask)
        mask = np.empty((rows, 1, width, call.past + width), dtype=bool)
        real = np.arange(width)[None, :, None] < call.widths[:, None, None]
        mask[:, 0, :, : call.past] = real & past[:, None, :]
        mask[:, 0, :, call.past:] = np.unpackbits(call.tree, axis=-1, count=width)
        return torch.from_numpy(mask)

    def _past(self, call: Call, store: dict[int, tuple[torch.Tensor, torch.Tensor]]):
        """A DynamicCache holding each row's anchor's and ancestors' keys and values,
        right-padded.

        The distinct segments are concatenated once and each row's positions gathered
        from them by index (two copies per call, not one per row and ancestor: on a GPU
        every small copy is a kernel launch)."""
        from transformers import DynamicCache

        if call.index is None:
            return DynamicCache()
        rows = call.ids.shape[0]
        out = []
        for k in (0, 1):
            pieces = [store[c][k][:, r, :, column: column + length]
                      for c, r, column, length in call.sources]
            layers, heads, _, dim = pieces[0].shape
            flat = torch.cat([*pieces, pieces[0].new_zeros((layers, heads, 1, dim))], dim=2)
            where = call.index.to(flat.device)
            gathered = flat.index_select(2, where).view(layers, heads, rows, call.past, dim)
            out.append(gathered.transpose(1, 2))  # (layers, rows, heads, past, dim)
        return DynamicCache(ddp_cache_data=[(out[0][i], out[1][i]) for i in range(len(out[0]))])

    def _logits(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The LM head's logits of a block of states (at least float32), and a scratch
        block of their shape. A float32 or float64 linear head writes into two buffers
        kept across blocks: a fresh block of a small model's logits is megabytes, whose
        allocation (pages faulted in again each time) cost as much as the log-sum-exp.
        The same kernels as `self.head(states)`, so the same numbers."""
        head = self.head
        plain = (type(head) is torch.nn.Linear and not head._forward_hooks
                 and not head._forward_pre_hooks)  # nothing but F.linear runs
        if not (plain and head.weight.dtype in (torch.float32, torch.float64)):
            logits = head(states) if head else states
            return logits.to(torch.promote_types(logits.dtype, torch.float32)), None
        shape = (states.shape[0], head.out_features)
        if self._buffers is None or self._buffers[0].shape[0] < shape[0] or \
                self._buffers[0].dtype != head.weight.dtype:
            self._buffers = tuple(head.weight.new_empty((self.head_rows, shape[1]))
                                  for _ in range(2))
        out, scratch = (b[: shape[0]] for b in self._buffers)
        if head.bias is None:  # what F.linear runs for a 2-D input
            torch.mm(states, head.weight.t(), out=out)
        else:
            torch.addmm(head.bias, states, head.weight.t(), out=out)
        return out, scratch

    def _head(self, head: Head, flat: torch.Tensor, results: dict[str, torch.Tensor],
              slots: int) -> None:
        """The LM head and log-softmax over the queued states, HEAD_ROWS at a time, each
        target's values written to its slot.

        States are queued across forward calls because the head is the largest matrix
        (vocabulary x hidden) and a call of a few hundred rows reads all of it for little
        work; on SmolLM2 the head took a quarter of blimp's scoring time in calls of ~120
        rows. A boundary mass is a log-sum-exp over the boundary ids of the same logits,
        taken only at the targets that want one (the boundary ids are most of the vocabulary)."""
        block, device = self.head_rows, flat.device
        cuts = np.searchsorted(head.rows, np.arange(0, flat.shape[0] + block, block)).tolist()
        rows = torch.from_numpy(head.rows % block).to(device)  # within their block
        tokens = head.tokens.to(device)
        massed = torch.from_numpy(head.massed).to(device)
        mass_cuts = np.searchsorted(head.massed, cuts).tolist()
        boundary = None if self.boundary_ids is None else self.boundary_ids.to(device)
        at: torch.Tensor | None = None  # each target's place in its block's flat logits
        values: dict[str, list[torch.Tensor]] = defaultdict(list)
        for b, lo in enumerate(range(0, flat.shape[0], block)):
            logits, scratch = self._logits(flat[lo: lo + block])
            if at is None:
                at = rows * logits.shape[-1] + tokens
            r, t, flat_at = rows[cuts[b]: cuts[b + 1]], tokens[cuts[b]: cuts[b + 1]], \
                at[cuts[b]: cuts[b + 1]]
            top, total = logsumexp_top(logits, scratch)
            target = logits.reshape(-1).index_select(0, flat_at)
            values["logprob"].append(target - total.index_select(0, r))
            values["greedy"].append(is_argmax(logits, r, t, target, top))
            if boundary is not None and mass_cuts[b] < mass_cuts[b + 1]:
                wanted = rows.index_select(0, massed[mass_cuts[b]: mass_cuts[b + 1]])
                values["mass"].append(logsumexp(
                    logits.index_select(0, wanted).index_select(-1, boundary)) - total[wanted])
            if self.entropy:
                values["entropy"].append(distribution_entropy(logits, total)[r])
        where = head.slots.to(device)
        for name, parts in values.items():
            if name not in results:
                results[name] = (torch.zeros(slots, dtype=torch.bool, device=device)
                                 if name == "greedy" else
                                 parts[0].new_full((slots,), 0.0 if name == "logprob"
                                                   else math.nan))
            at_slots = where if name != "mass" else where[massed]
            results[name][at_slots] = torch.cat(parts)


def logsumexp_top(logits: torch.Tensor, scratch: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's maximum, and its log-sum-exp (in `scratch`, a tensor of the logits'
    shape, if given): top + log(sum(2 ** ((logits - top) / ln 2))).

    Powers of two because torch's float exp2 is vectorised twice as fast as its exp on x86
    (a 49,152-word row: shifted exponentials and sum 25 -> 12.5 us on two threads; where
    a wide-spread row underflows, exp leaves its vector path: 12x slower): on a small
    model this is most of the head. The shift is subtracted first, so the largest
    terms, which make the sum, are as exact as in torch's logsumexp: on SmolLM2's rows
    97% of the totals are torch's very floats and the others one rounding away, with the
    same error against float64 (docs/zero_shot.md). Not `logits.max(-1)`: torch's
    maximum with its index is a scalar loop, as long as the exponentials (see is_argmax)."""
    top = logits.amax(-1)
    shift = top.masked_fill(top.abs() == math.inf, 0).unsqueeze(-1)
    shifted = logits - shift if scratch is None else torch.sub(logits, shift, out=scratch)
    return top, shifted.mul_(LOG2E).exp2_().sum(-1).log_().add_(shift.squeeze(-1))


def logsumexp(logits: torch.Tensor) -> torch.Tensor:
    """`logits.logsumexp(-1)` as every engine computes it (see logsumexp_top)."""
    return logsumexp_top(logits)[1]


def is_argmax(logits: torch.Tensor, rows: torch.Tensor, tokens: torch.Tensor,
              targets: torch.Tensor | None = None, top: torch.Tensor | None = None
              ) -> torch.Tensor:
    """`logits[rows].argmax(-1) == tokens` (ties go to the first index), from the rows'
    maxima (`top`, if already taken) and the targets' logits (`targets`, if gathered)."""
    top = (logits.amax(-1) if top is None else top).index_select(0, rows)
    hit = (logits[rows, tokens] if targets is None else targets) == top
    if hit.any():  # a hit: is an earlier word as large (a tie the first index wins)?
        tied = hit.nonzero().squeeze(-1)
        equal = logits[rows[tied]] == top[tied].unsqueeze(-1)
        several = (equal.sum(-1) > 1).nonzero().squeeze(-1)
        if len(several):
            first = equal[several].to(torch.uint8).argmax(-1)
            hit[tied[several]] = first == tokens[tied[several]]
    return hit


def distribution_entropy(logits: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
    """The entropy (nats) of each row's softmax, given the rows' log-sum-exp `total`."""
    logprobs = logits - total.unsqueeze(-1)
    return -(logprobs.exp() * logprobs).sum(-1)


def _positions(encoded) -> list[int]:
    """The positions of a request's boundary terms (see TrieScorer.score)."""
    return [p for p, _ in getattr(encoded, "boundary", ())]


def _chain(anchor: Node):
    """`anchor` and its ancestors (the root has no tokens): a row's past."""
    a = anchor
    while a.parent is not None:
        yield a
        a = a.parent

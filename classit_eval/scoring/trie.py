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

log = logging.getLogger(__name__)
Tokens = tuple[int, ...]
HEAD_ROWS = 1024  # hidden states per LM-head call: bounds the logits' memory
ROW_TOKENS = 16  # a call holds at most batch_size * ROW_TOKENS positions (or one row)
PACK = 128  # a row packs the segments of subtrees up to this many positions
SIMILAR, SLACK = 0.9, 4  # a call's rows: >= 0.9 of its first's width, or <= 4 narrower


@dataclass
class Stats:
    """What a run computed: token positions (padding excluded), padded positions, calls."""

    positions: int = 0
    padded: int = 0
    calls: int = 0
    trie_bound: int = 0  # the trie's nodes: distinct non-empty prefixes of the sequences

    def add(self, other: Stats) -> None:
        self.positions += other.positions
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
    logprobs: dict[int, tuple[float, bool]] = field(default_factory=dict)  # offset -> (lp, argmax)
    # offsets o (0 .. len(tokens)) whose next-token distribution's mass on the boundary set
    # is wanted: log P(token o is in the set | the tokens before it), see `boundary` below
    massed: set[int] = field(default_factory=set)
    masses: dict[int, float] = field(default_factory=dict)
    entropies: dict[int, float] = field(default_factory=dict)  # of scored offsets, on request
    kv: tuple[torch.Tensor, torch.Tensor] | None = None  # (layers, heads, len, dim) each
    size: int = 0  # positions computed in its subtree, its own included
    deferred: list[Node] = field(default_factory=list)  # children left to a later row
    pending: int = 0  # deferred nodes below it not computed yet: they need its keys and values
    column: int = 0  # where its first token sits in the row it is computed in

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


def trie_size(sorted_sequences: Sequence[Tokens]) -> int:
    """The number of trie nodes (distinct non-empty prefixes) of sorted distinct sequences."""
    size, prev = 0, Tokens()
    for seq in sorted_sequences:
        size += len(seq) - common_prefix(prev, seq)
        prev = seq
    return size


def build_tree(sorted_sequences: Sequence[Tokens]) -> tuple[Node, dict[Tokens, Node]]:
    """The radix tree of sorted distinct sequences, and the node each sequence ends at.

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
    for seq in sorted_sequences:
        shared = common_prefix(prev, seq)
        if prev and shared == len(prev):  # `prev` is a prefix of `seq`, its node a leaf
            path[-1].tokens += seq[shared:]
            ends[seq] = path[-1]
            prev = seq
            continue
        while len(path) > 1 and path[-1].start >= shared:
            path.pop()
        node = path[-1]
        if node.end > shared:  # the cut is inside `node`: its upper part becomes a new node
            upper = Node(node.tokens[: shared - node.start], node.start, node.parent, [node])
            node.parent.children[node.parent.children.index(node)] = upper
            node.tokens, node.start, node.parent = node.tokens[shared - node.start:], shared, upper
            path[-1] = node = upper
        leaf = Node(seq[shared:], shared, node)
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
            node = node.parent
        yield node, p - node.start


def windows(sorted_sequences: Sequence[Tokens], cache_tokens: int) -> list[list[Tokens]]:
    """Consecutive runs of sorted sequences whose tries have at most `cache_tokens` nodes
    (a single longer sequence is a window of its own)."""
    out: list[list[Tokens]] = []
    size, prev = 0, Tokens()
    for seq in sorted_sequences:
        new = len(seq) - common_prefix(prev, seq)
        if out and size + new <= cache_tokens:
            out[-1].append(seq)
            size += new
        else:
            out.append([seq])
            size = len(seq)
        prev = seq
    return out


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
            node.deferred.append(child)
            for a in _chain(node):  # `node` and its ancestors keep their keys and values
                a.pending += 1


def _release(anchor: Node) -> None:
    """A deferred child of `anchor` is computed: its ancestors may free their keys and values."""
    for a in _chain(anchor):
        a.pending -= 1
        if not a.pending:
            a.kv = None


def schedule(root: Node, batch_size: int, budget: int = PACK) -> Iterator[list[Row]]:
    """The tree in calls of rows, a wave at a time: a wave's rows hang from nodes computed
    in the wave before (the first from the root), sorted by width so that a call pads
    little. Keys and values are kept only while a deferred node below them waits."""
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
                for node in row.nodes:
                    if node.parent is row.anchor:
                        _release(row.anchor)


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
    stats = Stats(trie_bound=trie_size(sequences))
    for part in windows(sequences, cache_tokens):
        root, _ = build_tree(part)
        for batch in schedule(root, batch_size, budget):
            widths = [row.width for row in batch]
            stats.positions += sum(widths)
            stats.padded += len(batch) * max(widths)
            stats.calls += 1
    return stats


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
        self.entropy = False  # also the entropy of the distribution before each span
        self.base, self.head = split_head(model)
        self.cache_argument = cache_argument(self.base)
        self.budget = PACK if tree_masks_work(self.base, self.cache_argument) else 0
        if not self.budget:
            log.info("%s ignores 4-D attention masks: one trie segment a row (more calls).",
                     type(model).__name__)

    def score(self, encoded: Sequence) -> tuple[list[tuple[float, bool]], Stats]:
        """(sum of span log-probabilities, every span token the argmax) per encoded request,
        plus its `boundary` terms: (position, sign) pairs adding sign x log P(the token at
        that position, which may be one past the end, is in `boundary_ids`). With
        `self.entropy`, a third value: the entropy (nats) of the next-token distribution
        that predicts the span's first token."""
        requests: dict[Tokens, list[int]] = defaultdict(list)
        for i, e in enumerate(encoded):
            requests[e.tokens].append(i)
        sequences = sorted(requests)
        stats = Stats(trie_bound=trie_size(sequences))
        out: list[tuple[float, bool]] = [(0.0, True)] * len(encoded)
        with tqdm(total=stats.trie_bound, desc=self.desc, disable=not self.progress) as bar:
            for part in windows(sequences, self.cache_tokens):
                root, ends = build_tree(part)
                for seq in part:
                    for i in requests[seq]:
                        for node, offset in _walk(ends[seq], encoded[i].span):
                            node.scored.add(offset)
                        for node, offset in _walk(ends[seq], _positions(encoded[i])):
                            node.massed.add(offset)
                self._compute(root, stats)
                for seq in part:
                    for i in requests[seq]:
                        got = [node.logprobs[o] for node, o in _walk(ends[seq], encoded[i].span)]
                        terms = [lp for lp, _ in got]
                        boundary = getattr(encoded[i], "boundary", ())
                        if boundary:
                            masses = [node.masses[o] for node, o in
                                      _walk(ends[seq], _positions(encoded[i]))]
                            # _walk yields the last position first
                            terms += [sign * m for (_, sign), m in
                                      zip(sorted(boundary, reverse=True), masses, strict=True)]
                        out[i] = (math.fsum(terms), all(g for _, g in got))
                        if self.entropy:
                            node, o = list(_walk(ends[seq], encoded[i].span))[-1]
                            out[i] = (*out[i], node.entropies[o])
                bar.update(trie_size(part))
        return out, stats

    def _compute(self, root: Node, stats: Stats) -> None:
        self._states: list[torch.Tensor] = []  # queued hidden states, for the LM head
        self._targets: list[tuple[int, Node, int]] = []  # (queued row, node, offset)
        self._queued = 0
        for batch in schedule(root, self.batch_size, self.budget):
            self._forward(batch, stats)
        self._flush()

    @torch.no_grad()
    def _forward(self, batch: list[Row], stats: Stats) -> None:
        """One forward call over `batch`, each row after its anchor's keys and values."""
        width, past = max(row.width for row in batch), max(row.anchor.end for row in batch)
        ids = np.full((len(batch), width), self.pad_token_id, dtype=np.int64)
        positions = np.zeros((len(batch), width), dtype=np.int64)
        for r, row in enumerate(batch):
            column = 0
            for node in row.nodes:
                node.column, length = column, node.computed_length
                ids[r, column: column + length] = node.tokens[:length]
                positions[r, column: column + length] = np.arange(node.start,
                                                                  node.start + length)
                column += length
        mask = self._tree_mask(batch, width, past) if self.budget else \
            self._padding_mask(batch, width, past)
        cache = self._past(batch, past)
        device = self.model.device
        with grouped_heads_in_sdpa():
            out = self.base(input_ids=torch.from_numpy(ids).to(device),
                            attention_mask=torch.from_numpy(mask).to(device),
                            position_ids=torch.from_numpy(positions).to(device),
                            use_cache=True, **{self.cache_argument: cache})
        stats.positions += sum(row.width for row in batch)
        stats.padded += len(batch) * width
        stats.calls += 1
        kept = [(r, node) for r, row in enumerate(batch) for node in row.nodes if node.pending]
        if kept:
            # the call's new keys and values, one copy (layers, rows, heads, width, dim); a
            # node that a deferred node hangs below keeps a view of its columns
            keys = torch.stack([layer.keys[:, :, past:] for layer in cache.layers])
            values = torch.stack([layer.values[:, :, past:] for layer in cache.layers])
            for r, node in kept:
                cols = slice(node.column, node.column + len(node.tokens))
                node.kv = (keys[:, r, :, cols], values[:, r, :, cols])
        self._logprobs(batch, out.last_hidden_state if self.head else out.logits)

    @staticmethod
    def _tree_mask(batch: list[Row], width: int, past: int) -> np.ndarray:
        """(rows, 1, width, past + width): each token sees its row's past, its ancestors in
        the row, whole, and its own segment up to itself; padding sees only itself."""
        mask = np.zeros((len(batch), 1, width, past + width), dtype=bool)
        causal = np.tri(width, dtype=bool)
        for r, row in enumerate(batch):
            for node in row.nodes:
                column, length = node.column, node.computed_length
                query = mask[r, 0, column: column + length]
                query[:, : row.anchor.end] = True  # the past
                query[:, past + column: past + column + length] = causal[:length, :length]
                a = node.parent
                while a is not row.anchor:
                    query[:, past + a.column: past + a.column + len(a.tokens)] = True
                    a = a.parent
            for q in range(row.width, width):  # never read
                mask[r, 0, q, past + q] = True
        return mask

    @staticmethod
    def _padding_mask(batch: list[Row], width: int, past: int) -> np.ndarray:
        """(rows, past + width), one segment a row: the model makes it causal."""
        mask = np.zeros((len(batch), past + width), dtype=bool)
        for r, row in enumerate(batch):
            mask[r, : row.anchor.end] = True
            mask[r, past: past + row.width] = True
        return mask

    def _past(self, batch: list[Row], past: int):
        """A DynamicCache holding each row's anchor's and ancestors' keys and values,
        right-padded.

        The distinct segments are concatenated once and each row's positions gathered
        from them by index (two copies per call, not one per row and ancestor: on a GPU
        every small copy is a kernel launch)."""
        from transformers import DynamicCache

        if past == 0:
            return DynamicCache()
        segments: dict[int, tuple[Node, int]] = {}  # id -> (ancestor, offset in the concat)
        total = 0
        rows = []
        for row in batch:
            spans = []
            for a in _chain(row.anchor):  # they hold positions a.start .. a.end - 1
                if id(a) not in segments:
                    segments[id(a)] = (a, total)
                    total += len(a.tokens)
                spans.append((a.start, a.end, segments[id(a)][1]))
            rows.append(spans)
        index = np.full((len(batch), past), total, dtype=np.int64)  # `total`: a zero column
        for r, spans in enumerate(rows):
            for start, end, offset in spans:
                index[r, start:end] = np.arange(offset, offset + end - start)
        parts = [a.kv for a, _ in segments.values()]
        layers, heads, _, dim = parts[0][0].shape
        where = torch.from_numpy(index.reshape(-1)).to(parts[0][0].device)
        out = []
        for k in (0, 1):
            pieces = [p[k] for p in parts]
            flat = torch.cat([*pieces, pieces[0].new_zeros((layers, heads, 1, dim))], dim=2)
            gathered = flat.index_select(2, where).view(layers, heads, len(batch), past, dim)
            out.append(gathered.transpose(1, 2))  # (layers, rows, heads, past, dim)
        return DynamicCache(ddp_cache_data=[(out[0][i], out[1][i]) for i in range(layers)])

    def _logprobs(self, batch: list[Row], states: torch.Tensor) -> None:
        """Queue the states that predict a scored token (or whose distribution's boundary
        mass is wanted), for the LM head (`_flush`)."""
        width = states.shape[1]
        where: list[int] = []  # flat (row, column) indices of the states to read
        for r, row in enumerate(batch):
            for node in row.nodes:
                base = r * width + node.column
                # the state at offset j predicts the token at j + 1, or a child's first token
                wanted = {o for o in node.scored | node.massed if 0 < o <= node.computed_length}
                for j in sorted(o - 1 for o in wanted):
                    where.append(base + j)
                    self._targets.append((self._queued + len(where) - 1, node, j + 1))
                children = [(child, 0) for child in node.children
                            if 0 in child.scored or 0 in child.massed]
                if children:  # only a node with children computes its last token
                    where.append(base + len(node.tokens) - 1)
                    index = self._queued + len(where) - 1
                    self._targets += [(index, n, offset) for n, offset in children]
        if where:
            flat = states.reshape(-1, states.shape[-1])
            self._states.append(flat[torch.tensor(where, device=flat.device)])
            self._queued += len(where)
        if self._queued >= HEAD_ROWS:
            self._flush()

    def _flush(self) -> None:
        """The LM head and log-softmax over the queued states, HEAD_ROWS at a time.

        States are queued across forward calls because the head is the largest matrix
        (vocabulary x hidden) and a call of a few hundred rows reads all of it for little
        work; on SmolLM2 the head took a quarter of blimp's scoring time in calls of ~120
        rows. A boundary mass is a log-sum-exp over the boundary ids of the same logits."""
        if not self._targets:
            return
        flat = torch.cat(self._states)
        targets, self._states, self._targets, self._queued = self._targets, [], [], 0
        # a target past a leaf's last token (only a boundary mass) reads token 0 for nothing
        token = torch.tensor([n.tokens[o] if o < len(n.tokens) else 0 for _, n, o in targets],
                             device=flat.device)
        row = torch.tensor([i for i, _, _ in targets], device=flat.device)
        logprob, greedy, mass, entropy = [], [], [], []
        for lo in range(0, flat.shape[0], HEAD_ROWS):
            chunk = flat[lo: lo + HEAD_ROWS]
            logits = self.head(chunk) if self.head else chunk
            logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
            pick = (row >= lo) & (row < lo + HEAD_ROWS)
            r, t = row[pick] - lo, token[pick]
            total = logits.logsumexp(-1)
            logprob.append(logits[r, t] - total[r])
            greedy.append(logits.argmax(-1)[r] == t)
            if self.boundary_ids is not None:
                ids = self.boundary_ids.to(logits.device)
                mass.append((logits.index_select(-1, ids).logsumexp(-1) - total)[r])
            if self.entropy:
                entropy.append(distribution_entropy(logits, total)[r])
        values, hits = torch.cat(logprob).tolist(), torch.cat(greedy).tolist()
        masses = torch.cat(mass).tolist() if mass else [math.nan] * len(values)
        entropies = torch.cat(entropy).tolist() if entropy else [math.nan] * len(values)
        for (_, node, offset), value, hit, m, h in zip(targets, values, hits, masses, entropies,
                                                       strict=True):
            if offset in node.scored:
                node.logprobs[offset] = (value, hit)
                node.entropies[offset] = h
            if offset in node.massed:
                node.masses[offset] = m


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

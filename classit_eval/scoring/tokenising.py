"""Running text as tokens, fast and exactly: each distinct request tokenised once, and a
text cut at spaces into pieces (about a word each) whose tokens are looked up, each
distinct piece tokenised once.

Tokenising costs per character, and the full `classit_zero_shot` has 12M tokens in its
377k requests: the entity tracking task's long prefixes (28M characters) come with five
options each and share their sentences, BLiMP's 130k sentences share their words. With
GPT-2's byte-level BPE pipeline (`splits_at_spaces`, SmolLM2's and most causal BabyLM
models') a text's tokens are the concatenation of its pieces' tokens when every cut is a
*safe cut*: a space after a letter, a digit or an ASCII punctuation mark (`SAFE_BEFORE`).
Its pre-tokenizer's regex (`'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+|
 ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`) ends a pre-token at such a space without looking
past it and starts the next one there afresh; every later stage (bytes to characters, BPE,
trimming offsets) works within a pre-token, and no added token holds or strips a space.
Any other tokenizer has each distinct text tokenised whole.
"""

from __future__ import annotations

import gc
import re
import string
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain

from classit_eval.scoring.encodings import Encoded

Pairs = Sequence[tuple[str, str]]
Piece = tuple[tuple[int, ...], tuple[int, ...]]  # (ids, end offsets) of a piece of text
# post-processors that, without special tokens, change nothing but trim offsets per token
LOCAL_PROCESSORS = ("TemplateProcessing", "ByteLevel", "RobertaProcessing", "BertProcessing")
SAFE_BEFORE = frozenset(string.punctuation)  # or a letter or digit (str.isalnum)
# a space after anything else (tests/test_tokenising.py checks the class against SAFE_BEFORE)
UNSAFE_SPACE = re.compile(r"[^\w!-/:-@\[-`{-~] ")


@contextmanager
def paused_gc() -> Iterator[None]:
    """Python's cyclic garbage collector off for a while: tokenising and compiling a
    schedule make millions of small objects, and the collections their allocations set
    off (each walking every object alive) took 2 of 5 s of tokenising the full suite and
    half of compiling the fast suite's schedule. What they leave in cycles (the trie's
    nodes) goes at the next collection."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def splits_at_spaces(tokenizer) -> bool:
    """Whether texts may be cut at safe cuts (see the module doc): no normalizer, GPT-2's
    byte-level pre-tokenizer with its regex and no prefix space, no truncation or padding,
    no BPE dropout, and no added token that holds or strips whitespace."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or backend.normalizer is not None:
        return False
    pre = backend.pre_tokenizer
    processor = backend.post_processor
    if (type(pre).__name__ != "ByteLevel" or not pre.use_regex or pre.add_prefix_space
            or backend.truncation is not None or backend.padding is not None
            or getattr(backend.model, "dropout", None)
            or (processor is not None and type(processor).__name__ not in LOCAL_PROCESSORS)):
        return False
    return not any(t.lstrip or t.rstrip or t.single_word or any(c.isspace() for c in t.content)
                   for t in backend.get_added_tokens_decoder().values())


def safe(before: str) -> bool:
    """Whether a space after the text `before` is a safe cut."""
    return bool(before) and (before[-1].isalnum() or before[-1] in SAFE_BEFORE)


def pieces(text: str) -> list[str]:
    """`text` cut at every safe cut: its first piece, then each later piece without the
    space that starts it (not written out: 3.4M strings over the full suite)."""
    words = text.split(" ")
    if UNSAFE_SPACE.search(text) is None:  # every space a cut (one at 0 cuts off "")
        return words
    out = [words[0]]
    for word in words[1:]:
        if safe(out[-1]):  # a later piece's own last character, or its space if empty
            out.append(word)
        else:
            out[-1] += " " + word
    return out


def last_cut(context: str) -> int:
    """The position of the last safe cut inside `context` (0 if none): the tokens of
    `context[:p]` are those of `context + anything` before position p."""
    p = context.rfind(" ")
    while p > 0 and not safe(context[p - 1:p]):
        p = context.rfind(" ", 0, p)
    return max(p, 0)


def encode_batch(tokenizer, texts: list[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
    """(ids, character offsets) of running texts, without special tokens: the Rust
    tokenizer itself (half the time of the transformers wrapper) when there is one."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        batch = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        return list(zip(batch["input_ids"], batch["offset_mapping"], strict=True))
    return [(e.ids, e.offsets) for e in backend.encode_batch(texts, add_special_tokens=False)]


def running(tokenizer, prefix_token_id: int, pairs: Pairs, chunk: int = 4096
            ) -> list[Encoded]:
    """`scoring=full`'s encodings of distinct (context, continuation) pairs: the prefix
    token, the tokens of context + continuation, the continuation's positions (every
    token that ends after the context)."""
    split: Callable[[str], list[str]] = pieces if splits_at_spaces(tokenizer) else (
        lambda text: [text])
    cuts = {context: last_cut(context) if split is pieces else 0 for context, _ in pairs}
    heads = {context: split(context[:p]) for context, p in cuts.items() if p}
    tails = [split(context[cuts[context]:] + continuation) for context, continuation in pairs]
    parts = [*heads.values(), *tails]
    first = tokenised(tokenizer, [t[0] for t in parts], chunk)
    later = tokenised(tokenizer, chain.from_iterable(t[1:] for t in parts), chunk, " ")
    later_ids = {word: ids for word, (ids, _) in later.items()}.__getitem__
    head_ids = {context: (*first[t[0]][0], *chain.from_iterable(map(later_ids, t[1:])))
                for context, t in heads.items()}
    out = []
    for (context, _), tail in zip(pairs, tails, strict=True):
        boundary = len(context) - cuts[context]  # the continuation's start in the tail
        ids: list[int] = [prefix_token_id, *head_ids.get(context, ())]
        piece, ends = first[tail[0]]  # token j of a piece sits at position len(ids) + j
        span = [len(ids) + j for j, end in enumerate(ends) if end > boundary]
        ids += piece
        at, k = len(tail[0]), 1  # characters of the tail before piece k
        while k < len(tail) and at <= boundary:
            piece, ends = later[tail[k]]
            span += [len(ids) + j for j, end in enumerate(ends) if at + end > boundary]
            ids += piece
            at += 1 + len(tail[k])
            k += 1
        start = len(ids)  # every token of a piece after the boundary ends after it
        ids += chain.from_iterable(map(later_ids, tail[k:]))
        span += range(start, len(ids))
        out.append(Encoded(tuple(ids), tuple(span)))
    return out


def tokenised(tokenizer, texts: Iterable[str], chunk: int, before: str = ""
              ) -> dict[str, Piece]:
    """{text: (ids, end offsets) of `before + text`} of each distinct text, `chunk` texts a
    tokenizer call."""
    distinct = list(dict.fromkeys(texts))
    out: dict[str, Piece] = {}
    for lo in range(0, len(distinct), chunk):
        part = distinct[lo: lo + chunk]
        encoded = encode_batch(tokenizer, [before + text for text in part])
        for text, (ids, offsets) in zip(part, encoded, strict=True):
            out[text] = (tuple(ids), tuple(end for _, end in offsets))
    return out

"""A word's probability from its subword tokens, corrected for where the word ends.

With a tokenizer that marks the *beginning* of a word (a leading `Ġ`, `▁` or space, as
GPT-2, LLaMA, SmolLM2 and most BabyLM tokenizers), a word's tokens do not say that the
word is over: `Ġcup` is also the start of `Ġcupboard`. The word's probability after a
context c is (Pimentel & Meister, EMNLP 2024; Oh & Schuler, 2024)

    log p(w | c) = log p(tokens of w | c) + log P(B | c, w) - log P(B | c)

where B is the set of tokens that start a new word or end the text (`boundary_ids`):
the next token after the word must start a new word, and the word's own first token
(which starts a word) is conditioned on a word starting. At the start of a text no word
can be open, so the last term is dropped there. A tokenizer that marks the *end* of a
word (`</w>`) needs no correction: a word's last token says that it is over (`scheme`).

Both extra terms are log-sum-exps over B of next-token distributions at positions the
engine computes anyway (the one predicting the word's first token, and the one after its
last token), so the correction costs no forward pass: see `Encoded.boundary` in
classit_eval.scoring and the trie engine.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence

from classit_eval.scoring.encodings import Encoded

log = logging.getLogger(__name__)
WORD_PROBS = ("corrected", "raw")
BOW_MARKERS = ("Ġ", "▁", " ")  # byte-level BPE, SentencePiece, plain
EOW_MARKERS = ("</w>",)


def _vocab_strings(tokenizer) -> dict[int, str]:
    return {i: t for t, i in tokenizer.get_vocab().items()}


_SCHEMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def scheme(tokenizer) -> str:
    """`bow` (tokens mark a word's beginning), `eow` (they mark its end) or `none`;
    computed once per tokenizer object."""
    if tokenizer not in _SCHEMES:
        _SCHEMES[tokenizer] = _scheme(tokenizer)
    return _SCHEMES[tokenizer]


def _scheme(tokenizer) -> str:
    special = set(tokenizer.all_special_tokens)
    strings = [t for t in _vocab_strings(tokenizer).values() if t not in special]
    if any(t.startswith(BOW_MARKERS) for t in strings):
        return "bow"
    suffix = getattr(getattr(getattr(tokenizer, "backend_tokenizer", None), "model", None),
                     "end_of_word_suffix", None)
    if suffix or any(t.endswith(EOW_MARKERS) for t in strings):
        return "eow"
    return "none"


def boundary_ids(tokenizer, eos: bool = False) -> tuple[int, ...]:
    """The ids of the tokens that start a new word (their string begins with a word-start
    marker, or an added token that strips the space before it); with `eos`, EOS too (the
    text ends after the word).

    Without EOS by default, as minicons' `bow_correction`: a stimulus sentence is read as
    part of running text, and a model's EOS is the end of a document (for an instruct model,
    of a chat turn: SmolLM2-135M-Instruct gives it up to 0.2 nats of a sentence-final word's
    log-probability), not the end of a word. `classit-eval surprisal --text-ends-word`
    adds it for texts that really end after their last word."""
    ids = {i for i, t in _vocab_strings(tokenizer).items()
           if t.startswith(BOW_MARKERS) and t not in tokenizer.all_special_tokens}
    ids |= {i for i, added in getattr(tokenizer, "added_tokens_decoder", {}).items()
            if getattr(added, "lstrip", False)}
    if eos and tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return tuple(sorted(ids))


def corrected(encoded: Encoded, opens: bool) -> Encoded:
    """`encoded` (a word as the span of running text) with the correction's two terms:
    plus the boundary mass after its last token, minus the mass before its first token
    unless the word `opens` the text (no word can be open before it)."""
    if not encoded.span:
        return encoded
    start, end = encoded.span[0], encoded.span[-1] + 1
    terms = ((end, 1),) if opens else ((start, -1), (end, 1))
    return Encoded(encoded.tokens, encoded.span, terms)


def corrects(tokenizer, word_prob: str) -> bool:
    """Whether `word_prob` asks for terms to add for this tokenizer: `corrected` with a
    word-beginning tokenizer. A word-end tokenizer's raw probability is already the
    word's; a tokenizer with neither marker cannot be corrected (logged once)."""
    if word_prob not in WORD_PROBS:
        raise ValueError(f"word_prob={word_prob!r}: choose {' or '.join(WORD_PROBS)}.")
    if word_prob == "raw":
        return False
    kind = scheme(tokenizer)
    if kind == "none":
        log.warning("word_prob=corrected: the tokenizer marks neither the beginning nor the "
                    "end of a word, so the word probabilities are its raw token sums.")
    return kind == "bow"


def word_requests(scorer, requests: Sequence[tuple[str, str]], word_prob: str
                  ) -> list[Encoded]:
    """The scorer's encodings of (context, word) requests, a word being the continuation
    of running text (`" word"` after a context), corrected as `word_prob` asks."""
    encoded = scorer.encode_many(requests)
    if not corrects(scorer.tokenizer, word_prob):
        return encoded
    return [corrected(e, opens=not context) for (context, _), e in
            zip(requests, encoded, strict=True)]

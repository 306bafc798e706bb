"""Requests as tokens: how a (context, continuation) request, or a word inside a text, becomes
the token sequences and scored spans the scorers compute.

An `Encoded` is one piece: `tokens`, the positions `span` scored in them, and optional word
boundary terms (classit_eval.scoring.wordprob). A task may ask for another encoding of its
requests by name: `ENCODINGS` maps a name to a function `(tokenizer, context, continuation)
-> list[Encoded]`, whose pieces' scores are summed. A document names it in its field
`classit_eval.names.ENCODING_FIELD`; this is how the reading task gets the official BabyLM
2025 reader's word surprisal without the backend importing the task.

The official reader is written once, `reader_chain`: the causal scorer turns its steps into
token pieces (`word_steps`), the masked and encoder-decoder scorers into queries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from classit_eval.names import ENCODING_FIELD, SCORING_MODES

MODES = SCORING_MODES  # the engine's modes, named in classit_eval.names


@dataclass(frozen=True)
class Encoded:
    """A request as tokens: positions `span` of `tokens` are scored (never position 0).

    `boundary` adds, for each (position, sign), sign x log P(the token at that position
    starts a word or ends the text | the tokens before it); the position may be
    `len(tokens)`, the distribution after the last token. This is how a word's corrected
    probability is scored (classit_eval.scoring.wordprob), at no extra forward pass."""

    tokens: tuple[int, ...]
    span: tuple[int, ...]
    boundary: tuple[tuple[int, int], ...] = ()


def step_encoding(context: Sequence[int], continuation: Sequence[int]) -> Encoded:
    """A request given as token ids: `continuation` scored after a non-empty `context`."""
    if not context:
        raise ValueError("A scoring step needs at least one context token (e.g. BOS).")
    tokens = (*context, *continuation)
    return Encoded(tuple(tokens), tuple(range(len(context), len(tokens))))


# -- word surprisal in steps (the reading task) ---------------------------------------------
CONVENTIONS = ("running", "babylm2025")
Step = tuple[tuple[int, ...], tuple[int, ...]]  # (context ids, continuation ids)


def _ids(tokenizer, text: str, special: bool = True) -> tuple[int, ...]:
    return tuple(tokenizer(text, add_special_tokens=special)["input_ids"])


def _context(tokenizer, text: str, word: str) -> tuple[int, ...]:
    """The ids of a context; an empty one is the BOS token, which must exist."""
    ids = _ids(tokenizer, text) if text else ()
    if ids:
        return ids
    if tokenizer.bos_token_id is None:
        raise ValueError(
            f"Cannot score {word!r}: its context is empty and the tokenizer has no BOS "
            "token to condition on. Give the tokenizer a bos_token (e.g. "
            "`tokenizer.bos_token = tokenizer.eos_token`) or drop the row."
        )
    return (tokenizer.bos_token_id,)


def word_steps(tokenizer, context: str, word: str, convention: str = "running") -> list[Step]:
    """The scoring steps of `word` after `context`: its surprisal is minus their sum.

    * `running`: the word as it appears in running text, with its leading space:
      `enc(context + " " + word)` minus `enc(context)`, one step (what lm-eval's `hf`
      model scores for the request `(context, " " + word)`).
    * `babylm2025`: the official BabyLM 2025 reader (`get_p2`). The word is tokenised
      alone, without a leading space; its first subword is scored after `enc(context)`,
      each later subword after `enc(context + subwords decoded so far)` (the string
      re-tokenised), scoring the first token of the re-encoded subword.
    """
    if convention == "running":
        ctx = _context(tokenizer, context, word)
        whole = _ids(tokenizer, f"{context} {word}" if context else word)
        cont = whole[len(ctx):] if context else _ids(tokenizer, word, special=False)
        if not cont:
            raise ValueError(f"{word!r} after {context!r} encodes to no tokens.")
        return [(ctx, cont)]
    if convention != "babylm2025":
        raise ValueError(f"Unknown surprisal convention {convention!r}; use one of {CONVENTIONS}.")
    return [(_context(tokenizer, text, word), (target,))
            for text, target in reader_chain(tokenizer, context, word)]


def reader_chain(tokenizer, context: str, word: str) -> list[tuple[str, int]]:
    """The official reader's steps for `word` after `context` (`get_p2`): (text, target
    token) pairs. The word is tokenised alone, without a leading space; its first token is
    read after `context`, each later one after the text grown by the decoded tokens so far,
    as the first token of its own decoded string re-tokenised."""
    target = _ids(tokenizer, word, special=False)
    if not target:
        raise ValueError(f"{word!r} encodes to no tokens.")
    steps = [(context, target[0])]
    text = context + tokenizer.decode([target[0]])
    for token in target[1:]:
        piece = tokenizer.decode([token])
        steps.append((text, _ids(tokenizer, piece, special=False)[0]))
        text += piece
    return steps


def babylm2025_reader(tokenizer, context: str, word: str) -> list[Encoded]:
    """The official reader's surprisal of `word` after `context`, as scoring pieces."""
    return [step_encoding(c, x) for c, x in word_steps(tokenizer, context, word, "babylm2025")]


Encoding = Callable[..., list[Encoded]]  # (tokenizer, context, continuation) -> pieces
BABYLM2025_READER = "babylm2025_reader"
ENCODINGS: dict[str, Encoding] = {BABYLM2025_READER: babylm2025_reader}
# A word inside running text, scored after its context while the text goes on after it
# (the reading task's default). A causal model never sees what follows, so for the causal
# scorer it is the plain request (`Scorer.PLAIN_ENCODINGS`); masked models differ.
WORD_IN_TEXT = "word_in_text"
# The same word with its probability corrected for where it ends (classit_eval.lmeval.
# wordprob): the reading task's default in scoring=full. Scorers that cannot correct
# (masked backends) score it as WORD_IN_TEXT.
WORD_IN_TEXT_CORRECTED = "word_in_text_corrected"


def encoding(name: str) -> Encoding:
    """The encoding a document asks for by name; an unknown name is a clear error."""
    if name not in ENCODINGS:
        raise ValueError(
            f"A document asks for the scoring encoding {name!r} (its field "
            f"`{ENCODING_FIELD}`), which classit_eval.scoring does not define; "
            f"known: {', '.join([*ENCODINGS, WORD_IN_TEXT, WORD_IN_TEXT_CORRECTED])}."
        )
    return ENCODINGS[name]

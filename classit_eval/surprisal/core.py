"""Per-word and per-token surprisal of texts, through the scoring engine.

    from classit_eval.surprisal import word_surprisal
    rows = word_surprisal("HuggingFaceTB/SmolLM2-135M", ["The cat sat on the mat."])
    [(r.word, r.surprisal) for r in rows[0]]   # nats; base="bits" for bits

A text is scored as running text after the model's prefix token (BOS, else EOS), as the
`classit` backend's `scoring=full` does. Words are its whitespace-separated strings; a
token belongs to the word its characters end in. A word's surprisal is, by default, its
corrected probability's (`word_prob="corrected"`, classit_eval.scoring.wordprob): its
tokens' surprisal plus the correction for where it ends, which costs no forward pass.

Every word and token of every text is one request of one call to the engine: each text is
a single token sequence, computed once (prefix-shared across texts that start alike), in
batches. An item may hold several lines scored as one running text (`Text.lines`): each
line's words are conditioned on the lines before it, and reported with their line.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from classit_eval.errors import DataError, OptionError
from classit_eval.scoring import (
    WORD_IN_TEXT,
    WORD_PROBS,
    Encoded,
    MaskedScorer,
    Scorer,
    corrected,
    corrects,
)

UNITS = ("word", "token")
BASES = {"nats": 1.0, "bits": math.log(2)}
WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Text:
    """One item: its lines, scored as one running text (joined by a space)."""

    item: str
    lines: tuple[tuple[int, str], ...]  # (line number in the input, text)


@dataclass(frozen=True)
class Row:
    """The surprisal of one word (or token): `position` counts from 1 within its line;
    `tokens` are the tokenizer's strings; `entropy` is that of the distribution before it
    (None unless asked for)."""

    item: str
    line: int
    position: int
    word: str
    tokens: tuple[str, ...]
    surprisal: float
    entropy: float | None = None


@dataclass(frozen=True)
class _Word:
    line: int
    position: int
    text: str
    opens: bool  # the first word of its text: no word before it can be open
    context: str  # the running text before it
    positions: tuple[int, ...]  # its tokens' positions in the sequence (after the prefix)


def _words(scorer: Scorer, text: Text) -> tuple[tuple[int, ...], list[_Word]]:
    """The text's token sequence (prefix token first) and its words with their tokens."""
    full, spans = "", []  # spans: (line, start, end) of each line in `full`
    for line, part in text.lines:
        if full:
            full += " "
        spans.append((line, len(full), len(full) + len(part)))
        full += part
    ids, offsets = scorer.tokenize(full)
    found = list(WORD.finditer(full))
    ends = [m.end() for m in found]
    owned: list[list[int]] = [[] for _ in found]
    for j, (_, end) in enumerate(offsets):
        k = bisect.bisect_left(ends, end)
        if end > 0 and k < len(found):
            owned[k].append(j + 1)  # + 1: after the prefix token
    words: list[_Word] = []
    counts: dict[int, int] = {}
    for k, m in enumerate(found):
        line = next(n for n, lo, hi in spans if lo <= m.start() < hi)
        counts[line] = counts.get(line, 0) + 1
        if not owned[k]:
            raise DataError(
                f"item {text.item}, line {line}: the word {m.group()!r} has no token of its "
                "own (the tokenizer joins it with the next word); put a plain space "
                "between them.")
        words.append(_Word(line, counts[line], m.group(), k == 0, full[: m.start()].rstrip(),
                           tuple(owned[k])))
    # a masked model has no prefix token to give when its tokenizer has no CLS or BOS: it
    # reads no position 0 of this sequence (the causal scorer has one, surprisals checks)
    prefix = scorer.prefix_token_id if scorer.prefix_token_id is not None else \
        scorer.pad_token_id
    return (prefix, *ids), words


def surprisals(scorer: Scorer, texts: Sequence[Text], unit: str = "word",
               word_prob: str = "corrected", base: str = "nats", entropy: bool = False
               ) -> list[list[Row]]:
    """The rows of every text, in order (one call to the engine for all of them)."""
    if unit not in UNITS:
        raise OptionError(f"unit={unit!r}: choose {' or '.join(UNITS)}.")
    if word_prob not in WORD_PROBS:
        raise OptionError(f"word_prob={word_prob!r}: choose {' or '.join(WORD_PROBS)}.")
    if base not in BASES:
        raise OptionError(f"base={base!r}: choose {' or '.join(BASES)}.")
    causal = not isinstance(scorer, MaskedScorer)  # the masked and enc-dec backends
    if isinstance(scorer, MaskedScorer) and (unit == "token" or entropy):
        raise OptionError(f"backend={scorer.backend}: per-token surprisal and entropy are "
                          "given for causal models; ask for words, without entropy.")
    if causal and scorer.prefix_token_id is None:  # scoring=babylm2025, no BOS, EOS or CLS
        raise OptionError("surprisal conditions a text's first word on a BOS, EOS or CLS "
                          "token and the tokenizer has none; pass prefix_token_id=<id> in "
                          "the model arguments.")
    parsed = [_words(scorer, text) for text in texts]
    requests, owners = [], []
    fix = causal and corrects(scorer.tokenizer, word_prob)
    for t, (tokens, words) in enumerate(parsed):
        for w in words:
            if not causal:  # a masked model: the word after its context, masks after it
                requests.append(scorer.encode_named(WORD_IN_TEXT, w.context,
                                                    (" " if w.context else "") + w.text))
                owners.append((t, w, w.positions))
            elif unit == "word":
                enc = Encoded(tokens, w.positions)
                requests.append([corrected(enc, w.opens) if fix else enc])
                owners.append((t, w, w.positions))
            else:
                for p in w.positions:
                    requests.append([Encoded(tokens, (p,))])
                    owners.append((t, w, (p,)))
    flat = [piece for pieces in requests for piece in pieces]
    scores = iter(scorer.score_encoded(flat, entropy=True) if entropy else
                  scorer.score_encoded(flat))
    scale = BASES[base]
    out: list[list[Row]] = [[] for _ in texts]
    first_token: dict[tuple[int, int], int] = {}  # (text, line) -> its first token position
    for pieces, (t, w, positions) in zip(requests, owners, strict=True):
        got = [next(scores) for _ in pieces]
        value = -math.fsum(s[0] for s in got) / scale
        h = got[0][2] / scale if entropy else None  # type: ignore[misc]  # 3rd: entropy
        tokens = parsed[t][0]
        names = tuple(scorer.tokenizer.convert_ids_to_tokens([tokens[p] for p in positions]))
        position = w.position
        if unit == "token":
            start = first_token.setdefault((t, w.line), positions[0])
            position = positions[0] - start + 1
        out[t].append(Row(texts[t].item, w.line, position, w.text, names, value, h))
    return out


# -- the Python API: minicons-like, one call for many texts ------------------------------------
def _scorer(model, tokenizer=None, batch_size: int = 32, dtype: str = "float32",
            device: str = "cpu", progress: bool = False) -> Scorer:
    if isinstance(model, Scorer):
        return model
    scorer: Scorer
    if isinstance(model, str):
        from classit_eval.lmeval.backend import ClassitLM

        lm = ClassitLM(pretrained=model, dtype=dtype, device=device, batch_size=batch_size)
        scorer = lm.scorer
    else:
        if tokenizer is None:
            raise OptionError("Pass the model's tokenizer with a loaded model (tokenizer=...).")
        scorer = Scorer(model, tokenizer, batch_size=batch_size)
    scorer.progress = progress
    return scorer


def _texts(texts: Sequence[str | Sequence[str]]) -> list[Text]:
    """Strings are one-line texts; a list of strings is one item of running lines."""
    out = []
    for i, text in enumerate(texts):
        lines = [text] if isinstance(text, str) else list(text)
        out.append(Text(str(i), tuple((n + 1, line) for n, line in enumerate(lines))))
    return out


def word_surprisal(model, texts: Sequence[str | Sequence[str]], tokenizer=None, *,
                   word_prob: str = "corrected", base: str = "nats", entropy: bool = False,
                   batch_size: int = 32, progress: bool = False) -> list[list[Row]]:
    """Each text's words and their surprisal. `model`: a model name or folder, a loaded
    causal model (with `tokenizer`), or a Scorer. A text given as a list of strings is
    one running text whose rows carry their line (1-based)."""
    scorer = _scorer(model, tokenizer, batch_size, progress=progress)
    return surprisals(scorer, _texts(texts), "word", word_prob, base, entropy)


def token_surprisal(model, texts: Sequence[str | Sequence[str]], tokenizer=None, *,
                    base: str = "nats", entropy: bool = False, batch_size: int = 32,
                    progress: bool = False) -> list[list[Row]]:
    """Each text's tokens and their surprisal (`Row.word`: the word a token belongs to)."""
    scorer = _scorer(model, tokenizer, batch_size, progress=progress)
    return surprisals(scorer, _texts(texts), "token", "raw", base, entropy)

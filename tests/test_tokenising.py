"""The fast tokenising path (each distinct text once, running text cut into words) gives
exactly the encodings of tokenising every request's text whole, on real requests."""

from __future__ import annotations

import copy
import sys

import pytest
from tokenizers import normalizers
from transformers import AutoTokenizer

from classit_eval.data.files import find_file, read_jsonl
from classit_eval.scoring import Encoded
from classit_eval.scoring.tokenising import (
    UNSAFE_SPACE,
    pieces,
    running,
    safe,
    splits_at_spaces,
)
from tests.test_scoring import smollm2_or_skip

# around the cuts: shared contexts whose continuation glues to their last word, double
# spaces, spaces after whitespace or symbols, contractions, digits, non-ASCII letters and
# spaces, an empty context or continuation, a context that ends with a space
EDGES = [
    ("Box 0", " contains"), ("Box 0", "s"), ("Box 0", "'s box"), ("Box 0", ""),
    ("The cat  sat", " on it."), ("The cat  sat", "  down"), ("Tab\t sat", " x"),
    ("Line\n next", "\n\n  y"), ("Ends with a space ", "then"), ("Ends with a space ", " two"),
    ("It's 12 345 km", " away"), ("It's 12 345 km", "'ll do"), ("Café crème", " brûlée"),
    ("Nbsp\u00a0 here", " too"), ("全角\u3000 空白", " 文字"), ("Emoji 🙂 smile", " 🙂"),
    ("(a) [b] {c}", " d"), ("a_b c-d", " e"), ("", " Whole sentence."), ("", "No space."),
    (" Leading space", " word"), ("x", " y"), ("x", ""), ("", ""),
]


@pytest.fixture(scope="module")
def requests(eval_data) -> list[tuple[str, str]]:
    """Real requests of every shape the full suite has, with shared contexts: entity
    tracking's long prefixes with their options, EWoK contexts with both targets, BLiMP
    sentences, the reading task's words after their sentence so far, and repeats."""
    import pandas as pd

    entity = read_jsonl(find_file("fast_eval/entity_tracking_fast/regular.jsonl", eval_data))
    ewok = read_jsonl(find_file("fast_eval/ewok_fast/material-dynamics.jsonl", eval_data))
    blimp = read_jsonl(find_file("fast_eval/blimp_fast/wh_island.jsonl", eval_data))[:40]
    reading = pd.read_csv(find_file("fast_eval/reading/reading_data.csv", eval_data).path)
    out = [(r["input_prefix"], o) for r in entity[:60] for o in r["options"]]
    out += [(r[c], " " + r[t]) for r in ewok[:40] for c in ("Context1", "Context2")
            for t in ("Target1", "Target2")]
    out += [("", " " + r[k]) for r in blimp for k in ("sentence_good", "sentence_bad")]
    out += [(str(c), " " + str(w)) for c, w in zip(reading["item"][:150], reading["word"][:150],
                                                   strict=True)]
    return out + out[:30] + EDGES


def whole(tokenizer, prefix: int, context: str, continuation: str) -> Encoded:
    """The plain path: the text tokenised alone, its span every token ending after the
    context."""
    encoding = tokenizer.backend_tokenizer.encode(context + continuation,
                                                  add_special_tokens=False)
    span = tuple(i for i, (_, end) in enumerate(encoding.offsets, 1) if end > len(context))
    return Encoded((prefix, *encoding.ids), span)


@pytest.fixture(scope="module")
def smollm2_tokenizer():
    return AutoTokenizer.from_pretrained(smollm2_or_skip())


def test_words_and_shared_contexts_give_the_encodings_of_whole_texts(smollm2_tokenizer,
                                                                      requests):
    tok = smollm2_tokenizer
    assert splits_at_spaces(tok)  # SmolLM2's byte-level BPE: the fast path is taken
    prefix = tok.bos_token_id
    got = running(tok, prefix, list(dict.fromkeys(requests)), chunk=7)
    assert got == [whole(tok, prefix, *r) for r in dict.fromkeys(requests)]
    assert len(pieces(requests[0][0])) > 50  # an entity tracking prefix, cut in words


def test_a_tokenizer_that_cannot_be_cut_has_its_texts_tokenised_whole(smollm2_tokenizer,
                                                                       requests):
    tok = copy.deepcopy(smollm2_tokenizer)
    tok.backend_tokenizer.normalizer = normalizers.Lowercase()  # may change across a cut
    assert not splits_at_spaces(tok)
    pairs = list(dict.fromkeys(requests))[::4] + EDGES
    got = running(tok, tok.bos_token_id, list(dict.fromkeys(pairs)))
    assert got == [whole(tok, tok.bos_token_id, *r) for r in dict.fromkeys(pairs)]


def test_the_unsafe_space_pattern_is_the_safe_rule():
    """UNSAFE_SPACE (a regex, for speed) finds exactly the spaces that `safe` rejects."""
    for code in range(sys.maxunicode + 1):
        c = chr(code)
        assert (UNSAFE_SPACE.search(c + " ") is None) == safe(c), repr(c)

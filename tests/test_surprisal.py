"""Corrected word probabilities (classit_eval.scoring.wordprob) and `classit-eval surprisal`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from classit_eval import cli
from classit_eval.reading import dataset
from classit_eval.scoring import (
    WORD_IN_TEXT_CORRECTED,
    Encoded,
    Scorer,
    boundary_ids,
    corrected,
    scheme,
    word_requests,
)
from classit_eval.surprisal import token_surprisal, word_surprisal
from tests.test_cli import invoke


@pytest.fixture(scope="module")
def loaded(tiny_model_nobos: Path):
    """A tiny LLaMA whose tokenizer adds no BOS (as SmolLM2's and GPT-2's)."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_nobos).eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_nobos)


@pytest.fixture(scope="module")
def sentences(eval_data: Path) -> list[str]:
    csv = dataset.load_csv(eval_data / dataset.FAST_CSV)
    return list(dict.fromkeys(csv["sentence"]))


def brute_force(model, tokenizer, e: Encoded) -> float:
    """Span log-probabilities plus boundary terms, from one whole-sequence forward pass."""
    ids = torch.tensor(boundary_ids(tokenizer))
    with torch.no_grad():
        lp = model(torch.tensor([e.tokens])).logits[0].double().log_softmax(-1)
    return (sum(lp[p - 1, e.tokens[p]].item() for p in e.span)
            + sum(sign * lp[p - 1, ids].logsumexp(-1).item() for p, sign in e.boundary))


def test_boundary_set_and_scheme(loaded) -> None:
    _, tok = loaded
    ids = boundary_ids(tok)
    strings = tok.convert_ids_to_tokens(list(ids))
    assert scheme(tok) == "bow" and tok.eos_token_id not in ids
    assert all(s.startswith("Ġ") for s in strings)
    assert set(boundary_ids(tok, eos=True)) == {*ids, tok.eos_token_id}


@pytest.mark.parametrize("engine", ["trie", "sequences"])
def test_engines_add_the_correction_without_extra_passes(loaded, engine: str) -> None:
    """A word at the end of a sequence (the distribution after a leaf's last token), one
    inside a longer sequence, and a text's first word (no start term), against one
    whole-sequence pass; the trie computes no more positions than raw scoring."""
    model, tok = loaded
    requests = [("", "The"), ("The cat", " sat"), ("The cat sat", " on"),
                ("The cat sat on the", " mat."), ("A dog", " barked loudly")]
    scorer = Scorer(model, tok, engine=engine, progress=False)
    enc = word_requests(scorer, requests, "corrected")
    assert enc[0].boundary == ((len(enc[0].tokens), 1),)  # opens the text: no start term
    got = [s for s, _ in scorer.score_encoded(enc)]
    assert got == pytest.approx([brute_force(model, tok, e) for e in enc], abs=1e-4)
    raw = [s for s, _ in scorer.score_encoded(word_requests(scorer, requests, "raw"))]
    assert max(abs(a - b) for a, b in zip(got, raw, strict=True)) > 1e-3
    if engine == "trie":
        positions = scorer.stats.positions
        scorer.score_encoded(word_requests(scorer, requests, "raw"))
        raw_positions = scorer.stats.positions - positions
        # the corrected call computes only the leaves' last tokens in addition
        assert positions - 2 * raw_positions <= len({e.tokens for e in enc})


@pytest.mark.slow
def test_corrected_equals_minicons_bow_correction(loaded, sentences) -> None:
    """minicons' word scores of whole sentences (bos_token=True, whitespace words): raw
    equal ours raw, and `bow_correction` equals ours (the default set: no EOS)."""
    minicons = pytest.importorskip("minicons.scorer")
    model, tok = loaded
    texts = sentences[:12]
    lm = minicons.IncrementalLMScorer(model, tokenizer=tok, device="cpu")
    scorer = Scorer(model, tok, progress=False)
    for correct in (False, True):
        theirs = [v for s in lm.word_score_tokenized(texts, tokenize_function=str.split,
                                                     bow_correction=correct, bos_token=True)
                  for _, v in s]
        ours = [-r.surprisal for rows in word_surprisal(
            scorer, texts, word_prob="corrected" if correct else "raw") for r in rows]
        assert ours == pytest.approx(theirs, abs=1e-4)
    # with EOS in the set (--text-ends-word), the words that end a sentence move
    scorer.boundary_ids = boundary_ids(tok, eos=True)
    default = [-r.surprisal for rows in word_surprisal(scorer, texts) for r in rows]
    assert default != pytest.approx(ours, abs=1e-4)


def test_api_rows_equal_word_requests(loaded, sentences) -> None:
    """The surprisal API's words (one sequence a text) equal the reading task's encoding of
    each (context, word) request; tokens sum to words when raw; bits are nats / ln 2."""
    model, tok = loaded
    texts = sentences[:5]
    rows = word_surprisal(model, texts, tok)
    scorer = Scorer(model, tok, progress=False)
    requests = []
    for text, got in zip(texts, rows, strict=True):
        words = text.split()
        assert [r.word for r in got] == words and [r.position for r in got] == \
            list(range(1, len(words) + 1))
        requests += [(" ".join(words[:k]), (" " if k else "") + words[k])
                     for k in range(len(words))]
    pieces = [scorer.encode_named(WORD_IN_TEXT_CORRECTED, *r) for r in requests]
    expected = [-s for s, _ in scorer.score_requests(pieces)]
    assert [r.surprisal for got in rows for r in got] == pytest.approx(expected, abs=1e-4)
    raw = word_surprisal(model, texts[:1], tok, word_prob="raw")[0]
    tokens = token_surprisal(model, texts[:1], tok, base="bits", entropy=True)[0]
    assert sum(r.surprisal for r in tokens) * 0.6931471805599453 == pytest.approx(
        sum(r.surprisal for r in raw), abs=1e-4)
    assert len(tokens) == sum(len(r.tokens) for r in raw)
    assert all(0 < r.entropy < 10 for r in tokens)  # bits, under log2(600)


def test_running_item_conditions_on_earlier_lines(loaded) -> None:
    model, tok = loaded
    alone = word_surprisal(model, ["talking now."], tok)[0]
    running = word_surprisal(model, [["She wound up", "talking now."]], tok)[0]
    assert [(r.line, r.position) for r in running] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]
    assert running[3].surprisal != pytest.approx(alone[0].surprisal, abs=1e-3)


@pytest.mark.slow
def test_cli_writes_the_same_numbers_at_batch_sizes_1_and_64(tiny_model_nobos, sentences,
                                                            tmp_path, capsys) -> None:
    """Reading sentences, one a line: per-word surprisal (float64: equal to 1e-9 at every
    batch size; float32 within 1e-4), as the API gives them."""
    source = tmp_path / "sentences.txt"
    source.write_text("\n".join(sentences[:20]) + "\n", encoding="utf-8")
    frames = {}
    for dtype in ("float32", "float64"):
        for size in (1, 64):
            out = tmp_path / f"{dtype}-{size}.csv"
            code, _, err = invoke(cli.main, [
                "surprisal", str(source), "--model", str(tiny_model_nobos), "--output",
                str(out), "--batch-size", str(size), "--dtype", dtype, "--device", "cpu",
                "--no-progress"], capsys)
            assert code == 0, err
            frames[dtype, size] = pd.read_csv(out, keep_default_na=False)
    one = frames["float32", 1]
    assert list(one.columns) == ["item", "line", "position", "word", "tokens", "surprisal"]
    assert len(one) == sum(len(s.split()) for s in sentences[:20])
    for dtype, tolerance in (("float32", 1e-4), ("float64", 1e-9)):
        a, b = frames[dtype, 1], frames[dtype, 64]
        assert (a[["item", "word", "tokens"]] == b[["item", "word", "tokens"]]).all().all()
        assert (a["surprisal"] - b["surprisal"]).abs().max() <= tolerance
    assert (one["surprisal"] - frames["float64", 1]["surprisal"]).abs().max() < 1e-3


@pytest.mark.parametrize(("content", "argv", "message"), [
    (b"", [], "no text to score"),
    (b"\n  \n", [], "no text to score"),
    (b"sentence,id\nThe cat sat.,1\n", ["--text-column", "text"], "no column 'text'"),
    (b"text\nThe cat sat.\n", ["--item-column", "story"], "no column 'story'"),
    (b"A fine line.\nAn \xff line.\n", [], "line 2 is not UTF-8"),
])
def test_bad_input_is_one_line_and_no_file(tiny_model_nobos, tmp_path, capsys, content, argv,
                                          message) -> None:
    suffix = ".csv" if content.startswith((b"sentence", b"text")) else ".txt"
    source = tmp_path / f"input{suffix}"
    source.write_bytes(content)
    out = tmp_path / "out.csv"
    code, _, err = invoke(cli.main, ["surprisal", str(source), "--model",
                                     str(tiny_model_nobos), "--output", str(out), *argv], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and not out.exists()


def test_corrected_encoding_of_an_empty_span_is_unchanged() -> None:
    e = Encoded((1, 2), ())
    assert corrected(e, opens=False) is e


def test_a_masked_backend_gives_raw_word_surprisal(tmp_path, corpus_file) -> None:
    """`--backend mlm`: each word after its context with masks after it (the reading task's
    `word_in_text`); tokens and entropy are a causal model's only."""
    from classit_eval.errors import OptionError
    from classit_eval.lmeval.backend import ClassitLM
    from classit_eval.scoring import WORD_IN_TEXT
    from tests.tiny import build_tiny_masked

    path = build_tiny_masked(tmp_path / "bert", corpus_file)
    scorer = ClassitLM(pretrained=str(path), backend="mlm", device="cpu").scorer
    scorer.progress = False
    [rows] = word_surprisal(scorer, ["The cat sat."])
    expected = [-s for s, _ in scorer.score_requests([
        scorer.encode_named(WORD_IN_TEXT, c, w)
        for c, w in [("", "The"), ("The", " cat"), ("The cat", " sat.")]])]
    assert [r.word for r in rows] == ["The", "cat", "sat."]
    assert [r.surprisal for r in rows] == pytest.approx(expected, abs=1e-6)
    with pytest.raises(OptionError, match="backend=mlm: per-token surprisal"):
        token_surprisal(scorer, ["The cat sat."])

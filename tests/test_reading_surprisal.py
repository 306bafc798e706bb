"""Surprisals: one forward call per sentence equals per-word scoring and the official reader."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from benchmarks.bench_reading import unbatched_surprisals
from classit_eval.reading import dataset, surprisal


@pytest.fixture(scope="module")
def rows(eval_data: Path):
    """All rows of the first 25 sentences of the real csv (plus the "None" row)."""
    csv = dataset.load_csv(eval_data / dataset.FULL_CSV)
    keep = (set(csv["sentence"].drop_duplicates().iloc[:25])
            | {"None of the city people dress like that."})
    return csv[csv["sentence"].isin(keep)].reset_index(drop=True)


def load(path: Path):
    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def official_surprisal(model, tokenizer, context: str, word: str) -> float:
    """An independent reading of the official causal reader: string contexts, one call each."""

    def prob(text: str, piece_id: int) -> float:
        with torch.no_grad():
            logits = model(**tokenizer(text, return_tensors="pt")).logits[0, -1]
        return torch.softmax(logits, -1)[piece_id].item()

    ids = tokenizer(word, add_special_tokens=False)["input_ids"]
    probs, text = [prob(context, ids[0])], context + tokenizer.decode(ids[0])
    for token in ids[1:]:
        piece = tokenizer.decode(token)
        probs.append(prob(text, tokenizer(piece, add_special_tokens=False)["input_ids"][0]))
        text += piece
    return -math.log(np.prod(probs))


@pytest.mark.slow
@pytest.mark.parametrize("which", ["tiny_model", "tiny_model_nobos"])
def test_babylm2025_matches_official_reader(which: str, rows, request) -> None:
    model, tokenizer = load(request.getfixturevalue(which))
    pred, prev = surprisal.reading_surprisals(model, tokenizer, rows, "babylm2025")
    pairs = zip(rows["item"], rows["word"], strict=True)
    expected = [official_surprisal(model, tokenizer, i, w) for i, w in pairs]
    np.testing.assert_allclose(pred, expected, atol=1e-4, rtol=0)
    has_prev = dataset.has_previous(rows).to_numpy()
    assert np.isnan(prev[~has_prev]).all() and not np.isnan(prev[has_prev]).any()
    i = int(np.flatnonzero(has_prev)[3])
    assert prev[i] == pytest.approx(official_surprisal(
        model, tokenizer, rows["prev_item"][i], rows["prev_word"][i]), abs=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("convention", surprisal.CONVENTIONS)
def test_one_call_per_sentence_equals_per_word_calls(convention: str, rows, tiny_model) -> None:
    model, tokenizer = load(tiny_model)
    calls = []
    hook = model.register_forward_hook(lambda *args: calls.append(1))
    shared = surprisal.reading_surprisals(model, tokenizer, rows, convention)
    n_shared = len(calls)
    unbatched = unbatched_surprisals(model, tokenizer, rows, convention)
    n_unbatched = len(calls) - n_shared
    if convention == "running":  # every word of a sentence is read off the sentence's pass
        surprisal.reading_surprisals(model, tokenizer, rows, convention, max_batch=1)
        assert len(calls) - n_shared - n_unbatched == rows["sentence"].nunique()
    hook.remove()
    np.testing.assert_allclose(shared[0], unbatched[0], atol=1e-4)
    np.testing.assert_allclose(shared[1], unbatched[1], atol=1e-4)
    assert n_shared <= rows["sentence"].nunique() and n_unbatched >= 4 * n_shared


def test_running_is_lm_eval_request(rows, tiny_model_nobos) -> None:
    """`running` = the surprisal lm-eval's hf model gives request (item, " " + word)."""
    model, tokenizer = load(tiny_model_nobos)
    pred, _ = surprisal.reading_surprisals(model, tokenizer, rows.iloc[:5], "running")
    for k in range(5):
        item, word = rows["item"][k], rows["word"][k]
        ctx = tokenizer(item)["input_ids"]
        whole = tokenizer(f"{item} {word}")["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([whole])).logits[0], -1)
        expected = -sum(logp[j - 1, whole[j]].item() for j in range(len(ctx), len(whole)))
        assert pred[k] == pytest.approx(expected, abs=1e-4)


def test_empty_context_without_bos_is_a_clear_error(tiny_model_nobos) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_nobos)
    tokenizer.bos_token = None
    with pytest.raises(ValueError, match="no BOS token"):
        surprisal.word_steps(tokenizer, "", "Arthur", "running")
    with pytest.raises(ValueError, match="Unknown surprisal convention"):
        surprisal.word_steps(tokenizer, "Arthur", "placed", "gpt2")

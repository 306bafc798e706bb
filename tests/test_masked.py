"""The `mlm`, `mntp`, `enc_dec_mask` and `enc_dec_prefix` backends of the `classit` model.

With scoring=babylm2025 every candidate's log-likelihood equals the official pipeline's,
restated independently in tests/oracles/official_masked_oracle.py, on real BLiMP, supplement,
EWoK, entity-tracking, WUG and reading items, through the real lm-eval tasks, on tiny
models built on the fly: a BERT MLM, a DeBERTa scored as a GPT-BERT-style hybrid (`mntp`,
with a CLS token and without any, where token 0 is dropped), a T5 (no BOS, no mask token:
`<extra_id_0>`) and a BART. Both sides run in float64, so 1e-5 tests the construction.
"""

from __future__ import annotations

import json
from pathlib import Path

import lm_eval
import numpy as np
import pytest
import torch

from classit_eval import cli
from classit_eval.data.files import find_file, find_files, read_jsonl
from classit_eval.errors import OptionError
from classit_eval.lmeval.backend import ClassitLM, pick_backend
from classit_eval.lmeval.plugin import task_manager
from classit_eval.reading import dataset
from classit_eval.scoring import WORD_IN_TEXT, WORD_IN_TEXT_CORRECTED, MaskedScorer
from tests.oracles import official_masked_oracle as masked_oracle
from tests.oracles import official_oracle as oracle
from tests.test_cli import invoke
from tests.tiny import build_tiny_masked, build_tiny_seq2seq

LIMIT = 6
# name -> (builder, style, architecture, backend)
MODELS = {
    "bert-mlm": ("masked", "bert", "bert", "mlm"),
    "deberta-mntp": ("masked", "gptbert", "deberta", "mntp"),
    "bare-mntp": ("masked", "bare", "bert", "mntp"),
    "t5-mask": ("seq2seq", "t5", None, "enc_dec_mask"),
    "bart-mask": ("seq2seq", "bart", None, "enc_dec_mask"),
    "t5-prefix": ("seq2seq", "t5", None, "enc_dec_prefix"),
    "bart-prefix": ("seq2seq", "bart", None, "enc_dec_prefix"),
}


def blimp(raw):
    return oracle.blimp_item(raw) | {"prefixes": [None, None]}


def ewok(raw):  # the official `prefixes`: Target2 after Context2
    return oracle.ewok_item(raw) | {"prefixes": [raw["Context1"], raw["Context2"]]}


def entity(raw):
    return oracle.entity_item(raw) | {"prefixes": [raw["input_prefix"]] * len(raw["options"])}


def wug(raw):  # the official reader gives one prefix, so zip keeps one candidate: see docs
    item = oracle.wug_item(raw)
    return item | {"prefixes": [None] * len(item["sentences"])}


CASES = {  # task -> (data file or folder, official decoder)
    "classit_blimp_fast_principle_A_c_command": (
        "fast_eval/blimp_fast/principle_A_c_command.jsonl", blimp),
    "classit_blimp_supplement_fast_turn_taking": (
        "fast_eval/supplement_fast/turn_taking.jsonl", blimp),
    "classit_ewok_fast_physical_relations": ("fast_eval/ewok_fast/physical-relations.jsonl", ewok),
    "classit_entity_tracking_fast_regular": (
        "fast_eval/entity_tracking_fast/regular.jsonl", entity),
    "classit_wug_adj_fast": ("fast_eval/wug_adj_nominalization", wug),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory, corpus_file) -> dict[str, Path]:
    out = {}
    for name, (builder, style, arch, _) in MODELS.items():
        folder = tmp_path_factory.mktemp(name)
        if builder == "masked":
            out[name] = build_tiny_masked(folder, corpus_file, style, arch)
        else:
            out[name] = build_tiny_seq2seq(folder, corpus_file, style)
    return out


@pytest.mark.parametrize("name", list(MODELS))
def test_babylm2025_equals_the_official_backend(name, models, eval_data):
    backend = MODELS[name][3]
    lm = ClassitLM(pretrained=str(models[name]), backend=backend, scoring="babylm2025",
                   device="cpu", dtype="float64", batch_size=7)
    out = lm_eval.simple_evaluate(model=lm, tasks=list(CASES), limit=LIMIT, log_samples=True,
                                  task_manager=task_manager(classit_only=True))
    for task, (path, decode) in CASES.items():
        if task.startswith("classit_wug"):
            raw = read_jsonl(find_files(path, eval_data)[0])[:LIMIT]
        else:
            raw = read_jsonl(find_file(path, eval_data))[:LIMIT]
        expected = masked_oracle.scores(lm.model, lm.tokenizer, backend,
                                        [decode(r) for r in raw]).numpy()
        samples = sorted(out["samples"][task], key=lambda s: s["doc_id"])
        ours = np.array([[ll for ll, _ in s["filtered_resps"]] for s in samples])
        np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0, err_msg=f"{name} {task}")
    assert list(lm.scorer.heads.values()) == [True]  # the LM head ran at the reads only


def test_mntp_reads_a_late_bos_model_s_token_0_at_the_last_position(corpus_file, eval_data,
                                                                    tmp_path):
    """A tokenizer with a BOS it does not put first: the official mntp scores token 0 and
    reads it at index -1, the last column of its padded minibatch. Each item alone (the
    official batch of one), that is the sentence's last position, as classit reads it."""
    path = build_tiny_masked(tmp_path / "m", corpus_file, "late_bos", "bert")
    lm = ClassitLM(pretrained=str(path), backend="mntp", scoring="babylm2025", device="cpu",
                   dtype="float64", certify=False)
    lm.scorer.progress = False
    raw = read_jsonl(find_file("fast_eval/blimp_fast/principle_A_c_command.jsonl",
                               eval_data))[:LIMIT]
    items = [blimp(r) for r in raw]
    assert lm.tokenizer("A cat.")["input_ids"][0] != lm.tokenizer.bos_token_id
    ours = np.array([ll for ll, _ in lm.scorer.score(
        [("", s) for it in items for s in it["sentences"]])]).reshape(-1, 2)
    expected = masked_oracle.scores(lm.model, lm.tokenizer, "mntp", items, batch_size=1)
    np.testing.assert_allclose(ours, expected.numpy(), atol=1e-5, rtol=0)


class MixesPositions(torch.nn.Module):
    """A head layer that adds the sum of the positions up to each (the left ones: right
    padding does not change it): it cannot run on the read positions alone."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x + x.cumsum(dim=-2))


def test_a_head_that_mixes_positions_runs_everywhere(models, eval_data):
    """The first batch compares the head at the reads with the whole-sequence head; a
    model whose head mixes positions keeps the whole-sequence head, and the same scores."""
    lm = ClassitLM(pretrained=str(models["bert-mlm"]), backend="mlm", scoring="babylm2025",
                   device="cpu", dtype="float64", certify=False)
    lm.scorer.progress = False
    head = lm.model.cls.predictions
    head.transform = MixesPositions(head.transform)
    raw = read_jsonl(find_file("fast_eval/blimp_fast/principle_A_c_command.jsonl",
                               eval_data))[:LIMIT]
    items = [blimp(r) for r in raw]
    ours = [ll for ll, _ in lm.scorer.score([("", s) for it in items for s in it["sentences"]])]
    assert lm.scorer.heads == {lm.model: False}
    expected = masked_oracle.scores(lm.model, lm.tokenizer, "mlm", items).numpy()
    np.testing.assert_allclose(np.array(ours).reshape(-1, 2), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["bert-mlm", "deberta-mntp", "t5-mask", "bart-prefix"])
def test_reader_equals_the_official_reader(name, models, eval_data):
    """reading_convention=babylm2025: get_p2_mlm / get_p2_mntp / get_p2_enc_dec."""
    lm = ClassitLM(pretrained=str(models[name]), backend=MODELS[name][3], device="cpu",
                   dtype="float64", scoring="babylm2025")
    manager = task_manager(classit_only=True, metadata={
        "data_dir": str(eval_data), "reading_bootstrap": 0, "reading_convention": "babylm2025"})
    out = lm_eval.simple_evaluate(model=lm, tasks=["classit_reading_fast"], limit=8,
                                  log_samples=True, task_manager=manager)
    samples = out["samples"]["classit_reading_fast"]
    assert len(samples) == 8
    backend = "enc_dec" if "enc_dec" in lm.backend else lm.backend
    for s in samples:
        doc = s["doc"]
        expected = masked_oracle.reader_surprisal(lm.model, lm.tokenizer, backend,
                                                  doc["context"], doc["word"])
        assert -s["filtered_resps"][0][0] == pytest.approx(expected, abs=1e-5), doc
    assert dataset.FAST_CSV  # the reading data the task read


def test_identical_masked_copies_are_computed_once(models):
    """Two requests with the same sentence: every masked copy runs once, so both get the
    very same numbers, as does the same call repeated. A scorer's first batch runs the LM
    head at every position (and checks the head cut to the read positions against it);
    later batches run the cut head, a product of another shape, whose float32 sums may
    round otherwise (on this 2-core machine -69.8186383 vs -69.8186388): across that the
    promise is a relative 1e-6 (about 8 float32 epsilons of the sum), not equality."""
    lm = ClassitLM(pretrained=str(models["bert-mlm"]), backend="mlm", device="cpu",
                   scoring="babylm2025")
    scorer: MaskedScorer = lm.scorer
    first = scorer.score([("", "The cat sat on the mat.")])
    assert scorer.heads == {lm.model: True}  # from now on the head runs at the reads only
    once = scorer.score([("", "The cat sat on the mat.")])
    positions = scorer.stats.positions // 2
    twice = scorer.score([("", "The cat sat on the mat."), ("", " The cat sat on the mat.")])
    assert twice[0] == twice[1]  # one computation served both requests
    assert scorer.stats.positions - 2 * positions == positions  # the third call: one sentence
    assert scorer.stats.trie_bound == 4 * positions  # the official pipeline: every request
    assert scorer.score([("", "The cat sat on the mat.")]) == once  # the same kernels again
    assert once[0][0] == pytest.approx(first[0][0], rel=1e-6) and once[0][1] == first[0][1]
    assert twice[0][0] == pytest.approx(once[0][0], rel=1e-6)


def test_full_masks_the_rest_of_the_word(models):
    """PLL-word-l2r: a word's later pieces are masked with it in `full`, not in babylm2025."""
    lm = ClassitLM(pretrained=str(models["bert-mlm"]), backend="mlm", device="cpu")
    [queries] = lm.scorer.encode_requests([("", "An unbelievable idea.")])
    mask = lm.scorer.mask
    multi = [q for q in queries if sum(t == mask for t in q.tokens) > 1]
    assert multi, "the tiny tokenizer splits `unbelievable`"
    official = ClassitLM(pretrained=str(models["bert-mlm"]), backend="mlm", device="cpu",
                         scoring="babylm2025").scorer.encode_requests(
        [("", "An unbelievable idea.")])[0]
    assert all(sum(t == mask for t in q.tokens) == 1 for q in official)
    assert len(official) == len(queries)


def test_a_word_in_running_text_sees_masks_after_it(models):
    """reading_convention=running (`word_in_text`): the word, then 3 masks for the text not
    read yet, then the tokenizer's SEP; `full` masks the rest of the word with each token,
    `mntp` reads one position earlier; an encoder-decoder fills one mask after the context."""
    context, word = "The cat saw", " an unbelievable idea"
    for name, shift in (("bert-mlm", 0), ("deberta-mntp", 1)):
        lm = ClassitLM(pretrained=str(models[name]), backend=MODELS[name][3], device="cpu")
        scorer, tok = lm.scorer, lm.tokenizer
        queries = scorer.encode_named(WORD_IN_TEXT, context, word)
        plain = scorer.encode_requests([(context, word)])[0]
        expected = tok(context + word + tok.mask_token * 3)["input_ids"]
        assert expected.count(tok.mask_token_id) == 3
        assert len(queries) == len(plain) == len(tok(word, add_special_tokens=False).input_ids)
        for query, old in zip(queries, plain, strict=True):
            [(position, target)] = query.reads
            masked = [i for i, t in enumerate(query.tokens) if t != expected[i]]
            assert masked[0] == position + shift and expected[masked[0]] == target
            assert all(query.tokens[i] == tok.mask_token_id for i in masked)
            assert len(query.tokens) == len(old.tokens) + 3 and query.reads == old.reads
        # the corrected word probability is a causal model's: here the word, raw
        assert scorer.encode_named(WORD_IN_TEXT_CORRECTED, context, word) == queries
    lm = ClassitLM(pretrained=str(models["bart-mask"]), backend="enc_dec_mask", device="cpu")
    assert lm.scorer.encode_named(WORD_IN_TEXT, context, word) == \
        [lm.scorer._prefix_query(context, word)]


def test_auto_picks_from_the_config(models, tiny_model, caplog):
    assert pick_backend({"architectures": ["LlamaForCausalLM"]})[0] == "causal"
    assert pick_backend({"architectures": ["BertForMaskedLM"]})[0] == "mlm"
    assert pick_backend({"architectures": ["T5ForConditionalGeneration"],
                         "is_encoder_decoder": True})[0] == "enc_dec_mask"
    gpt_bert = {"architectures": ["GPTBertForMaskedLM"], "auto_map": {
        "AutoModelForMaskedLM": "modeling.GPTBertForMaskedLM",
        "AutoModelForCausalLM": "modeling.GPTBertForCausalLM"}}
    assert pick_backend(gpt_bert)[0] == "mntp"
    with caplog.at_level("INFO", logger="lm_eval"):
        assert ClassitLM(pretrained=str(models["t5-mask"]), backend="auto",
                         device="cpu").backend == "enc_dec_mask"
    assert "backend=auto chose backend=enc_dec_mask" in caplog.text
    assert ClassitLM(pretrained=str(tiny_model), backend="auto", device="cpu").backend == "causal"


@pytest.mark.parametrize(("name", "backend", "says"), [
    ("bert-mlm", "causal", "backend=causal does not fit"),
    ("bert-mlm", "enc_dec_mask", "pass backend=mlm"),
    ("t5-mask", "mlm", "an encoder-decoder"),
    ("tiny_model", "mntp", "pass backend=causal"),
    ("nomask", "mlm", "has no mask token"),
    ("bert-mlm", "bert", "is not a backend"),
])
def test_a_wrong_backend_is_a_one_line_error(name, backend, says, models, tiny_model,
                                             corpus_file, tmp_path):
    if name == "tiny_model":
        path = tiny_model
    elif name == "nomask":
        path = build_tiny_masked(tmp_path / "m", corpus_file, "nomask")
    else:
        path = models[name]
    with pytest.raises(OptionError) as err:
        ClassitLM(pretrained=str(path), backend=backend, device="cpu")
    assert says in str(err.value) and "\n" not in str(err.value)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bart-prefix"])
def test_classit_eval_run_writes_results_with_each_backend(name, models, tmp_path, capsys):
    """The whole CLI path with a non-causal backend (~40 s in CI; the full suite must stay
    under 15 minutes). Every backend ran this way once (docs/zero_shot.md); the masked
    ones take the same path, and their scores go through lm-eval in the parity tests."""
    backend = MODELS[name][3]
    out = tmp_path / "out"
    argv = ["run", "--model", "classit", "--model_args",
            f"pretrained={models[name]},backend={backend},scoring=babylm2025",
            "--tasks", "classit_zero_shot_fast", "--limit", "5", "--device", "cpu",
            "--output_path", str(out)]
    code, _, err = invoke(cli.main, argv, capsys)
    assert code == 0, err
    [results] = list(out.rglob("results_*.json"))
    data = json.loads(results.read_text())
    assert data["config"]["model_args"]["backend"] == backend
    accuracies = [v["acc,none"] for k, v in data["results"].items()
                  if k.startswith("classit_blimp_fast_")]
    assert accuracies and all(0 <= a <= 1 for a in accuracies)


def test_classit_eval_run_names_a_wrong_backend_in_one_line(models, tmp_path, capsys):
    argv = ["run", "--model", "classit", "--model_args",
            f"pretrained={models['t5-mask']},backend=causal", "--tasks",
            "classit_blimp_fast", "--limit", "1", "--device", "cpu",
            "--output_path", str(tmp_path / "out")]
    code, _, err = invoke(cli.main, argv, capsys)
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(
        "classit-eval run: error: classit model: backend=causal does not fit ")
    assert "pass backend=enc_dec_mask" in err and not (tmp_path / "out").exists()

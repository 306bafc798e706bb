"""A GPT-BERT-style hybrid with remote code, as the BabyLM 2025 baselines ship (model_type
gpt_bert, an auto_map into the checkpoint's own .py files), built on the fly by
tests/tiny.py's build_tiny_hybrid: it loads only with trust_remote_code."""

from __future__ import annotations

import pytest
import torch
import transformers

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

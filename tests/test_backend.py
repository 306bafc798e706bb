"""The `classit` model backend: what it imports, its device fallback and its model arguments."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from classit_eval import scoring
from classit_eval.errors import OptionError
from classit_eval.lmeval.backend import ClassitLM
from classit_eval.names import ENCODING_FIELD

REPO = Path(__file__).resolve().parent.parent


def test_backend_imports_only_the_scoring_layer():
    """Importing the backend loads no task: no pandas, statsmodels or reading module."""
    code = ("import sys, json, classit_eval.lmeval.backend\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pandas', 'statsmodels') or m.startswith('classit_eval.reading'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out.splitlines()[-1]) == []


def test_cuda_without_cuda_falls_back_to_the_cpu(tiny_model, monkeypatch, caplog):
    """lm-eval's default device is cuda:0; on a machine without CUDA the model runs on the CPU.

    Built as lm-eval builds it, with the keys it passes to every model."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with caplog.at_level(logging.WARNING, logger="classit_eval.lmeval.backend"):
        lm = ClassitLM.create_from_arg_string(
            f"pretrained={tiny_model},trust_remote_code=False,dtype=float64",
            {"batch_size": 4, "max_batch_size": None, "device": "cuda:0"})
    assert lm.model.device.type == "cpu" and lm.model.dtype == torch.float64
    assert "CUDA is not available; using the CPU" in caplog.text
    assert lm.scorer.batch_size == 4


def test_unknown_model_argument_names_the_nearest_key():
    with pytest.raises(OptionError, match=r"unknown model argument 'scorng' \(did you mean "
                                          r"scoring\?\); known: pretrained, scoring, "):
        ClassitLM.create_from_arg_string("pretrained=unused,scorng=babylm2025")


@pytest.mark.parametrize(("args", "message"), [
    ("scoring=xyz", r"scoring='xyz' is not a scoring mode; choose full or babylm2025\."),
    ("dtype=xyz", r"dtype='xyz' is not a dtype; choose auto, float64, float32, bfloat16, "),
    ("batch_size=0", r"batch_size=0 must be a whole number of at least 1\."),
    ("prefix_token_id=eos", r"prefix_token_id='eos' must be a whole number of at least 0\."),
    ("prefix_token_id=1.5", r"prefix_token_id=1.5 must be a whole number"),
    ("max_length=-3", r"max_length=-3 must be a whole number of at least 1\."),
    ("engine=fast", r"engine='fast' is not an engine; choose trie or sequences\."),
    ("certify=maybe", r"certify='maybe' must be true or false\."),
    ("prefix_cache_mb=0", r"prefix_cache_mb=0 must be a whole number of at least 1\."),
])
def test_bad_values_are_option_errors(args, message):
    """Checked before the model is loaded: the path is never read."""
    with pytest.raises(OptionError, match=message):
        ClassitLM.create_from_arg_string(f"pretrained=unused,{args}", {"device": "cpu"})


def test_no_pretrained_is_an_option_error():
    with pytest.raises(OptionError, match="pass --model_args pretrained=PATH"):
        ClassitLM.create_from_arg_string("scoring=full")


def plain_span(lm, context: str, continuation: str) -> tuple[int, ...]:
    return lm.scorer.encode(context, continuation).span


def test_a_document_asks_for_an_encoding_by_name(tiny_model_nobos):
    lm = ClassitLM(pretrained=str(tiny_model_nobos), device="cpu")
    request = SimpleNamespace(args=("Arthur placed", "the"),
                              doc={ENCODING_FIELD: scoring.BABYLM2025_READER})
    plain = SimpleNamespace(args=("The cat", " sat."), doc={ENCODING_FIELD: ""})
    assert lm.encode([request, plain]) == [
        scoring.babylm2025_reader(lm.tokenizer, "Arthur placed", "the"),
        [lm.scorer.encode("The cat", " sat.")]]
    corrected = SimpleNamespace(args=("The cat", " sat."),
                                doc={ENCODING_FIELD: scoring.WORD_IN_TEXT_CORRECTED})
    [[word]] = lm.encode([corrected])
    end = len(word.tokens)  # minus the mass before " sat", plus the mass after it
    assert word.span == plain_span(lm, "The cat", " sat.") and \
        word.boundary == ((word.span[0], -1), (end, 1))
    with pytest.raises(ValueError, match="encoding 'gpt2_reader'.*known: babylm2025_reader"):
        lm.encode([SimpleNamespace(args=request.args, doc={ENCODING_FIELD: "gpt2_reader"})])

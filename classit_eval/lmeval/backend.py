"""The `classit` lm-eval model: log-likelihoods for minimal-pair and reading tasks.

    classit-eval run --model classit \
        --model_args pretrained=PATH,scoring=babylm2025 --tasks classit_zero_shot_fast

Model arguments: `pretrained` (path or hub id), `revision`, `scoring` (`full`, the
default, or `babylm2025`, see classit_eval.lmeval.scoring), `dtype`, `prefix_token_id`,
`trust_remote_code`; `batch_size` and `device` come from lm-eval's own options.

`dtype` defaults to float64 on the CPU and float32 on a GPU. Float32 matrix kernels sum
in an order that depends on the batch's shape, so a sentence's score moves with the batch
size (by 2.6e-4 nats on SmolLM2-135M between batch sizes 1 and 64); in float64 it does
not (below 1e-10), at about twice the CPU time. Pass `dtype=float32` for speed, or
`bfloat16`/`float16`/`auto`; log-softmax is always taken in at least float32.

A document may ask for the official reader's word surprisal instead (the `classit_reading`
task does with `--metadata reading_convention=babylm2025`): its field
`classit_reader: babylm2025` makes the request (context, word) be scored as
classit_eval.reading.surprisal.word_steps defines, which lm-eval's `hf` cannot do.

With `scoring=babylm2025`, ties between candidates of one document go to the first
candidate, as the official pipeline's `torch.max` does: a later candidate whose
log-likelihood equals an earlier one's is lowered by one unit in the last place, so that
the strict accuracy of the tasks counts the tie as the official pipeline does.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict

# lm-eval's own models are registered first: its registry imports them only while it is
# empty, so registering `classit` first would hide `hf` and the others.
import lm_eval.models  # noqa: F401
import numpy as np
import torch
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

from classit_eval.lmeval.scoring import Encoded, Scorer, step_encoding
from classit_eval.reading.surprisal import word_steps

log = logging.getLogger(__name__)
DTYPES = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16,
          "float16": torch.float16}


@register_model("classit")
class ClassitLM(LM):
    """A Hugging Face causal LM scored by classit_eval.lmeval.scoring.Scorer."""

    def __init__(self, pretrained: str, scoring: str = "full", revision: str | None = None,
                 dtype: str | None = None, device: str | None = None, batch_size: int | str = 32,
                 prefix_token_id: int | None = None, trust_remote_code: bool = False,
                 max_length: int | None = None, **unused) -> None:
        super().__init__()
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if unused:
            log.warning("classit model: ignoring unknown arguments %s", sorted(unused))
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype is None:  # batch-size invariant scores on the CPU, see the module doc
            dtype = "float64" if str(device).startswith("cpu") else "float32"
        if dtype != "auto" and dtype not in DTYPES:
            raise ValueError(f"dtype={dtype!r}: choose auto, {', '.join(DTYPES)}.")
        if str(batch_size).startswith("auto"):
            log.warning("classit model: batch_size=auto is not supported; using 32.")
            batch_size = 32
        self.tokenizer = AutoTokenizer.from_pretrained(
            pretrained, revision=revision, trust_remote_code=trust_remote_code, use_fast=True
        )
        self.model = AutoModelForCausalLM.from_pretrained(
            pretrained, revision=revision, trust_remote_code=trust_remote_code,
            dtype="auto" if dtype == "auto" else DTYPES[dtype],
        )
        self.model.to(device).eval()
        self.scoring = scoring
        self.scorer = Scorer(
            self.model, self.tokenizer, mode=scoring, batch_size=int(batch_size),
            prefix_token_id=None if prefix_token_id is None else int(prefix_token_id),
            max_length=None if max_length is None else int(max_length),
        )

    def encode(self, request) -> list[Encoded]:
        """The scored pieces of one request: one, or one per step of the official reader."""
        if (request.doc or {}).get("classit_reader") == "babylm2025":
            steps = word_steps(self.tokenizer, *request.args, convention="babylm2025")
            return [step_encoding(context, continuation) for context, continuation in steps]
        return [self.scorer.encode(*request.args)]

    def loglikelihood(self, requests, disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        self.scorer.progress = not disable_tqdm
        pieces = [self.encode(req) for req in requests]
        scores = iter(self.scorer.score_encoded([p for request in pieces for p in request]))
        results = []
        for request in pieces:
            parts = [next(scores) for _ in request]
            results.append((math.fsum(ll for ll, _ in parts), all(g for _, g in parts)))
        if self.scoring == "babylm2025":
            results = ties_to_first(requests, results)
        for req, result in zip(requests, results, strict=True):
            self.cache_hook.add_partial("loglikelihood", req.args, result)
        return results

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False) -> list[float]:
        raise NotImplementedError(
            "The classit model scores candidates (loglikelihood requests). For perplexity "
            "tasks use lm-eval's `--model hf`."
        )

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        raise NotImplementedError(
            "The classit model does not generate text. For generation tasks use `--model hf`."
        )


def ties_to_first(requests, results: list[tuple[float, bool]]) -> list[tuple[float, bool]]:
    """Lower later candidates that tie an earlier candidate of the same doc by one ULP."""
    out = list(results)
    by_doc: dict[tuple, list[int]] = defaultdict(list)
    for i, req in enumerate(requests):
        by_doc[(req.task_name, req.doc_id)].append(i)
    for indices in by_doc.values():
        indices.sort(key=lambda i: requests[i].idx)
        seen: set[float] = set()
        for i in indices:
            ll, greedy = out[i]
            while ll in seen:
                ll = float(np.nextafter(ll, -np.inf))
            seen.add(ll)
            out[i] = (ll, greedy)
    return out

"""The `classit` backend reused across the checkpoints of one model.

A BabyLM submission scores the same texts with up to 28 checkpoints that share one
tokenizer. `SeriesLM` is the `classit` model (classit_eval.lmeval.backend.ClassitLM) with
two additions, so that only the forward passes are repeated from one checkpoint to the next:

- `load_weights(pretrained, revision)` puts another checkpoint's weights in place, keeping
  the tokenizer, the scorer and its settings;
- `encode` remembers each request's tokens (keyed by the request's arguments and the
  encoding its document asks for), so a text is tokenised once per run.

Both use only the backend's public attributes (`model`, `tokenizer`, `scorer`, `encode`).
They belong in the backend itself (a `ClassitLM.load_weights` and an encoding cache); this
subclass stands in until it has them. `fingerprint` tells whether two checkpoints'
tokenizers tokenise alike, so a series whose tokenizer changes is caught.
"""

from __future__ import annotations

import hashlib
import json
import time

from transformers import AutoModelForCausalLM

from classit_eval.data.checkpoints import load_model
from classit_eval.lmeval.backend import ClassitLM
from classit_eval.names import ENCODING_FIELD


def fingerprint(tokenizer) -> str:
    """A hash of everything that decides how a tokenizer tokenises: its vocabulary,
    merges, normaliser, pre- and post-processor (the fast tokenizer's JSON), its special
    tokens and class."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    parts = [type(tokenizer).__name__,
             backend.to_str() if backend is not None else repr(sorted(tokenizer.get_vocab())),
             json.dumps(tokenizer.special_tokens_map, sort_keys=True, default=str)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class SeriesLM(ClassitLM):
    """The `classit` model, able to move to another checkpoint of the same model."""

    def __init__(self, **model_args) -> None:
        super().__init__(**model_args)
        self.fingerprint = fingerprint(self.tokenizer)
        self.encodings: dict[tuple, list] = {}
        self.encode_seconds = 0.0  # time spent tokenising (cache misses)
        self.score_seconds = 0.0  # time spent in loglikelihood, tokenising included

    def encode(self, request) -> list:
        key = (request.args, (request.doc or {}).get(ENCODING_FIELD))
        pieces = self.encodings.get(key)
        if pieces is None:
            start = time.perf_counter()
            pieces = self.encodings[key] = super().encode(request)
            self.encode_seconds += time.perf_counter() - start
        return pieces

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        start = time.perf_counter()
        try:
            return super().loglikelihood(requests, disable_tqdm)
        finally:
            self.score_seconds += time.perf_counter() - start

    def load_weights(self, pretrained: str, revision: str | None = None) -> None:
        """Score with the weights of `pretrained` (at `revision`) from now on."""
        model = load_model(AutoModelForCausalLM, pretrained, revision=revision,
                           dtype=self.model.dtype)
        model.to(self.model.device).eval()
        self.model = self.scorer.model = model

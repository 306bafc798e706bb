"""The `classit` backend reused across the checkpoints of one model.

A BabyLM submission scores the same texts with up to 28 checkpoints that share one
tokenizer. `SeriesLM` is the `classit` model (classit_eval.lmeval.backend.ClassitLM),
whose `load_weights` puts another checkpoint in place (keeping the tokenizer, the scorer
and its settings), with an encoding cache: `encode` remembers each request's tokens (keyed
by the request's arguments and the encoding its document asks for), so a text is
tokenised once per series, not once per checkpoint; the scorer keeps each task's compiled
schedule, so the prefix tree is built once too. The tokenizer's fingerprint
(`data.checkpoints.fingerprint`) tells whether two checkpoints' tokenizers tokenise alike,
so a series whose tokenizer changes is caught.
"""

from __future__ import annotations

import time

import torch

from classit_eval.data.checkpoints import fingerprint
from classit_eval.lmeval.backend import ClassitLM
from classit_eval.names import ENCODING_FIELD


class SeriesLM(ClassitLM):
    """The `classit` model, able to move to another checkpoint of the same model."""

    def __init__(self, **model_args) -> None:
        self.load_seconds = 0.0  # time spent loading weights (float64 copies included)
        self.forward_seconds = 0.0  # time inside the models' bodies (the decoder's calls)
        super().__init__(**model_args)
        self.fingerprint = fingerprint(self.tokenizer)
        self.encodings: dict[tuple, list] = {}
        self.encode_seconds = 0.0  # time spent tokenising (cache misses)
        self.score_seconds = 0.0  # time spent in loglikelihood, tokenising included

    def encode(self, requests) -> list[list]:
        keys = [(self.request_args(r), (r.doc or {}).get(ENCODING_FIELD)) for r in requests]
        missing = [k for k, key in enumerate(keys) if key not in self.encodings]
        if missing:
            start = time.perf_counter()
            for k, pieces in zip(missing, super().encode([requests[k] for k in missing]),
                                 strict=True):
                self.encodings[keys[k]] = pieces
            self.encode_seconds += time.perf_counter() - start
        return [self.encodings[key] for key in keys]

    def _load(self, pretrained: str, revision: str | None, dtype) -> torch.nn.Module:
        start = time.perf_counter()
        model = super()._load(pretrained, revision, dtype)
        self.load_seconds += time.perf_counter() - start
        time_forward(model.base_model, self, "forward_seconds")
        return model

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        start = time.perf_counter()
        try:
            return super().loglikelihood(requests, disable_tqdm)
        finally:
            self.score_seconds += time.perf_counter() - start


def time_forward(module: torch.nn.Module, owner: object, attribute: str) -> None:
    """Add the seconds of every call of `module` to `owner.attribute` (forward hooks)."""
    started: list[float] = []

    def begin(*_) -> None:
        started.append(time.perf_counter())

    def end(*_) -> None:
        setattr(owner, attribute, getattr(owner, attribute) + time.perf_counter() - started.pop())

    module.register_forward_pre_hook(begin)
    module.register_forward_hook(end)

"""The `classit` lm-eval model: log-likelihoods for minimal-pair and reading tasks.

    classit-eval run --model classit \
        --model_args pretrained=PATH,scoring=babylm2025 --tasks classit_zero_shot_fast

Model arguments: `pretrained` (path or hub id), `revision`, `scoring` (`full`, the
default, or `babylm2025`, see classit_eval.lmeval.scoring), `dtype`, `prefix_token_id`,
`max_length`, `trust_remote_code`; `batch_size` and `device` come from lm-eval's own
options. An unknown argument or a bad value is an OptionError that names it: a typo must
not run the evaluation with the defaults. A CUDA device on a machine without CUDA (lm-eval's
default device is `cuda:0`) falls back to the CPU, as lm-eval's `hf` model does.

`dtype` defaults to float64 on the CPU and float32 on a GPU. Float32 matrix kernels sum
in an order that depends on the batch's shape, so a sentence's score moves with the batch
size (by 2.6e-4 nats on SmolLM2-135M between batch sizes 1 and 64); in float64 it does
not (below 1e-10), at about twice the CPU time. Pass `dtype=float32` for speed, or
`bfloat16`/`float16`/`auto`; log-softmax is always taken in at least float32.

A document may ask for another encoding of its request by name, in its field
classit_eval.names.ENCODING_FIELD (a key of classit_eval.lmeval.scoring.ENCODINGS): the
`classit_reading` task does with `--metadata reading_convention=babylm2025`, to have each
(context, word) scored as the official reader does, which lm-eval's `hf` cannot do. This
module imports only the scoring layer, never a task.

With `scoring=babylm2025`, ties between candidates of one document go to the first
candidate, as the official pipeline's `torch.max` does: a later candidate whose
log-likelihood equals an earlier one's is lowered by one unit in the last place, so that
the strict accuracy of the tasks counts the tie as the official pipeline does.
"""

from __future__ import annotations

import difflib
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

from classit_eval.errors import OptionError
from classit_eval.lmeval.scoring import MODES, Encoded, Scorer, encoding
from classit_eval.names import ENCODING_FIELD

log = logging.getLogger(__name__)
DTYPES = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16,
          "float16": torch.float16}
# The model arguments this backend reads, and those lm-eval passes to every model
# (simple_evaluate adds batch_size, max_batch_size and device; --trust_remote_code adds
# trust_remote_code). max_batch_size only bounds lm-eval's automatic batch size, which
# this backend does not use.
KNOWN_ARGS = ("pretrained", "scoring", "revision", "dtype", "device", "batch_size",
              "max_batch_size", "prefix_token_id", "trust_remote_code", "max_length")


@register_model("classit")
class ClassitLM(LM):
    """A Hugging Face causal LM scored by classit_eval.lmeval.scoring.Scorer."""

    def __init__(self, pretrained: str | None = None, scoring: str = "full",
                 revision: str | None = None, dtype: str | None = None,
                 device: str | None = None, batch_size: int | str = 32,
                 max_batch_size: int | None = None, prefix_token_id: int | None = None,
                 trust_remote_code: bool = False, max_length: int | None = None,
                 **unknown) -> None:
        super().__init__()
        from transformers import AutoModelForCausalLM

        from classit_eval.data.checkpoints import load_model, load_tokenizer

        check_known(unknown)
        if not pretrained:
            raise OptionError("classit model: no model given; pass --model_args pretrained=PATH.")
        if scoring not in MODES:
            raise OptionError(
                f"classit model: scoring={scoring!r} is not a scoring mode; choose "
                f"{' or '.join(MODES)}.")
        device = pick_device(device)
        if dtype is None:  # batch-size invariant scores on the CPU, see the module doc
            dtype = "float64" if device.startswith("cpu") else "float32"
        if dtype != "auto" and dtype not in DTYPES:
            raise OptionError(
                f"classit model: dtype={dtype!r} is not a dtype; choose auto, "
                f"{', '.join(DTYPES)}.")
        if str(batch_size).startswith("auto"):
            log.warning("classit model: batch_size=auto is not supported; using 32.")
            batch_size = 32
        batch_size = int_argument("batch_size", batch_size, minimum=1)
        if prefix_token_id is not None:
            prefix_token_id = int_argument("prefix_token_id", prefix_token_id, minimum=0)
        if max_length is not None:
            max_length = int_argument("max_length", max_length, minimum=1)
        self.tokenizer = load_tokenizer(pretrained, revision=revision,
                                        trust_remote_code=trust_remote_code)
        self.model = load_model(AutoModelForCausalLM, pretrained, revision=revision,
                                trust_remote_code=trust_remote_code,
                                dtype="auto" if dtype == "auto" else DTYPES[dtype])
        self.model.to(device).eval()
        self.scoring = scoring
        self.scorer = Scorer(self.model, self.tokenizer, mode=scoring, batch_size=batch_size,
                             prefix_token_id=prefix_token_id, max_length=max_length)

    def encode(self, request) -> list[Encoded]:
        """The scored pieces of one request: one, or those of the encoding its doc names."""
        name = (request.doc or {}).get(ENCODING_FIELD)
        if name:
            return encoding(name)(self.tokenizer, *request.args)
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


def check_known(arguments: dict) -> None:
    """Raise OptionError for model arguments this backend does not read (typos, mostly)."""
    if not arguments:
        return
    named = []
    for name in sorted(arguments):
        nearest = difflib.get_close_matches(name, KNOWN_ARGS, n=1)
        named.append(f"{name!r}" + (f" (did you mean {nearest[0]}?)" if nearest else ""))
    raise OptionError(
        f"classit model: unknown model argument {', '.join(named)}; known: "
        f"{', '.join(KNOWN_ARGS)}.")


def int_argument(name: str, value: object, minimum: int) -> int:
    """A whole-number model argument (`--model_args` gives ints, a dict may give strings)."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        number = int(value)
    if number is None or number < minimum:
        raise OptionError(
            f"classit model: {name}={value!r} must be a whole number of at least {minimum}.")
    return number


def pick_device(device: str | None) -> str:
    """`device`, or the CPU when it names CUDA and CUDA is not available (lm-eval's hf rule)."""
    cuda = torch.cuda.is_available()
    if device is None:
        return "cuda" if cuda else "cpu"
    device = str(device)
    if device.startswith("cuda") and not cuda:
        log.warning("classit model: device=%s asked but CUDA is not available; using the CPU "
                    "(pass --device cpu to choose it).", device)
        return "cpu"
    return device

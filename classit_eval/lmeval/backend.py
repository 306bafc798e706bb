"""The `classit` lm-eval model: log-likelihoods for minimal-pair and reading tasks.

    classit-eval run --model classit \
        --model_args pretrained=PATH,scoring=babylm2025 --tasks classit_zero_shot_fast

Model arguments: `pretrained` (path or hub id), `revision`, `backend`, `scoring` (`full`,
the default, or `babylm2025`, see classit_eval.scoring), `dtype`, `certify`,
`engine`, `prefix_cache_mb`, `prefix_token_id`, `max_length`, `trust_remote_code`;
`batch_size` and `device` come from lm-eval's own options. An unknown argument or a bad
value is an OptionError that names it: a typo must not run the evaluation with the
defaults. A CUDA device on a machine without CUDA (lm-eval's default device is `cuda:0`)
falls back to the CPU, as lm-eval's `hf` model does.

`backend` is the official pipeline's name for how a model is scored: `causal` (the
default), `mlm`, `mntp`, `enc_dec_mask` or `enc_dec_prefix` (classit_eval.scoring.masked),
or `auto`, which picks one from the model's config and logs the choice. The model is
loaded through the backend's `AutoModelFor...` class; a model that does not fit the backend
(an encoder scored as `causal`, an MLM without a mask token) is an OptionError. Remote code
(GPT-BERT) runs only with `trust_remote_code=true`; without it such a model is one
OptionError, before anything is loaded.

A causal model's requests are all scored together by the prefix-tree engine
(classit_eval.scoring.trie): each distinct prefix is computed once, in batches of
`batch_size` segments. `engine=sequences` scores each sequence as one row instead, as
does a model that keeps no KV cache it reads back (GPT-BERT's causal class; logged).
`prefix_cache_mb` (default 1024) caps the memory of the cached prefixes' keys and values.

Decisions are certified (`certify=true`, the default): the model computes in `dtype`
(default float32), and every document whose best candidate is within the float32 error
bound of another (counted over the terms the two do not share; a tie included) is scored
again in float64 (at a fixed batch size, the terms all its candidates share kept); so every
accuracy is what float64 decides, at any batch size. Continuous outputs (WUG
probabilities, reading surprisals) keep the float32 values, within 1e-4 of float64. A
float64 copy of the model is loaded the first time it is needed. `certify=false` keeps
the plain `dtype` scores, which move with the batch size by up to ~3e-4 nats in float32.

Data-parallel: launched by `torchrun` / `accelerate launch` (WORLD_SIZE > 1), each
process scores its share of the documents (lm-eval gives each rank every n-th document)
and lm-eval gathers the results on rank 0; gloo on the CPU, NCCL on GPUs.

A document may ask for another encoding of its request by name, in its field
classit_eval.names.ENCODING_FIELD (a key of classit_eval.scoring.ENCODINGS, or
`word_in_text`, `word_in_text_corrected`): the `classit_reading` task does with `--metadata
reading_convention=babylm2025`, to have each (context, word) scored as the official reader
does, which lm-eval's `hf` cannot do, and by default, to say that its word is followed by
more text (a causal model gets the plain request, its word probability corrected for where
the word ends unless `word_prob=raw`, classit_eval.scoring.wordprob; a masked one sees masks
after the word).
This module imports only the scoring layer, never a task.

With `scoring=babylm2025`, ties between candidates of one document go to the first
candidate, as the official pipeline's `torch.max` does: a later candidate whose
log-likelihood equals an earlier one's is lowered by one unit in the last place, so that
the strict accuracy of the tasks counts the tie as the official pipeline does.
"""

from __future__ import annotations

import difflib
import logging
import os
import time
from collections import defaultdict

# lm-eval's own models are registered first: its registry imports them only while it is
# empty, so registering `classit` first would hide `hf` and the others.
import lm_eval.models  # noqa: F401
import numpy as np
import torch
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

from classit_eval.data.checkpoints import model_kind, remote_code
from classit_eval.errors import OptionError
from classit_eval.names import (
    BACKENDS,
    ENC_DEC_BACKENDS,
    ENCODING_FIELD,
    PREFIXES_FIELD,
)
from classit_eval.scoring import (
    ENGINES,
    MODES,
    Encoded,
    MaskedScorer,
    Scorer,
    caches_work,
    kv_bytes_per_token,
    paused_gc,
)

log = logging.getLogger(__name__)
# The counts of a run go through lm-eval's own logger, so that they show as its do
# (INFO, `--verbosity`), next to its "Running loglikelihood requests".
run_log = logging.getLogger("lm_eval").getChild("classit")
DTYPES = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16,
          "float16": torch.float16}
BOOLEANS = {"true": True, "false": False, "1": True, "0": False}
# The model arguments this backend reads, and those lm-eval passes to every model
# (simple_evaluate adds batch_size, max_batch_size and device; --trust_remote_code adds
# trust_remote_code). max_batch_size only bounds lm-eval's automatic batch size, which
# this backend does not use.
KNOWN_ARGS = ("pretrained", "scoring", "revision", "dtype", "certify", "engine",
              "prefix_cache_mb", "device", "batch_size", "max_batch_size", "prefix_token_id",
              "trust_remote_code", "max_length", "backend")


@register_model("classit")
class ClassitLM(LM):
    """A Hugging Face model scored by classit_eval.scoring.Scorer (causal) or
    classit_eval.scoring.masked.MaskedScorer (the other backends)."""

    def __init__(self, pretrained: str | None = None, backend: str = "causal",
                 scoring: str = "full",
                 revision: str | None = None, dtype: str | None = None,
                 certify: bool | str = True, engine: str = "trie",
                 prefix_cache_mb: int | str = 1024, device: str | None = None,
                 batch_size: int | str = 32, max_batch_size: int | None = None,
                 prefix_token_id: int | None = None, trust_remote_code: bool = False,
                 max_length: int | None = None, **unknown) -> None:
        super().__init__()
        from classit_eval.data.checkpoints import load_tokenizer

        check_known(unknown)
        if not pretrained:
            raise OptionError("classit model: no model given; pass --model_args pretrained=PATH.")
        if backend not in (*BACKENDS, "auto"):
            raise OptionError(
                f"classit model: backend={backend!r} is not a backend; choose "
                f"{', '.join(BACKENDS)} or auto.")
        if scoring not in MODES:
            raise OptionError(
                f"classit model: scoring={scoring!r} is not a scoring mode; choose "
                f"{' or '.join(MODES)}.")
        if engine not in ENGINES:
            raise OptionError(
                f"classit model: engine={engine!r} is not an engine; "
                f"choose {' or '.join(ENGINES)}.")
        dtype = dtype or "float32"  # certified: decisions are float64's, see the module doc
        if dtype != "auto" and dtype not in DTYPES:
            raise OptionError(
                f"classit model: dtype={dtype!r} is not a dtype; choose auto, "
                f"{', '.join(DTYPES)}.")
        self.certify = bool_argument("certify", certify)
        if str(batch_size).startswith("auto"):
            log.warning("classit model: batch_size=auto is not supported; using 32.")
            batch_size = 32
        batch_size = int_argument("batch_size", batch_size, minimum=1)
        cache_mb = int_argument("prefix_cache_mb", prefix_cache_mb, minimum=1)
        if prefix_token_id is not None:
            prefix_token_id = int_argument("prefix_token_id", prefix_token_id, minimum=0)
        if max_length is not None:
            max_length = int_argument("max_length", max_length, minimum=1)
        self._rank, self._world_size = join_processes()
        device = pick_device(device, self._world_size > 1)
        self._device = torch.device(device)
        if self._device.type == "cuda" and self._device.index is not None:
            torch.cuda.set_device(self._device)  # `cuda` alone: torch's current device
        trust_remote_code = bool_argument("trust_remote_code", trust_remote_code)
        config = read_config(pretrained, revision)
        if not trust_remote_code and (why := remote_code(config)):
            raise OptionError(
                f"classit model: {pretrained} runs its own code ({why}); pass "
                "trust_remote_code=true in --model_args (or --trust_remote_code) if you "
                "trust it.")
        self.tokenizer = load_tokenizer(pretrained, revision=revision,
                                        trust_remote_code=trust_remote_code)
        self._trust_remote_code = trust_remote_code
        if backend == "auto":
            backend, why = pick_backend(config)
            run_log.info("classit: backend=auto chose backend=%s for %s (%s).", backend,
                         pretrained, why)
        check_backend(backend, config, self.tokenizer, scoring, pretrained)
        self.backend = backend
        self.model = self._load(pretrained, revision, "auto" if dtype == "auto" else DTYPES[dtype])
        self.scoring = scoring
        exact = lambda: self._load(pretrained, revision, torch.float64)  # noqa: E731
        if backend != "causal":
            self.scorer: Scorer = MaskedScorer(self.model, self.tokenizer, backend, mode=scoring,
                                       batch_size=batch_size, max_length=max_length,
                                       exact_model=exact)
            return
        if engine == "trie" and not caches_work(self.model):
            run_log.info("classit: %s keeps no usable KV cache (as GPT-BERT's causal class): "
                         "each sequence is scored as one row (engine=sequences).", pretrained)
            engine = "sequences"
        cache_tokens = cache_mb * 2**20 // kv_bytes_per_token(self.model) if engine == "trie" \
            else 0
        self.scorer = Scorer(self.model, self.tokenizer, mode=scoring, batch_size=batch_size,
                             prefix_token_id=prefix_token_id, max_length=max_length,
                             engine=engine, cache_tokens=cache_tokens, exact_model=exact)

    def _load(self, pretrained: str, revision: str | None, dtype):
        import transformers

        from classit_eval.data.checkpoints import load_model

        auto_class = getattr(transformers, AUTO_CLASSES[self.backend])
        model = load_model(auto_class, pretrained, revision=revision,
                           trust_remote_code=self._trust_remote_code, dtype=dtype)
        return model.to(self._device).eval()

    def load_weights(self, pretrained: str, revision: str | None = None) -> None:
        """Score with another checkpoint of the same model from now on (a checkpoint
        series): the tokenizer, the scorer and its settings stay; the float64 copy used
        for certification is dropped and loaded from the new checkpoint when needed."""
        self.model = self._load(pretrained, revision, self.model.dtype)
        self.scorer.set_model(self.model,
                              exact_model=lambda: self._load(pretrained, revision, torch.float64))

    def request_args(self, request) -> tuple[str, str]:
        """(context, continuation) as scored: the request's, except that `enc_dec_prefix`
        in babylm2025 takes the candidate's context from the document's PREFIXES_FIELD
        when it has one (the official EWoK reader pairs Target2 with Context2)."""
        prefixes = (request.doc or {}).get(PREFIXES_FIELD)
        if prefixes and self.backend == "enc_dec_prefix" and self.scoring == "babylm2025":
            return (prefixes[request.idx], request.args[1])
        return tuple(request.args)

    @paused_gc()
    def encode(self, requests) -> list[list[Encoded]]:
        """The scored pieces of each request: its own, or those of the encoding its doc names
        (the garbage collector paused: it took 40% of the time)."""
        out: list[list[Encoded]] = [[] for _ in requests]
        plain, fixed = [], []
        for k, request in enumerate(requests):
            name = (request.doc or {}).get(ENCODING_FIELD)
            if name in self.scorer.CORRECTED_ENCODINGS:
                fixed.append(k)
            elif name and name not in self.scorer.PLAIN_ENCODINGS:
                out[k] = self.scorer.encode_named(name, *request.args)
            else:
                plain.append(k)
        pieces = self.scorer.encode_requests([self.request_args(requests[k]) for k in plain])
        for k, piece in zip(plain, pieces, strict=True):
            out[k] = piece
        if fixed:  # one batch, as the plain requests
            from classit_eval.scoring import word_requests

            words = word_requests(self.scorer, [tuple(requests[k].args) for k in fixed],
                                  "corrected")
            for k, word in zip(fixed, words, strict=True):
                out[k] = [word]
        return out

    def loglikelihood(self, requests, disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        """One (log-likelihood, is_greedy) per request, in order; the candidates of a
        document are its requests with the same task and doc_id (see the module doc)."""
        self.scorer.progress = not disable_tqdm
        # lm-eval repeats a rank's last request to even out the ranks: score it once
        first: dict[tuple, int] = {}
        for i, req in enumerate(requests):
            first.setdefault(request_key(req, i), i)
        unique = sorted(set(first.values()))
        position = {i: k for k, i in enumerate(unique)}
        started = time.perf_counter()
        pieces = self.encode([requests[i] for i in unique])
        encoded = time.perf_counter()
        documents: dict[tuple, list[int]] = defaultdict(list)
        for k, i in enumerate(unique):
            documents[(requests[i].task_name, requests[i].doc_id)].append(k)
        if self.certify:
            scores = self.scorer.score_certified(pieces, list(documents.values()))
        else:
            scores = self.scorer.score_requests(pieces)
        if self.scoring == "babylm2025":
            scores = ties_to_first([requests[i] for i in unique], scores)
        results = [scores[position[first[request_key(req, i)]]]
                   for i, req in enumerate(requests)]
        for req, result in zip(requests, results, strict=True):
            self.cache_hook.add_partial("loglikelihood", req.args, result)
        self.log_counts(len(unique), encoded - started, time.perf_counter() - encoded)
        return results

    def log_counts(self, requests: int, encoding: float, scoring: float) -> None:
        stats, cert = self.scorer.stats, self.scorer.certificate
        run_log.info(
            "classit: %d requests, %d token positions computed (%s %d, %.2fx); "
            "%d documents certified, %d scored again in float64 (%d positions); largest "
            "float32 error %.1f%% of its bound; tokenising %.1f s, scoring %.1f s (float64 "
            "%.1f s)", requests, stats.positions,
            "trie bound" if self.backend == "causal" else "without sharing", stats.trie_bound,
            stats.positions / max(1, stats.trie_bound), cert.documents, cert.rescored,
            self.scorer.exact_stats.positions, 100 * cert.worst, encoding, scoring,
            cert.seconds)
        if cert.widened > 1:
            log.warning(
                "classit: a float32 error exceeded half its bound; the bound was widened "
                "%.1fx for this run (more documents were scored again in float64).",
                cert.widened)

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False) -> list[float]:
        raise NotImplementedError(
            "The classit model scores candidates (loglikelihood requests). For perplexity "
            "tasks use lm-eval's `--model hf`."
        )

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        raise NotImplementedError(
            "The classit model does not generate text. For generation tasks use `--model hf`."
        )

    # -- data-parallel: what lm-eval's evaluator calls when world_size > 1 ---------------
    def all_gather(self, tensor: torch.Tensor) -> torch.Tensor:
        if self._world_size == 1:
            return tensor
        import torch.distributed as dist

        parts = [torch.zeros_like(tensor) for _ in range(self._world_size)]
        dist.all_gather(parts, tensor)
        return torch.stack(parts) if tensor.dim() == 0 else torch.cat(parts)

    def gather_object(self, obj, dst: int = 0):
        """The ranks' per-document lists, interleaved back into document order.

        lm-eval gives rank r the documents r, r + n, r + 2n, ... and gathers each rank's
        metrics and samples (dicts of lists) to concatenate them rank after rank; handed
        back interleaved (as rank 0's, the others' emptied), every aggregation sums in the
        order of one process, so the results file is the same to the last bit.
        """
        if self._world_size == 1:
            return [obj]
        import torch.distributed as dist

        out = [None] * self._world_size if self._rank == dst else None
        dist.gather_object(obj, out, dst=dst)
        if out is None:
            return None
        return [interleave(out), *(emptied(part) for part in out[1:])]

    def barrier(self) -> None:
        if self._world_size > 1:
            import torch.distributed as dist

            dist.barrier()


def interleave(parts: list):
    """Dicts of lists (nested) from each rank, merged key by key, lists round-robin."""
    if isinstance(parts[0], dict):
        keys = dict.fromkeys(k for part in parts for k in part)
        return {k: interleave([part.get(k, []) for part in parts]) for k in keys}
    merged, longest = [], max(len(part) for part in parts)
    for i in range(longest):
        merged += [part[i] for part in parts if i < len(part)]
    return merged


def emptied(part):
    """`part` with every list emptied (its keys kept)."""
    return {k: emptied(v) for k, v in part.items()} if isinstance(part, dict) else []


def request_key(request, index: int) -> tuple:
    """What identifies a request: its task, document and candidate index (else its place)."""
    doc_id = getattr(request, "doc_id", None)
    if doc_id is None:
        return ("request", index)
    return (request.task_name, doc_id, request.idx)


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


# -- backends: which one a model needs, and whether it fits ----------------------------------
AUTO_CLASSES = {"causal": "AutoModelForCausalLM", "mlm": "AutoModelForMaskedLM",
                "mntp": "AutoModelForMaskedLM", "enc_dec_mask": "AutoModelForSeq2SeqLM",
                "enc_dec_prefix": "AutoModelForSeq2SeqLM"}


def read_config(pretrained: str, revision: str | None) -> dict:
    """The model's config.json as a dict (no remote code runs to read it), after checking
    that the model's files are there (a ModelLoadError naming what is missing)."""
    from classit_eval.data.checkpoints import check_loadable, config_dict

    check_loadable(pretrained, revision)
    return config_dict(pretrained, revision)


def pick_backend(config: dict) -> tuple[str, str]:
    """The backend `auto` picks, and why."""
    kind, why = model_kind(config)
    return {"enc_dec": "enc_dec_mask", "hybrid": "mntp", "masked": "mlm",
            "causal": "causal"}[kind], why


def check_backend(backend: str, config: dict, tokenizer, scoring: str, pretrained: str) -> None:
    """An OptionError naming the model and the fix when it cannot be scored as `backend`."""
    from classit_eval.scoring.masked import first_extra_special, mask_token_id

    kind, why = model_kind(config)
    fits = {"causal": ("causal", "hybrid"), "mlm": ("masked", "hybrid"),
            "mntp": ("masked", "hybrid"), "enc_dec_mask": ("enc_dec",),
            "enc_dec_prefix": ("enc_dec",)}[backend]
    if kind not in fits:
        raise OptionError(
            f"classit model: backend={backend} does not fit {pretrained} ({why}); pass "
            f"backend={pick_backend(config)[0]} (or backend=auto).")
    if backend != "causal" and mask_token_id(tokenizer) is None:
        what = "mask token" + (" or extra special token" if kind == "enc_dec" else "")
        raise OptionError(
            f"classit model: backend={backend} masks tokens, but the tokenizer of "
            f"{pretrained} has no {what}; add one (tokenizer.mask_token) or use backend=causal.")
    if (backend in ENC_DEC_BACKENDS and scoring == "babylm2025"
            and tokenizer.bos_token_id is None and first_extra_special(tokenizer) is None):
        raise OptionError(
            f"classit model: backend={backend} with scoring=babylm2025 starts the decoder "
            f"with BOS (else an extra special token); the tokenizer of {pretrained} has "
            "neither.")


def join_processes() -> tuple[int, int]:
    """(rank, world size): under torchrun / accelerate launch, joins their process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


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


def bool_argument(name: str, value: object) -> bool:
    """A true/false model argument (`--model_args` gives bools or strings)."""
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in BOOLEANS:
        return BOOLEANS[str(value).strip().lower()]
    raise OptionError(f"classit model: {name}={value!r} must be true or false.")


def pick_device(device: str | None, parallel: bool = False) -> str:
    """`device`, or the CPU when it names CUDA and CUDA is not available (lm-eval's hf rule);
    each data-parallel process on a GPU machine takes the GPU of its LOCAL_RANK."""
    cuda = torch.cuda.is_available()
    if parallel and cuda:
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    if device is None:
        return "cuda" if cuda else "cpu"
    device = str(device)
    if device.startswith("cuda") and not cuda:
        log.warning("classit model: device=%s asked but CUDA is not available; using the CPU "
                    "(pass --device cpu to choose it).", device)
        return "cpu"
    return device

"""Probes of what a model honours, run once per model before the engine relies on it:
a 4-D tree attention mask with explicit positions, a KV cache read back, an LM head that can
be applied to chosen positions; and the attention setting the engine runs under."""

from __future__ import annotations

import contextlib
import inspect
import os

import torch

GQA_VARIABLE = "TRANSFORMERS_SDPA_FORCE_GQA"


def tree_masks_work(base, cache_argument: str) -> bool:
    """Whether the model honours a 4-D attention mask given with explicit positions, as
    rows packing several segments need: two sequences that part after two tokens, in
    one row, against the second alone."""
    device = base.device
    together = torch.tensor([[1, 2, 3, 4]], device=device)
    mask = torch.tensor([[[[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 0, 1]]]],
                        dtype=torch.bool, device=device)
    try:
        with torch.no_grad(), grouped_heads_in_sdpa():
            packed = base(input_ids=together, attention_mask=mask,
                          position_ids=torch.tensor([[0, 1, 2, 2]], device=device))
            alone = base(input_ids=torch.tensor([[1, 2, 4]], device=device))
    except (TypeError, ValueError, RuntimeError, IndexError):
        return False
    return _agree(_output(packed)[0, 3], _output(alone)[0, 2])


def caches_work(model) -> bool:
    """Whether the model keeps keys and values in a DynamicCache and reads them back, as
    the prefix tree needs: GPT-BERT's causal class takes a cache argument and ignores it
    (it would score each segment without its prefix). Three tokens cached, then a fourth,
    against the four in one call."""
    from transformers import DynamicCache

    base, _ = split_head(model)
    device, argument = base.device, cache_argument(base)
    try:
        with torch.no_grad():
            whole = _output(base(input_ids=torch.tensor([[1, 2, 3, 4]], device=device)))[0, 3]
            cache = DynamicCache()
            base(input_ids=torch.tensor([[1, 2, 3]], device=device), use_cache=True,
                 **{argument: cache})
            if cache.get_seq_length() != 3:
                return False
            step = base(input_ids=torch.tensor([[4]], device=device),
                        position_ids=torch.tensor([[3]], device=device), use_cache=True,
                        **{argument: cache})
    except (TypeError, ValueError, RuntimeError, IndexError, AttributeError):
        return False
    return _agree(_output(step)[0, 0], whole)


def _agree(got: torch.Tensor, expected: torch.Tensor) -> bool:
    """Two computations of the same hidden state agree up to rounding: a relative error
    under 8 units of the dtype's epsilon (at least 1e-3: bfloat16's 0.06). What the probes
    catch (a mask or a cache ignored) is an error of the order of the state itself."""
    tolerance = max(1e-3, 8 * torch.finfo(expected.dtype).eps)
    error = torch.linalg.vector_norm((got - expected).float())
    return bool(error <= tolerance * torch.linalg.vector_norm(expected.float()))


def _output(out) -> torch.Tensor:
    return out.last_hidden_state if hasattr(out, "last_hidden_state") else out.logits


def split_head(model):
    """(decoder, LM head) when `head(decoder(x).last_hidden_state)` is the model's logits,
    so the head can be applied to chosen positions only; else (model, None): the model's own
    logits are used, at every position (e.g. a model that scales or caps its logits)."""
    base, head = getattr(model, "base_model", None), model.get_output_embeddings()
    if base is None or base is model or head is None:
        return model, None
    ids = torch.tensor([[0, 1, 2, 3]], device=model.device)
    with torch.no_grad():
        expected = model(input_ids=ids).logits
        got = head(base(input_ids=ids).last_hidden_state)
    if got.shape != expected.shape or not torch.equal(got, expected):
        return model, None
    return base, head


@contextlib.contextmanager
def grouped_heads_in_sdpa():
    """Let transformers hand grouped key/value heads to torch's SDPA (`enable_gqa`).

    With an attention mask it otherwise copies every cached key and value once per query
    head group first (`repeat_kv`): for short segments after a long prefix, that copy
    took half the time. transformers reads this variable at every attention call.
    """
    old = os.environ.get(GQA_VARIABLE)
    os.environ[GQA_VARIABLE] = "1"
    try:
        yield
    finally:
        if old is None:
            del os.environ[GQA_VARIABLE]
        else:
            os.environ[GQA_VARIABLE] = old


def kv_bytes_per_token(model) -> int:
    """Bytes of keys and values one token position holds in the model's cache (measured)."""
    base = getattr(model, "base_model", model)
    from transformers import DynamicCache

    cache = DynamicCache()
    with torch.no_grad():
        base(input_ids=torch.tensor([[0]], device=model.device), use_cache=True,
             **{cache_argument(base): cache})
    return sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers)


def cache_argument(model) -> str:
    """The keyword a model's forward takes its KV cache by (transformers renamed it)."""
    parameters = inspect.signature(model.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"

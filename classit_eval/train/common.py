"""Helpers shared by the training steps: errors, text files, word counts, configs."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

from huggingface_hub.errors import StrictDataclassError
from transformers import LlamaConfig, PretrainedConfig

from classit_eval.errors import UserError


class TrainError(UserError, ValueError):
    """Bad input to a training step; the message names the file or argument and the fix."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_records(paths: Sequence[Path]) -> list[dict]:
    """What the metadata records of each input file: path, size, sha256."""
    return [
        {"path": str(Path(p).resolve()), "bytes": Path(p).stat().st_size, "sha256": sha256(p)}
        for p in paths
    ]


def count_words(text: str) -> int:
    """Words as BabyLM counts them: whitespace-separated strings."""
    return len(text.split())


def check_text_files(paths: Sequence[Path], what: str = "corpus") -> list[Path]:
    """The files, checked to exist and to hold at least one word."""
    if not paths:
        raise TrainError(f"No {what} files given: pass one or more text files.")
    found = []
    for path in map(Path, paths):
        if not path.is_file():
            raise TrainError(f"{what} file {path} does not exist: check the path.")
        found.append(path)
    if not any(_has_words(p) for p in found):
        names = ", ".join(map(str, found))
        raise TrainError(f"The {what} is empty: {names} hold no words. Pass non-empty text files.")
    return found


def _has_words(path: Path) -> bool:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return any(line.strip() for line in handle)


def iter_lines(paths: Sequence[Path]) -> Iterator[str]:
    """The non-empty lines of text files, stripped."""
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.strip():
                    yield line.strip()


def load_config(path: Path) -> PretrainedConfig:
    """A model config from a JSON file such as `models/llama-100m.json`."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise TrainError(f"Model config {path} does not exist: pass e.g. models/llama-100m.json.")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise TrainError(
            f"Model config {path}, line {err.lineno}: not valid JSON ({err.msg}). "
            "Fix the file, or start from models/llama-100m.json."
        ) from err
    if not isinstance(raw, dict) or raw.get("model_type", "llama") != "llama":
        raise TrainError(f"Model config {path}: expected a LlamaConfig object (model_type llama).")
    check_config_keys(path, raw)
    check_sizes(path, raw, optional=("num_key_value_heads", "head_dim"))
    try:
        config = LlamaConfig.from_dict(raw)
    except (TypeError, ValueError, StrictDataclassError) as err:
        # a failed validator (hidden size not a multiple of the heads) carries its reason
        reason = err.__cause__ if isinstance(err, StrictDataclassError) and err.__cause__ else err
        raise TrainError(f"Model config {path} does not make a LlamaConfig: {reason} Fix the "
                         "file, or start from models/llama-100m.json.") from err
    check_llama(path, config)
    return config


SIZES = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
         "num_attention_heads", "num_key_value_heads", "max_position_embeddings", "head_dim")


def check_sizes(path: Path, values: dict, optional: tuple[str, ...] = ()) -> None:
    """Each of SIZES in `values` is a whole number of at least 1 (`optional` ones may be
    null: LlamaConfig derives them); 0 would divide by zero, -1 fail in torch."""
    for name in SIZES:
        value = values.get(name)
        if name in values and not (value is None and name in optional) and (
                type(value) is not int or value < 1):
            raise TrainError(f"Model config {path}: {name} is {json.dumps(value)}; it must be "
                             "a whole number of at least 1.")


def check_llama(path: Path, config: LlamaConfig) -> None:
    """What a LlamaConfig does not check but its model needs: grouped heads, an even head
    size (rotary embeddings), a known activation, a dropout in [0, 1), positive eps."""
    from transformers.activations import ACT2FN

    check_sizes(path, {name: getattr(config, name) for name in SIZES})
    heads, groups = config.num_attention_heads, config.num_key_value_heads
    theta = (config.rope_parameters or {}).get("rope_theta")
    problems = [
        (heads % groups != 0, f"num_attention_heads {heads} is not a multiple of "
                              f"num_key_value_heads {groups}"),
        (config.head_dim % 2 != 0, f"head_dim {config.head_dim} (hidden_size / "
                                   "num_attention_heads, unless given) is odd; rotary "
                                   "position embeddings need it even"),
        (not isinstance(config.hidden_act, str) or config.hidden_act not in ACT2FN,
         f"hidden_act {json.dumps(config.hidden_act)} is not an activation transformers "
         "knows (e.g. silu)"),
        (not _number_in(config.attention_dropout, 0, 1, upper_open=True),
         f"attention_dropout {json.dumps(config.attention_dropout)} is not in [0, 1)"),
        (not _number_in(config.rms_norm_eps, 0, math.inf, lower_open=True),
         f"rms_norm_eps {json.dumps(config.rms_norm_eps)} is not a number above 0"),
        (not _number_in(theta, 0, math.inf, lower_open=True),
         f"rope_theta {json.dumps(theta)} is not a number above 0"),
    ]
    for failed, what in problems:
        if failed:
            raise TrainError(f"Model config {path}: {what}. Fix the file, or start from "
                             "models/llama-100m.json.")


def _number_in(value: object, low: float, high: float, lower_open: bool = False,
               upper_open: bool = False) -> bool:
    """`value` is a number (not a bool) within [low, high], ends open where asked."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return False
    above = value > low if lower_open else value >= low
    below = value < high if upper_open else value <= high
    return above and below


# Keys a LlamaConfig file may hold besides its fields: what transformers writes into every
# config.json, and the older names it still reads (rope_theta -> rope_parameters)
CONFIG_EXTRA_KEYS = frozenset({
    "model_type", "_name_or_path", "name_or_path", "transformers_version", "torch_dtype",
    "output_attentions", "rope_theta", "rope_scaling", "partial_rotary_factor", "num_labels",
    "_commit_hash", "attn_implementation", "_attn_implementation",
})


def check_config_keys(path: Path, raw: dict) -> None:
    """A TrainError naming each key of a config file that LlamaConfig does not have:
    transformers keeps such a key as a stray attribute, so a misspelled `hidden_size`
    would silently build the 4,096-wide default."""
    own = list(LlamaConfig.__annotations__)  # the model's fields, in declaration order
    known = {f.name for f in dataclasses.fields(LlamaConfig)} | CONFIG_EXTRA_KEYS
    unknown = [key for key in raw if key not in known]
    if unknown:
        hints = []
        for key in unknown:
            near = difflib.get_close_matches(key, own, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
        raise TrainError(f"Model config {path}: unknown key {', '.join(hints)}; a LlamaConfig "
                         f"has {', '.join(own)}. Fix or remove the key.")


def parse_words(text: str) -> int:
    """`10M` -> 10_000_000, `500k` -> 500_000, `1B`, `1200`."""
    units = {"k": 10**3, "m": 10**6, "b": 10**9}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError as err:
        raise TrainError(f"Not a word count: {text!r}; write e.g. 500k, 10M, 1B.") from err


def words_label(words: int) -> str:
    """The BabyLM revision name of a word count: 1M -> chck_1M, 500k -> chck_500K."""
    for unit, size in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if words >= size and words % size == 0:
            return f"chck_{words // size}{unit}"
    return f"chck_{words}"


def babylm_milestones() -> list[int]:
    """BabyLM checkpoint word counts: 1M..10M by 1M, 20M..100M by 10M, 200M..1B by 100M."""
    million = 10**6
    return (
        [i * million for i in range(1, 11)]
        + [i * 10 * million for i in range(2, 11)]
        + [i * 100 * million for i in range(2, 11)]
    )


def flops_per_token(model, seq_len: int) -> float:
    """Training FLOPs per token of a LLaMA model at `seq_len`: 6 per weight that multiplies
    (all but the input embedding, a lookup), plus causal attention, 6 x layers x (heads x
    head_dim) x seq_len (QK^T and AV, forward and backward, half of the square). For
    models/llama-100m.json at 6,000 tokens: 0.92 GFLOP, the figure of issue #15."""
    config = model.config
    weights = sum(p.numel() for p in model.parameters())
    weights -= model.get_input_embeddings().weight.numel()
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    width = config.num_attention_heads * head_dim
    return 6.0 * weights + 6.0 * config.num_hidden_layers * width * seq_len

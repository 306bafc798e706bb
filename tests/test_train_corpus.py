"""The tokenised-corpus cache (classit_eval.train.corpus) on the real BabyLM samples: exact
word counts, a second preparation that reads the cache instead of tokenising, keys that
follow the files and the tokenizer, and no half entry after a crash."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoTokenizer

from classit_eval import cli
from classit_eval.train import corpus, metadata
from classit_eval.train.common import file_records, iter_lines
from classit_eval.train.pretrain import corpus_stage, pack

SOURCES = ("bnc_spoken", "gutenberg", "open_subtitles", "simple_wiki")


@pytest.fixture(autouse=True)
def token_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "token-cache"
    monkeypatch.setenv(corpus.CACHE_ENV, str(cache))
    return cache


@pytest.fixture(scope="module")
def tokenizer(tiny_model: Path):
    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture(scope="module")
def files(shared_data: Path) -> list[Path]:
    samples = shared_data / "corpora" / "babylm-samples"
    return [samples / "train_100k" / f"{name}.train" for name in ("bnc_spoken", "simple_wiki")]


def reference_flags(tokenizer, line: str) -> tuple[list[int], list[int]]:
    """The word starts as `pack` flagged them before the cache: token by token, in Python."""
    encoded = tokenizer(line, return_offsets_mapping=True)
    starts = [m.start() for m in re.finditer(r"\S+", line)]
    flags, j = [], 0
    for _, end in encoded["offset_mapping"]:
        hit = 0
        while j < len(starts) and starts[j] < end:
            hit, j = 1, j + 1
        flags.append(hit)
    return encoded["input_ids"] + [tokenizer.eos_token_id], flags + [0]


def test_encoding_credits_every_word_to_one_token(tokenizer, shared_data: Path) -> None:
    """The vectorised encoding gives the ids and flags of the token-by-token reference on
    lines of every source (unicode, tabs, punctuation), and one flag per BabyLM word."""
    samples = shared_data / "corpora" / "babylm-samples"
    paths = [samples / "train_100k" / f"{name}.train" for name in SOURCES]
    paths.append(samples / "train_10M" / "switchboard.train")
    for path in paths:
        lines = list(iter_lines([path]))[:400]
        ids, flags = corpus.encode_lines(tokenizer, lines)
        expected_ids, expected_flags = [], []
        for line in lines:
            line_ids, line_flags = reference_flags(tokenizer, line)
            expected_ids += line_ids
            expected_flags += line_flags
        assert ids.tolist() == expected_ids, path.name
        assert flags.tolist() == expected_flags, path.name
        assert int(flags.sum()) == sum(len(line.split()) for line in lines), path.name


def test_the_second_preparation_reads_the_cache(
    tokenizer, files: list[Path], token_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = file_records(files)
    first, tokens = corpus_stage(tokenizer, files, records, 64, None)
    assert not tokens.hit and tokens.folder.parent == token_cache
    assert sorted(p.name for p in tokens.folder.iterdir()) == [
        "meta.json", "starts.bin", "tokens.bin"]
    assert tokens.tokens.dtype == np.uint16  # a vocabulary of 600 fits

    def no_tokenising(*args, **kwargs):
        raise AssertionError("the tokenizer was called on a cache hit")

    with monkeypatch.context() as patch:
        patch.setattr(corpus, "encode_files", no_tokenising)
        second, tokens = corpus_stage(tokenizer, files, records, 64, None)
    assert tokens.hit
    assert second.words == first.words and len(second.examples) == len(first.examples)
    assert all((second.examples[i] == first.examples[i]).all()
               for i in (0, 17, len(first.examples) - 1))

    # the sequences and word counts of the in-memory packing, every word counted once
    rows, words = pack(tokenizer, files, 64)
    assert words == first.words and len(rows) == len(first.examples)
    assert all((rows[i] == first.examples[i]).all() for i in range(len(rows)))
    assert first.labels == [63] * len(rows) and first.tokens == [64] * len(rows)
    # the sequence length is not in the key; with 1 token per sequence nothing is dropped
    whole, tokens = corpus_stage(tokenizer, files, records, 1, None)
    assert tokens.hit
    assert sum(whole.words) == sum(len(line.split()) for line in iter_lines(files))


def test_the_key_follows_the_files_and_the_tokenizer(
    tokenizer, files: list[Path], tiny_model: Path, tmp_path: Path
) -> None:
    hashes = [r["sha256"] for r in file_records(files)]
    entry = corpus.prepare(tokenizer, files, hashes).folder
    assert corpus.prepare(tokenizer, files, hashes).folder == entry
    assert corpus.prepare(tokenizer, files[::-1], hashes[::-1]).folder != entry  # order

    changed = tmp_path / "changed.train"
    changed.write_text(files[1].read_text(encoding="utf-8") + "One more line.\n")
    other = corpus.prepare(tokenizer, [files[0], changed],
                           [r["sha256"] for r in file_records([files[0], changed])])
    assert not other.hit and other.folder != entry

    retrained = tmp_path / "tokenizer"
    assert cli.train_main(["tokenizer", str(files[0]), "--vocab-size", "700",
                     "--out", str(retrained)]) == 0
    again = corpus.prepare(AutoTokenizer.from_pretrained(retrained), files, hashes)
    assert not again.hit and again.folder != entry
    assert corpus.tokenizer_hash(AutoTokenizer.from_pretrained(tiny_model)) == (
        corpus.tokenizer_hash(tokenizer))


def test_a_killed_preparation_leaves_no_entry(
    tokenizer, files: list[Path], token_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashes = [r["sha256"] for r in file_records(files)]
    real = corpus.encode_files

    def crash_after_one_chunk(*args, **kwargs):
        chunks = real(*args, **kwargs, chunk_chars=10_000)
        yield next(chunks)
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(corpus, "encode_files", crash_after_one_chunk)
        corpus.prepare(tokenizer, files, hashes)
    assert not [p for p in token_cache.iterdir() if "." not in p.name]  # only tmp and lock
    tokens = corpus.prepare(tokenizer, files, hashes)
    assert not tokens.hit and not list(token_cache.glob("*.tmp-*"))


def test_long_lines_are_tokenised_in_pieces_with_the_same_result(tokenizer,
                                                                 files: list[Path]) -> None:
    """The samples are one line per file (over 500k characters): cut into pieces of at most
    10,000 characters, before single spaces, they give the same tokens and word starts, so
    the memory of tokenising stays bounded whatever the lines."""
    assert all(len(line) > 500_000 for line in iter_lines(files))
    whole = list(corpus.encode_files(tokenizer, files))
    assert len(whole) == 1
    cut = list(corpus.encode_files(tokenizer, files, chunk_chars=10_000))
    assert len(cut) > 50
    for part in (0, 1):
        assert (np.concatenate([c[part] for c in cut]) == whole[0][part]).all()
    pieces = list(corpus.pieces(iter_lines(files), 10_000))
    assert max(len(p.text) for p in pieces) <= 10_000
    assert sum(p.first for p in pieces) == sum(p.last for p in pieces) == len(files)
    assert all(p.text.startswith(" ") and not p.text[1].isspace() for p in pieces if not p.first)


def test_pretrain_tokenises_once(tiny_model: Path, files: list[Path], tmp_path: Path,
                                 capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "tiny.json"
    shutil.copy(tiny_model / "config.json", config)
    argv = ["pretrain", str(files[0]), "--config", str(config), "--tokenizer", str(tiny_model),
            "--seq-len", "32", "--max-steps", "2", "--warmup-steps", "1",
            "--checkpoint-words", "1M"]
    assert cli.train_main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert "tokenised in" in capsys.readouterr().out
    assert cli.train_main([*argv, "--out", str(tmp_path / "b")]) == 0
    assert "cached in" in capsys.readouterr().out
    assert metadata.read(tmp_path / "a")["words_seen"] == metadata.read(tmp_path / "b")[
        "words_seen"] > 0

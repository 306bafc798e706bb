"""The pretraining corpus, tokenised once into memory-mapped files and read lazily.

Tokenising the 100M-word BabyLM corpus takes many minutes; it used to happen at the start
of every run, in memory, on every process. Here each (corpus, tokenizer) is tokenised once
into a cache entry, a folder of two flat files:

- `tokens.bin`: the ids of every non-empty line as `<s> line </s>`, concatenated (uint16
  when the vocabulary fits, else uint32);
- `starts.bin`: one byte per token, 1 when the token holds the first character of a word
  (BabyLM's words: whitespace-separated strings), so that word counts stay exact.

The entry's name is a hash of the files' sha256 (in order), the tokenizer (its
`tokenizer.json`, as `backend_tokenizer.to_str()` gives it, and its `</s>` id) and this
format's version; the sequence length is not part of it: `Sequences` cuts the flat file
when it is read. Lines are read, tokenised and appended about a million characters at a
time (a longer line in pieces), so memory stays bounded at any corpus size. An entry is
written to a temporary folder and renamed into place (a killed run leaves no half entry),
under a lock (the processes of one torchrun tokenise once).
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np
import torch
from tokenizers import Encoding
from transformers import PreTrainedTokenizerBase

from classit_eval.data.files import cache_dir
from classit_eval.train.common import TrainError, iter_lines

FORMAT = 1  # bump when the files' layout or meaning changes: old entries are then unused
CACHE_ENV = "CLASSIT_TOKEN_CACHE"
CHUNK_CHARS = 1 << 20  # characters tokenised at a time (~250k tokens, ~150 MB at most)
# Python's \s (str.isspace) below U+3001: what separates BabyLM's words
WHITESPACE = np.array([c for c in range(0x3001) if chr(c).isspace()], dtype=np.uint32)


def default_cache() -> Path:
    """$CLASSIT_TOKEN_CACHE, else `tokens/` in the user cache of classit-eval."""
    return Path(os.environ.get(CACHE_ENV) or cache_dir() / "tokens")


@dataclass(frozen=True)
class Piece:
    """A line, or a part of a line too long to tokenise at once."""

    text: str
    first: bool  # the line starts here: `<s>` before it
    last: bool  # the line ends here: `</s>` after it


def pieces(lines: Iterable[str], size: int = CHUNK_CHARS) -> Iterator[Piece]:
    """Each line as one piece; a line over `size` characters in pieces of at most `size`,
    each cut before a single space between two words. A byte-level BPE never joins tokens
    across such a space (it starts a pre-token), so the pieces give the line's tokens."""
    for line in lines:
        start = 0
        while len(line) - start > size:
            cut = line.rfind(" ", start + 1, start + size)
            while cut > start and (line[cut - 1].isspace() or line[cut + 1].isspace()):
                cut = line.rfind(" ", start + 1, cut)
            cut = cut if cut > start else start + size  # no space to cut at: cut anyway
            yield Piece(line[start:cut], start == 0, False)
            start = cut
        yield Piece(line[start:], start == 0, True)


def encode_lines(tokenizer: PreTrainedTokenizerBase,
                 lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids (int64) of `<s> line </s>` for each line, and their word-start flags (uint8)."""
    return encode_pieces(tokenizer, [Piece(line, True, True) for line in lines])


def encode_pieces(tokenizer: PreTrainedTokenizerBase,
                  chunk: list[Piece]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids (int64) and word-start flags (uint8) of pieces of lines.

    A token is flagged when a word's first character lies before its end and after the
    end of the tokens before it: each word is credited to exactly one token, the one
    holding its first character (offsets are characters of the piece).
    """
    backend = tokenizer.backend_tokenizer
    found: dict[int, Encoding] = {}
    for special in (True, False):  # `<s>` (the post-processor's tokens) at line starts only
        which = [i for i, piece in enumerate(chunk) if piece.first == special]
        texts = [chunk[i].text for i in which]
        found.update(zip(which, backend.encode_batch(texts, add_special_tokens=special),
                         strict=True))
    encodings = [found[i] for i in range(len(chunk))]
    sizes = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(chunk))
    ids = np.fromiter(itertools.chain.from_iterable(e.ids for e in encodings), dtype=np.int64)
    offsets = np.fromiter(itertools.chain.from_iterable(
        itertools.chain.from_iterable(e.offsets for e in encodings)), dtype=np.int64)
    # the pieces joined by "\n" as code points: word starts are non-space after space (a
    # piece cut inside a word, which has no space to cut at, counts one word more)
    text = "\n".join(piece.text for piece in chunk)
    chars = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    space = np.isin(chars, WHITESPACE)
    start = ~space & np.concatenate(([True], space[:-1]))
    before = np.concatenate(([0], np.cumsum(start)))  # word starts before each character
    piece_start = np.concatenate(([0], np.cumsum([len(p.text) + 1 for p in chunk])[:-1]))
    ends = offsets[1::2] + np.repeat(piece_start, sizes)
    seen = np.maximum.accumulate(before[ends])  # words credited up to each token
    flags = np.diff(seen, prepend=0) > 0
    # `</s>` after each line's last piece, flagged 0
    bounds = np.cumsum(sizes)[[piece.last for piece in chunk]]
    ids = np.insert(ids, bounds, tokenizer.eos_token_id)
    flags = np.insert(flags, bounds, False).astype(np.uint8)
    return ids, flags


def encode_files(tokenizer: PreTrainedTokenizerBase, files: Sequence[Path],
                 chunk_chars: int = CHUNK_CHARS) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """`encode_pieces` over the non-empty lines of the files, about `chunk_chars`
    characters at a time: the memory it takes is bounded, whatever the corpus."""
    chunk, size = [], 0
    for piece in pieces(iter_lines(files), chunk_chars):
        chunk.append(piece)
        size += len(piece.text)
        if size >= chunk_chars:
            yield encode_pieces(tokenizer, chunk)
            chunk, size = [], 0
    if chunk:
        yield encode_pieces(tokenizer, chunk)


def tokenizer_hash(tokenizer: PreTrainedTokenizerBase) -> str:
    """What decides the token ids: the tokenizer's JSON (vocabulary, merges, processors)."""
    if not getattr(tokenizer, "is_fast", False):
        raise TrainError("Pretraining needs a fast tokenizer (a folder with tokenizer.json), "
                         "such as `classit-train tokenizer` makes.")
    digest = hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode("utf-8"))
    digest.update(f"eos={tokenizer.eos_token_id}".encode())
    return digest.hexdigest()


@dataclass
class TokenFile:
    """A cache entry opened for reading: the flat token ids and word-start flags."""

    folder: Path
    tokens: np.ndarray  # memory-mapped, read-only
    starts: np.ndarray
    hit: bool  # True when the entry was there already

    def sequences(self, seq_len: int) -> Sequences:
        return Sequences(self.tokens, seq_len)

    def words(self, seq_len: int, block: int = 1 << 24) -> np.ndarray:
        """Words starting in each of the `len(self.sequences(seq_len))` sequences."""
        n = len(self.tokens) // seq_len
        rows = max(1, block // seq_len)
        return np.concatenate([
            self.starts[i * seq_len : min(n, i + rows) * seq_len].reshape(-1, seq_len).sum(1)
            for i in range(0, n, rows)
        ] or [np.zeros(0, dtype=np.int64)])


class Sequences(Sequence):
    """Sequence `i` is tokens `[i * seq_len, (i + 1) * seq_len)` of the flat file, read when
    asked for (the short rest is dropped)."""

    def __init__(self, tokens: np.ndarray, seq_len: int) -> None:
        self.flat, self.seq_len = tokens, seq_len

    def __len__(self) -> int:
        return len(self.flat) // self.seq_len

    @overload
    def __getitem__(self, i: int) -> torch.Tensor: ...

    @overload
    def __getitem__(self, i: slice) -> list[torch.Tensor]: ...

    def __getitem__(self, i: int | slice) -> torch.Tensor | list[torch.Tensor]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not 0 <= i < len(self):
            raise IndexError(i)
        row = self.flat[i * self.seq_len : (i + 1) * self.seq_len]
        return torch.from_numpy(row.astype(np.int64))


def prepare(tokenizer: PreTrainedTokenizerBase, files: Sequence[Path], hashes: Sequence[str],
            cache: Path | None = None) -> TokenFile:
    """The cache entry of `files` (whose sha256 are `hashes`) for `tokenizer`, made if missing."""
    cache = Path(cache) if cache is not None else default_cache()
    key = hashlib.sha256(json.dumps(
        {"format": FORMAT, "files": list(hashes), "tokenizer": tokenizer_hash(tokenizer)}
    ).encode()).hexdigest()[:32]
    folder = cache / key
    if (folder / "meta.json").is_file():  # complete: read it, even from a read-only cache
        return _open(folder, hit=True)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with _locked(cache / f"{key}.lock"):
            hit = (folder / "meta.json").is_file()  # made by a process we waited for
            if not hit:
                _write(tokenizer, files, hashes, folder)
    except OSError as err:
        raise TrainError(f"Cannot write the token cache {cache} ({err.strerror or err}): pass "
                         f"--token-cache DIR (or set ${CACHE_ENV}) to a writable folder.") from err
    return _open(folder, hit)


def _write(tokenizer: PreTrainedTokenizerBase, files: Sequence[Path], hashes: Sequence[str],
           folder: Path) -> None:
    """Tokenise into a temporary folder beside `folder`, then rename it into place."""
    dtype = np.uint16 if len(tokenizer) <= 1 << 16 else np.uint32
    for leftover in [folder, *folder.parent.glob(f"{folder.name}.tmp-*")]:
        shutil.rmtree(leftover, ignore_errors=True)  # of a killed run: we hold the lock
    temporary = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    temporary.mkdir()
    count = words = 0
    with open(temporary / "tokens.bin", "wb") as tokens, \
            open(temporary / "starts.bin", "wb") as starts:
        for ids, flags in encode_files(tokenizer, files):
            tokens.write(ids.astype(dtype).tobytes())
            starts.write(flags.tobytes())
            count, words = count + len(ids), words + int(flags.sum())
        for handle in (tokens, starts):
            handle.flush()
            os.fsync(handle.fileno())
    meta = {"format": FORMAT, "dtype": np.dtype(dtype).name, "tokens": count, "words": words,
            "files": [{"path": str(Path(f).resolve()), "sha256": h}
                      for f, h in zip(files, hashes, strict=True)],
            "tokenizer": tokenizer_hash(tokenizer), "vocab_size": len(tokenizer)}
    (temporary / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    os.rename(temporary, folder)


def _open(folder: Path, hit: bool) -> TokenFile:
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    n = meta["tokens"]
    tokens = np.memmap(folder / "tokens.bin", dtype=meta["dtype"], mode="r", shape=(n,))
    starts = np.memmap(folder / "starts.bin", dtype=np.uint8, mode="r", shape=(n,))
    return TokenFile(folder, tokens, starts, hit)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (made if missing) for the duration of the block."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

"""The model half of the AoA data: CDI words and the natural contexts that precede them.

`full_eval/aoa/cdi_childes.json` maps each of 504 CDI words to a list of contexts (C4 text
ending right before the word): `{word: [{"context": ..., "word_in_context_stats": ...}]}`.
An item is one (word, context); `context_id` is the context's index in its word's list, as
the official pipeline numbers it. Words with no context (19 in the real file) are kept in
`Words.words` and listed in `Words.empty`: they have no surprisal and so no AoA.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from classit_eval.data.files import find_file
from classit_eval.errors import DataError
from classit_eval.families import AOA

WORDS_FILE = AOA.full
HUMAN_FILE = "full_eval/aoa/cdi_human.csv"
TASK = AOA.task


@dataclass(frozen=True)
class WordContext:
    """One (word, context) to score: the word right after the context."""

    word: str
    context_id: int
    context: str


@dataclass
class Words:
    """The items in file order (word by word, contexts in order), and every word."""

    items: list[WordContext]
    words: list[str]
    contexts: dict[str, int] = field(default_factory=dict)  # word -> number of contexts

    @property
    def empty(self) -> list[str]:
        return [w for w in self.words if self.contexts[w] == 0]


def read_words(path: str | os.PathLike | None = None,
               data_dir: str | os.PathLike | None = None) -> Words:
    """The items of `path`, else of the data root's `full_eval/aoa/cdi_childes.json`."""
    if path is not None:
        name, text = str(path), _read(Path(path))
    else:
        source = find_file(WORDS_FILE, data_dir, task=TASK)
        name, text = str(source), source.read_text()
    try:
        data = json.loads(text)
    except ValueError as err:
        raise DataError(f"{name}: not JSON ({err}).") from err
    if not isinstance(data, dict) or not data:
        raise DataError(f"{name}: expected {{word: [{{\"context\": ...}}, ...]}}, the layout "
                        "of the official cdi_childes.json.")
    items, counts = [], {}
    for word, entries in data.items():
        if not word.strip():
            raise DataError(f"{name}: an empty word (key {word!r}); every key must be a word.")
        if not isinstance(entries, list):
            raise DataError(f"{name}: the contexts of {word!r} are not a list.")
        for k, entry in enumerate(entries):
            context = entry.get("context") if isinstance(entry, dict) else None
            if not isinstance(context, str):
                raise DataError(f"{name}: context {k} of {word!r} has no \"context\" text.")
            items.append(WordContext(word, k, context))
        counts[word] = len(entries)
    return Words(items, list(data), counts)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise DataError(f"{path}: cannot read the AoA words file ({err.strerror}).") from err
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: the AoA words file is not UTF-8 text (byte {err.start}); "
                        "JSON is UTF-8.") from err

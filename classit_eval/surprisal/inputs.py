"""The texts of `classit-eval surprisal`: a plain text file or a CSV/TSV with a text column.

- lines (any other suffix): one sentence (or text) a line; a blank line ends an item (a
  paragraph), so a whole text file is one item;
- CSV / TSV (`.csv`, `.tsv`): the column `--text-column`, items by `--item-column`
  (consecutive rows with the same value) or the whole file as one item.

`context="line"` scores every line alone; `context="item"` scores an item's lines as one
running text, each line conditioned on the ones before it. Every line is checked before
the model is loaded: an empty file, a missing column or a line that is not UTF-8 is one
DataError naming the file and the line.
"""

from __future__ import annotations

import csv
from pathlib import Path

from classit_eval.errors import DataError
from classit_eval.surprisal.core import Text

CONTEXTS = ("line", "item")
TABLES = {".csv": ",", ".tsv": "\t"}


def _decoded(path: Path) -> list[str]:
    """The file's lines, each checked to be UTF-8 (the first bad one is named)."""
    lines = []
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            lines.append(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
        except UnicodeDecodeError as err:
            raise DataError(f"{path}: line {number} is not UTF-8 text (byte {err.start + 1}: "
                            f"{raw[err.start:err.start + 1]!r}); save the file as UTF-8."
                            ) from None
    return lines


def read_texts(path: Path, context: str = "line", text_column: str = "text",
               item_column: str | None = None) -> list[Text]:
    """The texts to score, as `context` groups them."""
    lines = _decoded(path)
    separator = TABLES.get(path.suffix.lower())
    groups: list[tuple[str, list[tuple[int, str]]]] = []  # (item, [(line, text)])
    if separator is None:
        item = 1
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                if groups and groups[-1][1]:
                    item += 1
                continue
            if not groups or groups[-1][0] != str(item):
                groups.append((str(item), []))
            groups[-1][1].append((number, line.strip()))
    else:
        groups = _table(path, lines, separator, text_column, item_column)
    if not groups:
        raise DataError(f"{path}: no text to score (the file is empty or blank); give one "
                        "sentence a line, or a CSV/TSV with a text column.")
    if context == "item":
        return [Text(item, tuple(rows)) for item, rows in groups]
    return [Text(item if separator is not None and item_column else str(n), ((n, text),))
            for item, rows in groups for n, text in rows]


def _table(path: Path, lines: list[str], separator: str, text_column: str,
           item_column: str | None) -> list[tuple[str, list[tuple[int, str]]]]:
    reader = csv.reader(lines, delimiter=separator)
    header = next(reader, None)
    if not header:
        raise DataError(f"{path}: the file is empty; a CSV/TSV needs a header row with the "
                        f"column {text_column!r}.")
    for name, option in ((text_column, "--text-column"), (item_column, "--item-column")):
        if name is not None and name not in header:
            raise DataError(f"{path}: no column {name!r} (columns: {', '.join(header)}); "
                            f"name the right one with {option}.")
    text_at = header.index(text_column)
    item_at = header.index(item_column) if item_column else None
    groups: list[tuple[str, list[tuple[int, str]]]] = []
    for row in reader:
        number = reader.line_num
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(f"{path}: line {number} has {len(row)} fields, the header "
                            f"{len(header)}; quote fields that hold a {separator!r}.")
        text = row[text_at].strip()
        if not text:
            raise DataError(f"{path}: line {number} has an empty {text_column!r}; drop the "
                            "row or give it a text.")
        item = row[item_at] if item_at is not None else "1"
        if not groups or groups[-1][0] != item:
            groups.append((item, []))
        groups[-1][1].append((number, text))
    return groups

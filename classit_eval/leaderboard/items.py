"""The official items of each submission key, read from the evaluation data.

For every zero-shot family, the items in the order the official pipeline numbers them,
grouped under its subtask keys (the BLiMP `UID`, the supplement file, the EWoK `Domain`,
`<file>_<numops>_ops` for entity tracking, the task name for WUG), each with its
candidates as the official `pred` spells them (the whole sentence; `" " + Target` for
EWoK; the bare option for entity tracking) and what the official scorer compares the
prediction with. The export turns sample logs into predictions with these strings; the
check compares predictions with them.
"""

from __future__ import annotations

import functools
import os
from collections import defaultdict
from dataclasses import dataclass

from classit_eval.data.files import find_files, read_jsonl
from classit_eval.families import FAMILIES, GLUE_FOLDER, Family
from classit_eval.names import comps_subset


@dataclass(frozen=True)
class Item:
    """One official item: its candidates (gold first) and, for WUG, the human ratio."""

    candidates: tuple[str, ...]
    gold: str  # the string the official scorer compares `pred.strip()` with
    ratio: float | None = None
    whole: bool = False  # a candidate is its request's context + continuation (COMPS)


Items = dict[str, list[Item]]  # subtask key -> items, in the official numbering order


def file_items(family: Family, fast: bool,
               data_dir: str | os.PathLike | None = None) -> dict[str, list[tuple[str, Item]]]:
    """Each data file's items in line order, with their subtask keys, by file stem."""
    return _file_items(family.key, fast, str(data_dir) if data_dir else None)


@functools.cache  # the data does not change within a process; callers do not mutate it
def _file_items(key: str, fast: bool, data_dir: str | None) -> dict[str, list[tuple[str, Item]]]:
    family = FAMILIES[key]
    folder = family.fast if fast else family.full
    if folder is None:
        raise ValueError(f"{family.key} has no fast data")
    return {source.name: [_decode(family, source.name, record) for record in read_jsonl(source)]
            for source in find_files(folder, data_dir, task=family.task)}


def family_items(family: Family, fast: bool, data_dir: str | os.PathLike | None = None) -> Items:
    """The items of a zero-shot family (not reading) by subtask key, in official order."""
    out: Items = defaultdict(list)
    for lines in file_items(family, fast, data_dir).values():
        for key, item in lines:
            out[key].append(item)
    return dict(out)


def _decode(family: Family, stem: str, r: dict) -> tuple[str, Item]:
    """The subtask key and item of one data line, as the official reader decodes it."""
    if family.key in ("blimp", "blimp_supplement"):
        key = r["UID"] if "field" in r else stem
        good, bad = r["sentence_good"], r["sentence_bad"]
        return key, Item((good, bad), good.strip())
    if family.key == "ewok":
        return r["Domain"], Item((" " + r["Target1"], " " + r["Target2"]), r["Target1"].strip())
    if family.key == "entity_tracking":
        options = tuple(r["options"])
        return f"{stem}_{r['numops']}_ops", Item(options, options[0].strip())
    if family.key in ("wug_adj", "wug_past"):
        candidates = tuple(r["sentences"].split("\t"))
        return family.key, Item(candidates, candidates[0].strip(), float(r["ratio"]))
    if family.key == "comps":
        good = " ".join([r["prefix_acceptable"], r["property_phrase"]])
        bad = " ".join([r["prefix_unacceptable"], r["property_phrase"]])
        return comps_subset(stem), Item((good, bad), good.strip(), whole=True)
    raise ValueError(f"{family.key} is not a family of sentence items")


def glue_labels(task: str, data_dir: str | os.PathLike | None = None) -> list[int]:
    """The gold labels of a (Super)GLUE task's validation file, in file order."""
    from classit_eval.data.files import find_file

    source = find_file(f"{GLUE_FOLDER}/{task}.valid.jsonl", data_dir, task=task)
    return [int(r["label"]) for r in read_jsonl(source, ("label",))]


def reading_csv(fast: bool, data_dir: str | os.PathLike | None = None):
    """The reading csv as the official reader sees it (see classit_eval.reading.dataset);
    one shared frame: copy it before changing it."""
    return _reading_csv(fast, str(data_dir) if data_dir else None)


@functools.cache
def _reading_csv(fast: bool, data_dir: str | None):
    from classit_eval.reading import dataset

    return dataset.load_csv(dataset.find_csv(data_dir, fast=fast))


"""A model's checkpoint series: BabyLM's revision names, the tracks' lists, and finding them.

BabyLM names a checkpoint by the words it has seen (`chck_10M`), and a track requires a
fixed list of them (the official `collate_preds.py`). A series is a local folder of
`chck_*` subfolders (as `classit-eval train pretrain` writes them) or the branches of a hub
model. The leaderboard run and the AoA task both read series, so this lives in `data/`.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from classit_eval.errors import OptionError

STRICT_SMALL_REVISIONS = (
    [f"chck_{i}M" for i in range(1, 10)] + [f"chck_{i * 10}M" for i in range(1, 11)]
)
OTHER_REVISIONS = (
    [f"chck_{i}M" for i in range(1, 10)] + [f"chck_{i * 10}M" for i in range(1, 10)]
    + [f"chck_{i * 100}M" for i in range(1, 11)]
)
TRACKS: dict[str, list[str]] = {
    "strict-small": STRICT_SMALL_REVISIONS,
    "strict": OTHER_REVISIONS,
    "interaction": OTHER_REVISIONS,
    "multimodal": OTHER_REVISIONS,
}
FINAL = "main"  # the revision name of the final model, as the official scripts call it

REVISION_WORDS = re.compile(r"chck_(\d+)([KMB]?)")
UNITS = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9}
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def plain_name(name: str) -> bool:
    """A folder name that stays one folder: letters, digits, `_.+-`, no `..`."""
    return bool(PLAIN_NAME.fullmatch(name)) and ".." not in name


def revision_words(revision: str) -> int | None:
    """Words seen by a checkpoint named as BabyLM names them: chck_10M -> 10_000_000."""
    match = REVISION_WORDS.fullmatch(revision)
    return int(match[1]) * UNITS[match[2]] if match else None


def check_revision(name: str) -> str:
    """A revision name as a folder name: BabyLM's `chck_<N>[KMB]`, or a plain name (a hub
    branch, `main`); never a path (no separator, no `..`, not absolute)."""
    if not (REVISION_WORDS.fullmatch(name) or plain_name(name)):
        raise OptionError(f"revision {name!r}: write a checkpoint name such as chck_1M (or a "
                          "plain branch name: letters, digits, _ . + -), not a path")
    return name


def check_revisions(names: list[str]) -> list[str]:
    """Revision names, each once: a repeated name, or two names of the same word count
    (`chck_1M`, `chck_1000K`), would be two entries of one checkpoint in the curve."""
    seen: dict[object, str] = {}
    for name in map(check_revision, names):
        key = revision_words(name) or name
        if key in seen:
            same = "is listed twice" if seen[key] == name else (
                f"and {seen[key]} name the same checkpoint ({key:,} words)")
            raise OptionError(f"revision {name} {same}: each checkpoint is one entry of the "
                              "learning curve; list it once")
        seen[key] = name
    return names


def revision_list(text: str) -> list[str]:
    """`--revisions chck_1M,chck_2M`: names checked one by one, then as a list."""
    try:
        names = check_revisions([r.strip() for r in text.split(",") if r.strip()])
    except OptionError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if not names:
        raise argparse.ArgumentTypeError("no revision given")
    return names


def track_of(n_revisions: int) -> str | None:
    """The track whose revision list has this length (19: strict-small, 28: the others)."""
    if n_revisions == len(STRICT_SMALL_REVISIONS):
        return "strict-small"
    if n_revisions == len(OTHER_REVISIONS):
        return "strict"
    return None


@dataclass(frozen=True)
class Checkpoint:
    """One model of a series: its revision name and where its weights are."""

    revision: str  # chck_1M, or FINAL
    pretrained: str  # a folder, or a hub name
    hub_revision: str | None = None  # the branch of a hub model

    @property
    def words(self) -> int | None:
        """Words seen, read from the revision name (None: not a `chck_*` name)."""
        return revision_words(self.revision)

    def model_args(self) -> dict[str, str]:
        args = {"pretrained": self.pretrained}
        if self.hub_revision:
            args["revision"] = self.hub_revision
        return args


def find_checkpoints(model: str, revisions: list[str]) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints of `model` for `revisions` (subfolders of a local model, branches of
    a hub one), and the revisions not found."""
    folder = Path(model).expanduser()
    if folder.is_dir():
        found = [Checkpoint(r, str(folder / r)) for r in revisions
                 if (folder / r / "config.json").is_file()]
    else:
        branches = hub_branches(model, revisions)
        found = [Checkpoint(r, model, r) for r in revisions if r in branches]
    names = {c.revision for c in found}
    return found, [r for r in revisions if r not in names]


def hub_branches(model: str, wanted: list[str]) -> set[str]:
    """The branches of a hub model; offline, those of `wanted` in the local cache."""
    from huggingface_hub import HfApi, try_to_load_from_cache

    try:
        return {ref.name for ref in HfApi().list_repo_refs(model).branches}
    except Exception:  # offline, or no such repository: look in the cache
        return {r for r in wanted
                if isinstance(try_to_load_from_cache(model, "config.json", revision=r), str)}


def final_checkpoint(model: str) -> Checkpoint:
    """The final model: the folder itself, or the hub model's default branch."""
    folder = Path(model).expanduser()
    return Checkpoint(FINAL, str(folder) if folder.is_dir() else model)

"""What a BabyLM 2025 submission holds: tracks and their revisions, its keys.

Restated from the official pipeline (github babylm/evaluation-pipeline-2025,
`evaluation_pipeline/collate_preds.py`), which asserts the revisions when it collates a
submission. The task families under the keys, their data and item counts are
`classit_eval.families`; kept as data, in one place, so that the run, the export and the
check agree on them.
"""

from __future__ import annotations

import argparse
import re
from pathlib import PurePosixPath

from classit_eval.errors import OptionError
from classit_eval.families import AOA, FAMILIES, Family, expected_sizes
from classit_eval.leaderboard.sandbox import plain_name

# -- tracks and revisions -------------------------------------------------------------------
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

# The official backends (`--backend` of the official scripts); the file name carries one.
OFFICIAL_BACKENDS = ("causal", "mlm", "mntp", "enc_dec_mask", "enc_dec_prefix")

REVISION_WORDS = re.compile(r"chck_(\d+)([KMB]?)")
UNITS = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9}


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


# -- the submission's keys ------------------------------------------------------------------
GLUE_KEY, AOA_KEY, FAST_RESULTS_KEY = "glue", AOA.key, "fast_eval_results"
SUBMISSION_KEYS = (*FAMILIES, GLUE_KEY, AOA_KEY, FAST_RESULTS_KEY)
# What a run of this package can mark as missing in an exported file (never official).
INCOMPLETE_KEY = "classit_incomplete"

# The single subtask key of a WUG family, and the older pipeline's name for it (the
# reference outputs of 2025's first releases use the data file's name, its folder's).
WUG_FILES = {key: PurePosixPath(FAMILIES[key].full).name for key in ("wug_adj", "wug_past")}


def fast_score_keys(family: Family) -> set[str]:
    """The keys of one revision's entry in `fast_eval_results[family]`."""
    if family.key == "reading":
        return {"spr", "rt"}
    return set(expected_sizes(family, fast=True))

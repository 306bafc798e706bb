"""What a BabyLM 2025 submission holds: its keys.

Restated from the official pipeline (github babylm/evaluation-pipeline-2025,
`evaluation_pipeline/collate_preds.py`). The tracks' revisions are `classit_eval.data.series`;
the task families under the keys, their data and item counts are `classit_eval.families`;
kept as data, in one place each, so that the run, the export and the check agree on them.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from classit_eval.families import AOA, FAMILIES, Family, expected_sizes

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

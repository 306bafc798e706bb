"""The results folder the official pipeline writes, from a submission's predictions.

    classit-eval babylm export RUN_DIR --official-tree results

The official scripts (github babylm/evaluation-pipeline-2025) write one file per task and
revision, and the organisers' `collate_preds.py` reads them back into the submission file:

    results/<model stem>/<revision>/zero_shot/<backend>/<task>/<dataset>/predictions.json
    results/<model stem>/<revision>/zero_shot/<backend>/reading/predictions.json
    results/<model stem>/main/zero_shot/<backend>/AoA_word/surprisal.json
    results/<model stem>/main/finetune/<task>/predictions.json

`<task>` is the official `--task` (`blimp` for BLiMP and its supplement), `<dataset>` the
name of the data folder (`blimp_filtered`, `supplement_fast`, ...), `<model stem>` what
`pathlib.Path(model).stem` gives (the collator's `--model_path_or_name` must have the same
stem). Each file holds what the submission file holds under its key, so the collator run
on this tree writes the same predictions as `babylm export`, and the fast scores it
recomputes from them.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePath

from classit_eval.data.series import FINAL
from classit_eval.errors import ResultsError
from classit_eval.families import FAMILIES, Family
from classit_eval.leaderboard.sandbox import inside
from classit_eval.leaderboard.tracks import AOA_KEY, GLUE_KEY

# The official `--task` of a family where it is not the family's key.
OFFICIAL_TASKS = {"blimp_supplement": "blimp"}
AOA_FOLDER, AOA_FILE = "AoA_word", "surprisal.json"
PREDICTIONS = "predictions.json"


def model_stem(model: str) -> str:
    """The folder name the official scripts give a model: the stem of its path or name."""
    return PurePath(model.rstrip("/")).stem


def family_path(revision_dir: Path, backend: str, family: Family, fast: bool) -> Path:
    """Where the official scripts write a family's predictions for one revision."""
    zero_shot = revision_dir / "zero_shot" / backend
    if family.key == "reading":
        return zero_shot / "reading" / PREDICTIONS
    source = family.fast if fast else family.full
    if source is None:
        raise ValueError(f"{family.key} has no fast twin")
    folder = PurePath(source).name
    return zero_shot / OFFICIAL_TASKS.get(family.key, family.key) / folder / PREDICTIONS


def write_tree(root: Path, model: str, backend: str, submission: dict,
               fast: dict[str, dict[str, dict]]) -> list[Path]:
    """Write the official tree of a submission under `root`; `fast` holds the fast
    predictions, `{revision: {family key: predictions}}`. Returns the files written."""
    stem = model_stem(model)
    if stem in ("", ".", ".."):
        raise ResultsError(f"model {model!r}: its name gives no folder name for the official "
                           "tree; pass --model with the model's name or folder.")
    root = Path(root)
    base = inside(root, stem)  # a plain folder name; a linked folder is refused
    final = base / FINAL
    parts: list[tuple[Path, object]] = [
        (family_path(final, backend, family, fast=False), submission[key])
        for key, family in FAMILIES.items() if key in submission]
    parts += [(family_path(base / revision, backend, FAMILIES[key], fast=True), found)
              for revision, families in fast.items() for key, found in families.items()]
    parts += [(final / "finetune" / task / PREDICTIONS, {task: found})
              for task, found in submission.get(GLUE_KEY, {}).items()]
    if AOA_KEY in submission:
        parts.append((final / "zero_shot" / backend / AOA_FOLDER / AOA_FILE,
                      submission[AOA_KEY]))
    for path, content in parts:
        path = inside(root, *path.relative_to(root).parts)  # no write through a link
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(content, handle, allow_nan=True)  # NaN as the official files have it
    return [path for path, _ in parts]

"""What a `babylm run` evaluates: the units of the chosen submission keys whose task and
data exist, and why each other key is skipped."""

from __future__ import annotations

from dataclasses import dataclass, field

from classit_eval.data.series import Checkpoint
from classit_eval.errors import MissingDataError
from classit_eval.families import FAMILIES, FAST_KEYS, fast_task
from classit_eval.leaderboard.tracks import AOA_KEY, GLUE_KEY


@dataclass(frozen=True)
class Unit:
    """One lm-eval task (or group) run as a whole on one checkpoint, and its key."""

    task: str  # e.g. classit_blimp_fast
    key: str  # the submission key it feeds, e.g. blimp


@dataclass
class Plan:
    fast: list[Unit] = field(default_factory=list)  # on every revision
    full: list[Unit] = field(default_factory=list)  # on the final model
    glue: list[str] = field(default_factory=list)  # fine-tuned on the final model
    aoa: bool = False  # the AoA task over the checkpoints
    skipped: dict[str, str] = field(default_factory=dict)  # key -> why


def make_plan(keys: list[str], glue_tasks: list[str], data_dir: str | None,
              explicit: bool) -> Plan:
    """The units of the chosen submission keys whose task and data exist. A key whose task
    or data is missing is skipped with the reason, or, when the user named it, an error."""
    from classit_eval.lmeval.plugin import task_manager

    known = set(task_manager(classit_only=True).all_tasks)
    plan = Plan()
    for key in keys:
        if key == GLUE_KEY:
            plan.glue = list(glue_tasks)
            continue
        if key == AOA_KEY:
            plan.aoa = True  # its data and checkpoints are checked by run_series
            continue
        family = FAMILIES[key]
        why = missing_reason(family, known, data_dir)
        if why:
            if explicit:
                raise MissingDataError(f"--tasks {key}: {why}.")
            plan.skipped[key] = why
            continue
        if key in FAST_KEYS:
            plan.fast.append(Unit(fast_task(family), key))
        plan.full.append(Unit(family.task, key))
    return plan


def aoa_missing_reason(checkpoints: list[Checkpoint], data_dir: str | None) -> str | None:
    """Why the AoA task cannot run on this series (too few checkpoints, no data), or None."""
    from classit_eval.aoa.fit import MIN_CHECKPOINTS
    from classit_eval.aoa.words import TASK, WORDS_FILE
    from classit_eval.data.files import find_file

    if len(checkpoints) < MIN_CHECKPOINTS:
        return (f"{len(checkpoints)} checkpoint(s); a learning curve needs at least "
                f"{MIN_CHECKPOINTS} (a sigmoid has four parameters)")
    try:
        find_file(WORDS_FILE, data_dir, task=TASK)
    except MissingDataError:
        return f"its data ({WORDS_FILE}) is not under the evaluation data root"
    return None


def missing_reason(family, known: set[str], data_dir: str | None) -> str | None:
    """Why a family cannot run here (no task, no data), or None."""
    from classit_eval.data.files import find_files
    from classit_eval.reading.dataset import find_csv

    if family.task not in known:
        return f"no lm-eval task {family.task} in this package yet"
    try:
        if family.key == "reading":
            find_csv(data_dir)
        else:
            find_files(family.full, data_dir, task=family.task)
            if family.fast:
                find_files(family.fast, data_dir, task=family.task)
    except MissingDataError:
        return f"its data ({family.full}) is not under the evaluation data root"
    return None

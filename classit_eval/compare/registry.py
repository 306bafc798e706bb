"""Each classit task's primary metrics (declared in classit_eval.families), as the columns
of a model comparison.

A task (an lm-eval group or task name) maps to one or more columns of a model comparison:
most give one column named after the task, `classit_reading` gives two (eye tracking and
self-paced reading). The `_fast` twin of a task maps to the same columns. Every primary
metric is "higher is better".
"""

from __future__ import annotations

from dataclasses import dataclass

from classit_eval.families import FINETUNE, TABLE, ZERO_SHOT
from classit_eval.names import FAST_SUFFIX, FINETUNE_PREFIX

FAMILIES = (FINETUNE, ZERO_SHOT)
SEVERAL = {family.task for family in TABLE if len(family.metrics) > 1}  # classit_reading


@dataclass(frozen=True)
class Column:
    """One comparison column: the `metric` of `task`, in a family (finetune or zero_shot)."""

    task: str
    metric: str
    family: str

    @property
    def name(self) -> str:
        """`task` when the task has one column, `task/metric` when it has several
        (`classit_reading`: eye tracking and self-paced reading)."""
        return f"{self.task}/{self.metric}" if self.task in SEVERAL else self.task


# Each family's primary metrics (classit_eval.families), in the table's order: the
# zero-shot families and AoA, then the fine-tuning tasks.
PRIMARY: dict[str, tuple[Column, ...]] = {
    family.task: tuple(
        Column(family.task, metric, FINETUNE if family.kind == FINETUNE else ZERO_SHOT)
        for metric in family.metrics)
    for family in TABLE
}


def canonical_task(task: str) -> str:
    """`task` without its `_fast` suffix: `classit_ewok_fast` -> `classit_ewok`."""
    return task.removesuffix(FAST_SUFFIX)


def family_of(task: str) -> str:
    """`finetune` for `classit_finetune_*` tasks, `zero_shot` for every other task."""
    return FINETUNE if canonical_task(task).startswith(FINETUNE_PREFIX) else ZERO_SHOT


def columns_for(task: str, extra: dict[str, str] | None = None) -> tuple[Column, ...]:
    """The columns `task` contributes, or () when it has no primary metric.

    `extra` maps task names to a metric (the `--metric TASK=METRIC` option); it adds tasks
    and overrides the registry. A registered `_fast` twin maps to the full task's columns.
    """
    if extra and task in extra:
        return (Column(task, extra[task], family_of(task)),)
    base = canonical_task(task)
    if extra and base in extra:
        return (Column(base, extra[base], family_of(base)),)
    return PRIMARY.get(base, ())


def metric_value(task_results: dict, metric: str) -> float | None:
    """The value of `metric` in one lm-eval `results[task]` entry, or None when absent.

    lm-eval keys a metric by filter (`acc,none`); the unfiltered value (`none`) comes
    first, then the first other filter in name order. A bare `acc` key is accepted too.
    """
    keys = [key for key in task_results if key == metric or key.split(",", 1)[0] == metric]
    if not keys:
        return None
    key = f"{metric},none" if f"{metric},none" in keys else sorted(keys)[0]
    value = task_results[key]
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

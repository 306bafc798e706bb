"""The one registry of each classit task's primary metric, and the columns it makes.

A task (an lm-eval group or task name) maps to one or more columns of a model comparison:
most give one column named after the task, `classit_reading` gives two (eye tracking and
self-paced reading). The `_fast` twin of a task maps to the same columns. Every primary
metric is "higher is better".
"""

from __future__ import annotations

from dataclasses import dataclass

from classit_eval.names import FAST_SUFFIX, FINETUNE_PREFIX, READING_SCORES, finetune_task

FINETUNE = "finetune"
ZERO_SHOT = "zero_shot"
FAMILIES = (FINETUNE, ZERO_SHOT)


@dataclass(frozen=True)
class Column:
    """One comparison column: the `metric` of `task`, in a family (finetune or zero_shot)."""

    task: str
    metric: str
    family: str

    @property
    def name(self) -> str:
        """`task` when the task has one column, `task/metric` for `classit_reading`."""
        return f"{self.task}/{self.metric}" if self.task == "classit_reading" else self.task


def _zero_shot(task: str, *metrics: str) -> tuple[str, tuple[Column, ...]]:
    return task, tuple(Column(task, metric, ZERO_SHOT) for metric in metrics)


def _finetune(name: str, metric: str) -> tuple[str, tuple[Column, ...]]:
    task = finetune_task(name)
    return task, (Column(task, metric, FINETUNE),)


PRIMARY: dict[str, tuple[Column, ...]] = dict(
    [
        _zero_shot("classit_blimp", "acc"),
        _zero_shot("classit_blimp_supplement", "acc"),
        _zero_shot("classit_ewok", "acc"),
        _zero_shot("classit_entity_tracking", "acc"),
        _zero_shot("classit_wug_adj", "spearman"),
        _zero_shot("classit_wug_past", "spearman"),
        _zero_shot("classit_comps", "acc"),
        _zero_shot("classit_reading", *READING_SCORES),
        _zero_shot("classit_aoa", "pearson"),
        _finetune("boolq", "acc"),
        _finetune("mnli", "acc"),
        _finetune("mrpc", "f1"),
        _finetune("multirc", "acc"),
        _finetune("qqp", "f1"),
        _finetune("rte", "acc"),
        _finetune("wsc", "acc"),
    ]
)


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

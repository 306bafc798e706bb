"""lm-eval results documents for what is not one `lm_eval` run: a fine-tuned task, the AoA
task over a checkpoint series, a unit of `babylm run`.

Written in lm-eval's schema so that what reads lm-eval results (`classit-zscore`, the
submission export) reads these beside them.
"""

from __future__ import annotations

import functools


@functools.cache
def env_info() -> dict:
    """lm-eval's environment fields (versions, `pretty_env_info`), once per process: they
    take seconds to collect and do not change between the tasks of a run."""
    from lm_eval.loggers.utils import add_env_info

    info: dict = {}
    add_env_info(info)
    return info


def task_document(task: str, metrics: dict[str, object], config: dict, version: float,
                  higher_is_better: dict[str, bool], n_samples: int, run_config: dict,
                  date: float) -> dict:
    """The results document of one task with no subtask and no few-shot examples:
    `metrics` keyed as lm-eval keys them (`"acc,none"`), `config` the task's config entry,
    `run_config` the document's `config` (the model, its arguments, the batch size...)."""
    return {
        "results": {task: metrics},
        "group_subtasks": {task: []},
        "configs": {task: config},
        "versions": {task: version},
        "n-shot": {task: 0},
        "higher_is_better": {task: higher_is_better},
        "n-samples": {task: {"original": n_samples, "effective": n_samples}},
        "config": run_config,
        "date": date,
    }

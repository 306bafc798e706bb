"""The primary-metric registry: which column(s) and metric each task's results give."""

from __future__ import annotations

import pytest

from classit_eval.compare.registry import FINETUNE, ZERO_SHOT, columns_for, metric_value

# a `results` entry as classit_reading_fast writes it (lm-eval 0.4.13, tiny LLaMA)
READING = {"name": "classit_reading_fast", "alias": "classit_reading_fast", "sample_len": 1726,
           "eye_tracking,none": 0.64, "eye_tracking_stderr,none": "N/A",
           "self_paced_reading,none": 0.94, "self_paced_reading_stderr,none": "N/A",
           "eye_tracking_ci_low,none": 0.30, "RTfirstfix,none": 0.027}


@pytest.mark.parametrize(("task", "metric", "family"), [
    ("classit_blimp", "acc", ZERO_SHOT), ("classit_blimp_fast", "acc", ZERO_SHOT),
    ("classit_blimp_supplement_fast", "acc", ZERO_SHOT),
    ("classit_wug_past_fast", "spearman", ZERO_SHOT), ("classit_finetune_mrpc", "f1", FINETUNE),
    ("classit_finetune_qqp", "f1", FINETUNE), ("classit_finetune_mnli", "acc", FINETUNE),
    ("classit_finetune_wsc", "acc", FINETUNE),
])
def test_primary_metric(task, metric, family):
    (column,) = columns_for(task)
    assert (column.name, column.metric, column.family) == (
        task.removesuffix("_fast"), metric, family)


def test_reading_gives_two_columns():
    columns = columns_for("classit_reading_fast")
    assert [c.name for c in columns] == ["classit_reading/eye_tracking",
                                         "classit_reading/self_paced_reading"]
    assert [metric_value(READING, c.metric) for c in columns] == [0.64, 0.94]


def test_unknown_tasks_and_extra_metrics():
    assert columns_for("classit_blimp_adjunct_island") == ()
    assert columns_for("arc_easy") == ()
    (column,) = columns_for("arc_easy", {"arc_easy": "acc_norm"})
    assert (column.name, column.metric, column.family) == ("arc_easy", "acc_norm", ZERO_SHOT)
    (column,) = columns_for("classit_ewok_fast", {"classit_ewok": "acc_norm"})
    assert (column.name, column.metric) == ("classit_ewok", "acc_norm")
    assert metric_value(READING, "f1") is None
    assert metric_value({"acc,other": 0.5, "acc,none": 0.7}, "acc") == 0.7
    assert metric_value({"acc,other": 0.5}, "acc") == 0.5

"""Reading times (BabyLM 2025): documents and scores live in classit_eval.reading.task.

The template's metric_list names one aggregation per metric of names.READING_METRICS,
`utils.<metric>`; they are made here in a loop from that same list.
"""

from classit_eval.names import READING_METRICS
from classit_eval.reading.task import aggregation, doc_to_target, doc_to_text, load, process_results

__all__ = ["load", "doc_to_text", "doc_to_target", "process_results", *READING_METRICS]

for _metric in READING_METRICS:
    globals()[_metric] = aggregation(_metric)

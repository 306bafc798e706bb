"""EWoK: loading and scoring live in classit_eval.zero_shot."""

from classit_eval.zero_shot.tasks import ewok_targets, load_ewok, process_pairs

__all__ = ["ewok_targets", "load_ewok", "process_pairs"]

"""BLiMP supplement: loading and scoring live in classit_eval.zero_shot."""

from classit_eval.zero_shot.tasks import good_bad, load_pairs, no_context, process_pairs

__all__ = ["good_bad", "load_pairs", "no_context", "process_pairs"]

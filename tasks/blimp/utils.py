"""BLiMP: loading and scoring live in classit_eval.zero_shot."""

from classit_eval.zero_shot.tasks import load_pairs, process_pairs

__all__ = ["load_pairs", "process_pairs"]

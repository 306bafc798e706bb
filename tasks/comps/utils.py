"""COMPS: loading and scoring live in classit_eval.zero_shot."""

from classit_eval.zero_shot.tasks import load_comps, process_pairs

__all__ = ["load_comps", "process_pairs"]

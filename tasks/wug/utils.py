"""WUG: loading and scoring live in classit_eval.zero_shot."""

from classit_eval.zero_shot.tasks import load_wug, process_wug, spearman

__all__ = ["load_wug", "process_wug", "spearman"]

"""WUG: loading and scoring live in classit_eval.zero_shot."""

from classit_eval.zero_shot.tasks import load_wug, no_context, process_wug, spearman

__all__ = ["load_wug", "no_context", "process_wug", "spearman"]

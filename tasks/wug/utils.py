"""WUG: loading and scoring live in classit_eval.zero_shot."""

from classit_eval.zero_shot.tasks import (
    load_wug,
    process_wug,
    spearman,
    spearman_null_p,
    spearman_null_p95,
)

__all__ = ["load_wug", "process_wug", "spearman", "spearman_null_p95", "spearman_null_p"]

"""Entity tracking: loading and scoring live in classit_eval.zero_shot."""

from classit_eval.zero_shot.tasks import (
    load_entity_tracking,
    macro_over_numops,
    process_entity_tracking,
)

__all__ = ["load_entity_tracking", "macro_over_numops", "process_entity_tracking"]

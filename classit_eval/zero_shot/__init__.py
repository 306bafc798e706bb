"""The BabyLM 2025 zero-shot tasks (BLiMP, supplement, EWoK, entity tracking, WUG): their
documents and metrics, as the task configs under `tasks/` use them."""

"""(Super)GLUE fine-tuning of (Baby)LMs with results in lm-eval's schema."""

from classit_eval.finetune.cli import main

__all__ = ["main"]

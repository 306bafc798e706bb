"""(Super)GLUE fine-tuning of (Baby)LMs with results in lm-eval's schema.

`tasks` (the task table, cheap to import), `classifier` (backbone + head), `train` (the
HF Trainer run), `results` (lm-eval results files), `cli` (`classit-eval finetune`).
"""

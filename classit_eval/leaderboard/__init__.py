"""The BabyLM leaderboard submission (checkpoint series, export, validation): to come.

It will read lm-eval results and sample logs and the fine-tuning predictions, never a
backend or a task module (see docs/architecture.md).
"""

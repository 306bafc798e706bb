"""The BabyLM 2025 leaderboard submission: evaluate a checkpoint series, export, check.

It reads lm-eval results and sample logs and the fine-tuning predictions; to evaluate, it
drives lm-eval and the `classit` backend (leaderboard.lm). No backend or task imports it
(see docs/architecture.md).
"""

"""classit-eval: BabyLM 2025 / CLASS-IT evaluation as an lm-evaluation-harness plugin."""

__version__ = "0.1.0"

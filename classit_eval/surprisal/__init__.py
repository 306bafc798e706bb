"""Per-word and per-token surprisal of any text through the scoring engine
(`classit-eval surprisal`; the Python API is `word_surprisal` and `token_surprisal`)."""

from classit_eval.surprisal.core import Row, Text, token_surprisal, word_surprisal

__all__ = ["Row", "Text", "token_surprisal", "word_surprisal"]

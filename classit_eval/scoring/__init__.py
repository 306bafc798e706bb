"""The scoring engine: log-probabilities of token spans, each distinct prefix computed once.

    from classit_eval.scoring import Scorer
    scorer = Scorer(model, tokenizer, mode="full", batch_size=32)
    scorer.score([("The cat", " sat."), ("", "Dogs bark.")])  # [(logprob, is_greedy), ...]

Its users (the lm-eval backend, AoA, the reading task's encodings, `classit-eval surprisal`)
import from here; the modules are:

- `encodings`: requests as tokens (`Encoded`), the encodings a task asks for by name, the
  official BabyLM 2025 reader (`reader_chain`, written once);
- `scorer`: the causal `Scorer`, certified float32 with float64 re-scoring;
- `trie`: the prefix-tree engine behind it; `probes`: what a model honours (checked once);
- `masked`: the masked, hybrid and encoder-decoder scorers (`MaskedScorer`);
- `wordprob`: a word's probability corrected for where it ends;
- `tokenising`: running text as tokens, each distinct text and word tokenised once.

The engine imports no task, no lm-eval and no job: it is data in, numbers out.
"""

from classit_eval.scoring.encodings import (
    BABYLM2025_READER,
    CONVENTIONS,
    MODES,
    WORD_IN_TEXT,
    WORD_IN_TEXT_CORRECTED,
    Encoded,
    Step,
    babylm2025_reader,
    reader_chain,
    step_encoding,
    word_steps,
)
from classit_eval.scoring.masked import MaskedScorer
from classit_eval.scoring.probes import caches_work, kv_bytes_per_token
from classit_eval.scoring.scorer import ENGINES, Scorer, score_sequences
from classit_eval.scoring.tokenising import paused_gc
from classit_eval.scoring.trie import Stats
from classit_eval.scoring.wordprob import (
    WORD_PROBS,
    boundary_ids,
    corrected,
    corrects,
    scheme,
    word_requests,
)

__all__ = [
    "BABYLM2025_READER", "CONVENTIONS", "ENGINES", "MODES", "WORD_IN_TEXT",
    "WORD_IN_TEXT_CORRECTED", "WORD_PROBS", "Encoded", "MaskedScorer", "Scorer", "Stats",
    "Step", "babylm2025_reader", "boundary_ids", "caches_work", "corrected", "corrects",
    "kv_bytes_per_token", "paused_gc", "reader_chain", "scheme", "score_sequences", "step_encoding",
    "word_requests", "word_steps",
]

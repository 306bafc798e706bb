"""`classit-eval babylm`: the BabyLM 2025 leaderboard submission, one step at a time.

    classit-eval babylm run --model OUT --track strict-small --output-dir runs/mine
    classit-eval babylm export runs/mine            # the official submission file
    classit-eval babylm check runs/mine/all_full_preds_and_fast_scores_causal.json
    classit-eval babylm curves runs/mine runs/other --plot curves.png

`run` evaluates and ends with `export` and `check`. Each step module has
`add_arguments(parser)` and `run(args)`; only the step on the command line is imported.
"""

from __future__ import annotations

from classit_eval.cli import Job

STEPS: dict[str, Job] = {
    "run": Job("classit_eval.leaderboard.series",
               "evaluate a model and its checkpoints for the submission (resumable)"),
    "export": Job("classit_eval.leaderboard.export",
                  "write the official submission file from a run folder"),
    "check": Job("classit_eval.leaderboard.check",
                 "validate a submission file and recompute its scores"),
    "curves": Job("classit_eval.leaderboard.curves",
                  "plot the fast scores against words seen, one line per model"),
}

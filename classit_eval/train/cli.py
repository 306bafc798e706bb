"""`classit-eval train` (alias `classit-train`): one subcommand per training step.

    classit-eval train tokenizer FILES --out DIR --vocab-size N
    classit-eval train pretrain FILES --config models/llama-100m.json --tokenizer DIR --out DIR
    classit-eval train instructions switchboard FILE --out pairs.jsonl
    classit-eval train instructions wiki FILES --out pairs.jsonl [--model DIR]
    classit-eval train instruct FILES.jsonl --model DIR --curriculum merged --out DIR

Each step module has `add_arguments(parser)` and `run(args)`; the `classit-eval`
dispatcher (classit_eval.cli) imports only the step on the command line and prints its
errors. This module stays free of heavy imports so that `--help` lists the steps at once.
"""

from __future__ import annotations

import sys

from classit_eval.cli import Job

PROG = "classit-train"

STEPS: dict[str, Job] = {
    "tokenizer": Job("classit_eval.train.tokenizer", "train a byte-level BPE tokenizer"),
    "pretrain": Job("classit_eval.train.pretrain", "pretrain a LLaMA config on text files"),
    "instructions": Job("classit_eval.train.instructions",
                        "make instruction pairs from Switchboard or Simple Wikipedia"),
    "instruct": Job("classit_eval.train.instruct", "instruction-tune a checkpoint (curricula)"),
}


def main(argv: list[str] | None = None) -> int:
    """`classit-train ARGV`, the same as `classit-eval train ARGV`."""
    from classit_eval import cli

    return cli.main(argv, job="train", prog=PROG)


if __name__ == "__main__":
    sys.exit(main())

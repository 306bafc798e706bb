"""The `classit-train` command: one subcommand per training step.

    classit-train tokenizer FILES --out DIR --vocab-size N
    classit-train pretrain FILES --config models/llama-100m.json --tokenizer DIR --out DIR
    classit-train instructions switchboard FILE --out pairs.jsonl
    classit-train instructions wiki FILES --out pairs.jsonl [--model DIR]
    classit-train instruct FILES.jsonl --model DIR --curriculum merged --out DIR
"""

from __future__ import annotations

import argparse
import importlib
import sys

from classit_eval.data.files import DataError
from classit_eval.train.common import TrainError

# subcommand -> (module, help); each module has add_arguments(parser) and run(args)
STEPS: dict[str, tuple[str, str]] = {
    "tokenizer": ("classit_eval.train.tokenizer", "train a byte-level BPE tokenizer"),
    "pretrain": ("classit_eval.train.pretrain", "pretrain a LLaMA config on text files"),
    "instructions": ("classit_eval.train.instructions",
                     "make instruction pairs from Switchboard or Simple Wikipedia"),
    "instruct": ("classit_eval.train.instruct", "instruction-tune a checkpoint (curricula)"),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="classit-train", description=__doc__.split("\n")[0])
    steps = top.add_subparsers(dest="step", required=True, metavar="step")
    for name, (module, text) in STEPS.items():
        sub = steps.add_parser(name, help=text, description=text)
        sub.set_defaults(module=module)
        importlib.import_module(module).add_arguments(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return importlib.import_module(args.module).run(args) or 0
    except (TrainError, DataError) as err:
        print(f"classit-train {args.step}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

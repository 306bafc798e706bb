"""The `classit-eval` command: one entry point, one subcommand per job.

Each subcommand lives in its own module and exposes `main(argv)`; it is imported only
when called, so `classit-eval --help` stays fast.
"""

from __future__ import annotations

import importlib
import sys

# subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("classit_eval.lmeval.run", "lm_eval run, with this package's tasks and `classit` model"),
    "download-data": ("classit_eval.data.download", "fetch and verify the BabyLM 2025 evaluation data"),
    "reading-score": ("classit_eval.reading.cli", "score reading-time surprisals from a file"),
    "finetune": ("classit_eval.finetune", "(Super)GLUE fine-tuning with lm-eval results"),
    "zscore": ("classit_eval.compare.cli", "compare models by per-task z-scores"),
    "smollm2": ("classit_eval.data.smollm2", "print the folder of a cached SmolLM2-135M checkpoint"),
}


def usage() -> str:
    lines = ["usage: classit-eval <command> [args...]", "", "commands:"]
    lines += [f"  {name:<15} {text}" for name, (_, text) in SUBCOMMANDS.items()]
    lines += ["", "`classit-eval <command> --help` describes a command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"classit-eval: unknown command {name!r}.\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    return module.main(rest) or 0


if __name__ == "__main__":
    sys.exit(main())

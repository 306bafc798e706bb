"""`classit-eval run`: lm-eval's `run` with this package's tasks and model registered.

It takes exactly the arguments of `lm_eval run`. Compared with the stock CLI it
(1) registers the `classit` model backend and (2) in an editable install, where
lm-eval's own task index cannot see `tasks/`, adds that folder as `--include_path`.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    import classit_eval.lmeval.backend  # noqa: F401  (registers the `classit` model)
    from classit_eval.lmeval.plugin import include_path

    extra = include_path()
    if extra and any(a == "--include_path" or a.startswith("--include_path=") for a in argv):
        print(
            "classit-eval run: --include_path is taken: in this editable install the classit "
            f"tasks need it ({extra}). Install the package with `pip install .`, or copy your "
            "tasks next to the classit ones.",
            file=sys.stderr,
        )
        return 2
    if extra:
        argv += ["--include_path", extra]

    from lm_eval.__main__ import cli_evaluate

    saved = sys.argv
    sys.argv = ["lm-eval", "run", *argv]
    try:
        cli_evaluate()
    finally:
        sys.argv = saved
    return 0

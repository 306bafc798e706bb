"""The package's floor plan holds: cheap imports where a command or lm-eval needs speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import classit_eval

PACKAGE = Path(classit_eval.__file__).parent
TASK_MODULES = sorted(
    ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)
    for p in PACKAGE.rglob("tasks.py")
)


def import_time(module: str) -> tuple[float, list[str]]:
    """Seconds to import `module` in a fresh interpreter, and the heavy modules it loaded."""
    code = (
        f"import json, sys, time; t = time.perf_counter(); import {module}; "
        "dt = time.perf_counter() - t; heavy = ('torch', 'transformers', 'lm_eval', "
        "'datasets', 'pandas', 'scipy', 'statsmodels'); "
        "print(json.dumps([dt, [h for h in heavy if h in sys.modules]]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PACKAGE.parent)
    seconds, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    return seconds, heavy


def test_every_tasks_module_is_found():
    assert {"classit_eval.zero_shot.tasks", "classit_eval.finetune.tasks"} <= set(TASK_MODULES)


@pytest.mark.parametrize("module", TASK_MODULES)
def test_tasks_modules_import_in_under_a_second(module):
    seconds, heavy = import_time(module)
    assert heavy == [], f"{module} imports {heavy}"
    assert seconds < 1.0, f"{module} took {seconds:.2f} s to import"

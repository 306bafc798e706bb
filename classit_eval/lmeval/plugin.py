"""How lm-eval finds this package's tasks.

A normal install ships `tasks/` as `lm_eval.tasks.classit`, inside lm-eval's own task
folder. An editable install does not, so `classit-eval run` (and `task_manager()`)
add the repository's `tasks/` folder as an lm-eval include path.
"""

from __future__ import annotations

from pathlib import Path


def task_dir() -> Path:
    """The folder holding this package's lm-eval task YAMLs."""
    repo_tasks = Path(__file__).resolve().parents[2] / "tasks"  # classit_eval/lmeval/ -> repo
    if (repo_tasks / "_classit_zero_shot.yaml").is_file():  # editable install or checkout
        return repo_tasks
    import lm_eval.tasks

    return Path(lm_eval.tasks.__file__).parent / "classit"


def tasks_are_installed() -> bool:
    """True when lm-eval's own index already contains the classit tasks."""
    import lm_eval.tasks

    return (Path(lm_eval.tasks.__file__).parent / "classit").is_dir()


def include_path() -> str | None:
    """The include path lm-eval needs for the classit tasks, or None when installed."""
    return None if tasks_are_installed() else str(task_dir())


def task_manager(classit_only: bool = False, **kwargs):
    """An lm-eval TaskManager that knows the classit tasks, installed or not.

    `classit_only=True` indexes only this package's tasks, which takes a fraction of a
    second instead of the ~10 s lm-eval needs to index its thousands of tasks.
    """
    from lm_eval.tasks import TaskManager

    path = include_path()
    if classit_only:
        kwargs["include_defaults"] = False
        path = str(task_dir())
    if path:
        existing = kwargs.pop("include_path", None) or []
        existing = [existing] if isinstance(existing, (str, Path)) else list(existing)
        kwargs["include_path"] = [*existing, path]
    return TaskManager(**kwargs)

"""Ship `tasks/` as `lm_eval.tasks.classit`.

lm-eval 0.4.13 builds its task index by walking its own `lm_eval/tasks` folder and has no
plugin discovery, so a normal (non-editable) `pip install .` places this repository's task
YAMLs there. Everything else about the build is in pyproject.toml.
"""

from pathlib import Path

from setuptools import find_packages, setup

TASKS_ROOT = Path(__file__).parent / "tasks"
task_packages = ["lm_eval.tasks.classit"] + [
    "lm_eval.tasks.classit." + ".".join(folder.relative_to(TASKS_ROOT).parts)
    for folder in sorted(TASKS_ROOT.rglob("*"))
    if folder.is_dir() and folder.name != "__pycache__"
]
task_files = ["*.yaml", "_template_yaml"]

setup(
    packages=find_packages(include=["classit_eval", "classit_eval.*"]) + task_packages,
    package_dir={"lm_eval.tasks.classit": "tasks"},
    package_data={**{pkg: task_files for pkg in task_packages}, "classit_eval.data": ["*.json"]},
)

"""The package's imports flow one way, down the declared layers, with no cycle.

Every `import` of every module counts, those inside functions included (a lazy import
hides a cycle from Python, not from the design). A module belongs to the layer of its
package (`classit_eval.<package>`) or, for a top-level module, to its own; it may import
its own package, any lower layer, and, within its layer, only the packages `CALLS`
declares. `classit_eval.cli`, the dispatcher, is the only module that knows the job table:
no other module imports it (the `__main__` entry points excepted).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "classit_eval"

# Bottom to top. Within a layer, a unit imports another only where CALLS says so.
LAYERS: list[tuple[str, list[str]]] = [
    ("errors", ["classit_eval", "classit_eval.errors"]),
    ("names and options", ["classit_eval.names", "classit_eval.options"]),
    ("task families", ["classit_eval.families"]),
    ("data", ["classit_eval.data"]),
    ("engine", ["classit_eval.scoring"]),
    # the task side and the lm-eval adapter; a backend never imports a task, nor a task it
    ("tasks", ["classit_eval.zero_shot", "classit_eval.reading", "classit_eval.lmeval"]),
    ("lm-eval task configs", ["tasks"]),
    ("jobs", ["classit_eval.leaderboard", "classit_eval.aoa", "classit_eval.finetune",
              "classit_eval.train", "classit_eval.compare", "classit_eval.surprisal"]),
    ("dispatcher", ["classit_eval.cli"]),
    ("entry points", ["classit_eval.__main__", "classit_eval.finetune.__main__"]),
]
# unit -> the units of its own layer whose functions it may call (never back)
CALLS: dict[str, set[str]] = {
    "classit_eval.leaderboard": {"classit_eval.aoa", "classit_eval.finetune"},
}
DISPATCHER = "classit_eval.cli"


def module_files() -> Iterator[tuple[str, Path]]:
    for root in (PACKAGE, REPO / "tasks"):
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


MODULES = dict(module_files())


def resolve(name: str) -> str | None:
    """The module of ours that `name` (a module, or a module's attribute) names."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str, path: Path) -> set[str]:
    """Every module of ours that `module` imports, at the top or inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str | None] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(resolve(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            found.update(resolve(f"{base}.{alias.name}") for alias in node.names)
    return {name for name in found if name and name != module}


GRAPH = {module: imports(module, path) for module, path in MODULES.items()}


def unit_of(module: str) -> tuple[int, str]:
    """(layer index, unit): the longest declared name that `module` is or lies under."""
    best: tuple[int, str] | None = None
    for rank, (_, units) in enumerate(LAYERS):
        for unit in units:
            if (module == unit or module.startswith(unit + ".")) and (
                    best is None or len(unit) > len(best[1])):
                best = (rank, unit)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def test_every_module_is_in_a_layer() -> None:
    assert len(MODULES) > 80  # the walk found the package
    for module in MODULES:
        unit_of(module)


def up_imports(graph: dict[str, set[str]]) -> list[str]:
    """Each import of `graph` that points to a higher layer, or sideways undeclared."""
    wrong = []
    for module, imported in graph.items():
        rank, unit = unit_of(module)
        for other in imported:
            other_rank, other_unit = unit_of(other)
            if other_unit == unit or other_rank < rank:
                continue
            if other_rank == rank and other_unit in CALLS.get(unit, set()):
                continue
            wrong.append(f"{module} ({LAYERS[rank][0]}) imports {other} "
                         f"({LAYERS[other_rank][0]})")
    return sorted(wrong)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The cycles a depth-first search meets (each as a path back to its start)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    found: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for other in sorted(graph.get(module, ())):
            if state.get(other) == 1:
                found.append([*path[path.index(other):], other])
            elif other not in state:
                visit(other, [*path, other])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_no_import_points_up_or_sideways() -> None:
    wrong = up_imports(GRAPH)
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle() -> None:
    found = cycles(GRAPH)
    assert not found, "\n".join(" -> ".join(c) for c in found)


def test_only_the_dispatcher_knows_the_job_table() -> None:
    entry_points = {m for m in MODULES if m.endswith("__main__")}
    importers = {m for m, imported in GRAPH.items() if DISPATCHER in imported}
    assert importers <= entry_points, sorted(importers - entry_points)


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    """The walk reads function bodies and relative imports, so a lazy import is an edge."""
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from classit_eval.leaderboard import series\n"
                      "    from ..data import files\n", encoding="utf-8")
    found = imports("classit_eval.aoa.probe", source)
    assert found == {"classit_eval.leaderboard.series", "classit_eval.data.files"}


def test_the_checks_catch_what_this_package_once_had() -> None:
    """aoa.cli and leaderboard.series imported each other inside functions; the export
    and the runner too; a step table imported the dispatcher."""
    graph = {"classit_eval.aoa.cli": {"classit_eval.leaderboard.series"},
             "classit_eval.leaderboard.series": {"classit_eval.aoa.cli",
                                                 "classit_eval.leaderboard.export"},
             "classit_eval.leaderboard.export": {"classit_eval.leaderboard.series"},
             "classit_eval.train": {"classit_eval.cli"}}
    assert up_imports(graph) == [
        "classit_eval.aoa.cli (jobs) imports classit_eval.leaderboard.series (jobs)",
        "classit_eval.train (jobs) imports classit_eval.cli (dispatcher)"]
    assert sorted(map(len, cycles(graph))) == [3, 3]

"""The task index, the request format and a stock `--model hf` run of the fast suite."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import lm_eval
import pytest
import yaml

from classit_eval.data.files import find_files
from classit_eval.lmeval.plugin import task_manager, tasks_are_installed

GROUPS = ["classit_zero_shot", "classit_zero_shot_fast", "classit_blimp", "classit_blimp_fast",
          "classit_blimp_supplement", "classit_ewok", "classit_entity_tracking"]


def test_index_has_groups_and_every_subtask(eval_data):
    tm = task_manager(classit_only=True)
    assert set(GROUPS) <= set(tm.all_groups)
    uids = [s.name for s in find_files("full_eval/blimp_filtered", eval_data)]
    assert len(uids) == 67
    for uid in uids:
        assert f"classit_blimp_{uid}" in tm.all_subtasks
        assert f"classit_blimp_fast_{uid}" in tm.all_subtasks
    domains = [s.name.replace("-", "_") for s in find_files("full_eval/ewok_filtered", eval_data)]
    assert {f"classit_ewok_{d}" for d in domains} <= set(tm.all_subtasks)
    for split in ("regular", "ambiref", "move_contents"):
        assert f"classit_entity_tracking_{split}" in tm.all_subtasks


def test_blimp_requests_are_lm_eval_blimp_requests(eval_data):
    """The requests lm-eval's built-in blimp template builds, from small Python functions
    instead of its Jinja strings (compiled again for every document, ~1 ms each)."""
    import ast

    from lm_eval.utils import apply_template

    builtin = Path(lm_eval.__file__).parent / "tasks" / "blimp" / "_template_yaml"
    ours = Path(__file__).parent.parent / "tasks" / "blimp" / "_template_yaml"
    load = lambda p: yaml.safe_load(  # noqa: E731
        "\n".join(line for line in p.read_text().splitlines() if "!function" not in line))
    assert "target_delimiter" not in load(ours) and "target_delimiter" not in load(builtin)
    template = load(builtin)
    task = task_manager(classit_only=True).load(["classit_blimp_fast_wh_island"])
    (task,) = task["tasks"].values()
    task.build_all_requests(limit=20, rank=0, world_size=1)
    docs = {i.doc_id: i.doc for i in task.instances}
    expected = [(apply_template(template["doc_to_text"], doc), " " + choice)
                for _, doc in sorted(docs.items())
                for choice in ast.literal_eval(apply_template(template["doc_to_choice"], doc))]
    assert [i.args for i in task.instances] == expected
    assert {k: load(ours).get(k) for k in ["output_type", "doc_to_target", "num_fewshot"]} == {
        k: load(builtin).get(k) for k in ["output_type", "doc_to_target", "num_fewshot"]}


@pytest.mark.slow
def test_stock_hf_runs_the_fast_suite(tiny_model):
    out = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={tiny_model}",
                                  tasks=["classit_zero_shot_fast"], limit=2, device="cpu",
                                  task_manager=task_manager(classit_only=True))
    results = out["results"]
    for group in ["classit_blimp_fast", "classit_blimp_supplement_fast", "classit_ewok_fast",
                  "classit_entity_tracking_fast"]:
        assert 0.0 <= results[group]["acc,none"] <= 1.0
    assert -1.0 <= results["classit_wug_adj_fast"]["spearman,none"] <= 1.0
    assert len([t for t in results if t.startswith("classit_blimp_fast_")]) == 67
    assert "acc_numops_0,none" in results["classit_entity_tracking_fast_regular"]


def test_entry_point_names_the_task_folder():
    """Resolved as lm-eval's task-plugin discovery (upstream PR #4015) does: the value's
    module, then that module's package folder, which is scanned for YAMLs."""
    (entry,) = [e for e in entry_points(group="lm_eval.tasks") if e.name == "classit"]
    spec = importlib.util.find_spec(entry.module)
    assert spec is not None and spec.submodule_search_locations, entry.value
    folder = Path(next(iter(spec.submodule_search_locations)))
    assert (folder / "blimp" / "_template_yaml").is_file()
    names = {p.stem for p in folder.rglob("*.yaml")}
    assert {"_classit_zero_shot", "_classit_zero_shot_fast", "classit_reading"} <= names


installed_only = pytest.mark.skipif(
    not tasks_are_installed(),
    reason="editable install: lm-eval's own index cannot see tasks/ (CI installs the "
           "package with `pip install .`, as users do)")


@pytest.mark.slow
@installed_only
def test_stock_cli_lists_and_runs_the_tasks_after_pip_install(tiny_model, tmp_path):
    lm_eval_cli = str(Path(sys.executable).parent / "lm_eval")
    listed = subprocess.run([lm_eval_cli, "ls", "tasks"], capture_output=True, text=True,
                            check=True).stdout
    for group in GROUPS:
        assert group in listed
    subprocess.run([lm_eval_cli, "--model", "hf", "--model_args", f"pretrained={tiny_model}",
                    "--device", "cpu", "--tasks", "classit_zero_shot_fast", "--limit", "1",
                    "--output_path", str(tmp_path)], check=True, capture_output=True)
    (written,) = tmp_path.rglob("results_*.json")
    results = json.loads(written.read_text())["results"]
    assert "classit_blimp_fast" in results and "classit_ewok_fast" in results


@pytest.mark.slow
def test_classit_eval_run_keeps_lm_eval_models(tiny_model, tmp_path):
    """`classit-eval run` registers `classit` without hiding lm-eval's own `hf`."""
    cli = str(Path(sys.executable).parent / "classit-eval")
    for model, args in [("hf", ""), ("classit", ",scoring=babylm2025")]:
        subprocess.run([cli, "run", "--model", model, "--model_args",
                        f"pretrained={tiny_model}{args}", "--device", "cpu",
                        "--tasks", "classit_wug_adj_fast", "--limit", "3",
                        "--output_path", str(tmp_path / model)], check=True, capture_output=True)
        (written,) = (tmp_path / model).rglob("results_*.json")
        assert "classit_wug_adj_fast" in json.loads(written.read_text())["results"]


def test_run_indexes_only_the_classit_tasks_when_only_they_are_asked():
    """`classit-eval run --tasks classit_...` lets lm-eval index the classit tasks alone
    (its own ~15,000 took 12 s); any other task name keeps lm-eval's whole index."""
    import time

    import lm_eval.tasks

    from classit_eval.lmeval.run import classit_task_index, is_classit

    original = lm_eval.tasks.TaskManager
    with classit_task_index():
        start = time.perf_counter()
        index = lm_eval.tasks.TaskManager(metadata={})
        seconds = time.perf_counter() - start
    assert lm_eval.tasks.TaskManager is original
    assert set(GROUPS) <= set(index.all_groups) and "classit_reading" in index.all_tasks
    assert all("classit" in name for name in index.all_tasks), "an lm-eval task was indexed"
    assert seconds < 3
    assert is_classit("classit_blimp_fast") and not is_classit("arc_easy")


@pytest.mark.parametrize("family", ["reading", "entity_tracking"])
def test_template_metric_lists_are_what_the_generator_writes(family):
    """The metric names live in classit_eval.names; the templates are generated from them."""
    from tasks import _generate_configs as generator

    template = Path(generator.__file__).parent / family / "_template_yaml"
    text = template.read_text()
    assert text == generator.with_metric_list(text, generator.TEMPLATE_METRICS[family]())
    assert generator.GENERATED_LIST + "metric_list:\n" in text


@pytest.mark.parametrize("folder", ["comps", "wug"])
def test_configs_on_disk_are_the_generators(folder):
    """The COMPS and WUG YAMLs are exactly what the generator writes (from
    classit_eval.names and classit_eval.families), and no other YAML is in their folder."""
    from tasks import _generate_configs as generator

    configs = getattr(generator, f"{folder}_configs")()
    on_disk = set((Path(generator.__file__).parent / folder).glob("*.yaml"))
    assert on_disk == set(configs)
    for path, config in configs.items():
        assert path.read_text() == generator.render(config), path


@pytest.mark.parametrize("fast", [False, True])
def test_the_suites_hold_the_families_declared_in_them(fast):
    """`classit_zero_shot` (and its fast twin) lists the families classit_eval.families
    declares `suite`, in the table's order (COMPS has no fast twin)."""
    from classit_eval.families import FAMILIES, fast_task
    from classit_eval.lmeval.plugin import task_dir

    suite = yaml.safe_load((task_dir() / f"_classit_zero_shot{'_fast' if fast else ''}.yaml")
                           .read_text())
    declared = [f for f in FAMILIES.values() if f.suite and (f.fast or not fast)]
    assert suite["task"] == [fast_task(f) if fast else f.task for f in declared]


def test_entity_tracking_numops_outside_names_is_a_data_error(tmp_path):
    from classit_eval.errors import DataError
    from classit_eval.zero_shot.tasks import load_entity_tracking

    path = tmp_path / "full_eval" / "entity_tracking" / "regular.jsonl"
    path.parent.mkdir(parents=True)
    item = {"input_prefix": "The box", "options": [" a", " b"]}
    path.write_text(json.dumps(item | {"numops": 5}) + "\n" + json.dumps(item | {"numops": 6}))
    with pytest.raises(DataError, match="regular.jsonl, line 2: numops=6, but the task reports "
                                        "acc_numops_0 to acc_numops_5 only"):
        load_entity_tracking("full_eval/entity_tracking/regular.jsonl", data_dir=str(tmp_path))


def test_a_source_checkout_finds_its_own_tasks_folder():
    """Imported from the repository (an editable install, `python -m classit_eval` in a
    checkout), the plugin must point lm-eval at the repository's tasks/, not at nothing."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    code = ("import classit_eval.lmeval.plugin as p; "
            "print(p.__file__); print(p.task_dir())")
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(repo), "PATH": ""})
    module, folder = out.stdout.split()
    assert Path(module).is_relative_to(repo)
    assert Path(folder) == repo / "tasks"

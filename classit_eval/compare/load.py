"""Reading lm-eval results files into one score per model and comparison column.

lm-eval writes `<output_path>/<model>/results_<timestamp>.json`; its `results` maps each
task and group to metrics keyed by filter (`"acc,none": 0.61`). A model's results may be
spread over several files (zero-shot, reading, fine-tuning runs): they are merged, and for
each column the value of the most recent run (the file's `date`) is kept.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from classit_eval.compare import CompareError, CompareWarning
from classit_eval.compare.registry import PRIMARY, Column, columns_for, metric_value
from classit_eval.names import FAST_SUFFIX, TRAINING_METADATA

NAME_FROM = ("folder", "model", "checkpoint")


@dataclass(frozen=True)
class Cell:
    """One score: its value and where it came from."""

    value: float
    task: str  # the task name in the file, e.g. `classit_blimp_fast`
    file: Path
    date: float


@dataclass
class Results:
    """Every model's scores, by column name, and the columns found."""

    cells: dict[str, dict[str, Cell]] = field(default_factory=dict)
    columns: dict[str, Column] = field(default_factory=dict)
    files: dict[str, list[Path]] = field(default_factory=dict)
    checkpoints: dict[str, str] = field(default_factory=dict)  # model -> `pretrained` path
    unreadable: list[Path] = field(default_factory=list)  # files skipped: not results JSON

    def scores(self) -> pd.DataFrame:
        """Models x columns table of values (NaN where a model lacks a task)."""
        table = pd.DataFrame(
            {model: {col: cell.value for col, cell in cols.items()}
             for model, cols in self.cells.items()}
        ).T
        return table.reindex(index=sorted(self.cells), columns=self.column_order()).astype(float)

    def column_order(self) -> list[str]:
        """Columns in registry order (zero-shot, then fine-tuning), then others by name."""
        registry = [c.name for columns in PRIMARY.values() for c in columns]
        rank = {name: i for i, name in enumerate(registry)}
        return sorted(self.columns, key=lambda name: (rank.get(name, len(rank)), name))


def warn(message: str) -> None:
    warnings.warn(message, CompareWarning, stacklevel=2)


def find_files(dirs: list[str | Path]) -> list[Path]:
    """Every `results*.json` under `dirs`, the name lm-eval and classit-finetune write
    (a JSON file given directly is taken as is). Other JSON files, such as the configs of
    checkpoints saved beside the results, are counted in one warning."""
    found: list[Path] = []
    for entry in map(Path, dirs):
        if entry.is_file():
            found.append(entry)
        elif entry.is_dir():
            every = sorted(p for p in entry.rglob("*.json") if p.is_file())
            results = [p for p in every if p.name.startswith("results")]
            others = [p for p in every if not p.name.startswith("results")]
            if others:
                warn(f"{entry}: ignored {len(others)} JSON file(s) not named results*.json, "
                     f"e.g. {others[0]}.")
            found += results
        else:
            raise CompareError(f"{entry}: no such file or folder. Give the folder lm-eval's "
                               "--output_path wrote to.")
    return found


def read_file(path: Path) -> dict | None:
    """The JSON of an lm-eval results file, or None (with a warning) for any other file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        warn(f"{path}: skipped, not readable as JSON ({err}).")
        return None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        warn(f"{path}: skipped, not an lm-eval results file (it has no `results` object).")
        return None
    return data


def model_name(path: Path, data: dict, name_from: str) -> str:
    """The model's name: its folder's name, lm-eval's `model_name`, or that name's last part."""
    if name_from == "folder":
        return path.parent.name
    name = data.get("model_name")
    if not isinstance(name, str) or not name:
        warn(f"{path}: no `model_name` in the file; using its folder's name instead.")
        return path.parent.name
    return name if name_from == "model" else name.rstrip("/").rsplit("/", 1)[-1]


def guess_model_name(path: Path, name_from: str) -> str:
    """The model an unreadable results file was for, from its folder's name alone.

    lm-eval names the folder after the model argument with `/` written `__`."""
    folder = path.parent.name
    if name_from == "model":
        return folder.replace("__", "/")
    if name_from == "checkpoint":
        return folder.rstrip("_").rsplit("__", 1)[-1]
    return folder


def pretrained_path(data: dict) -> str | None:
    """The `pretrained=` model argument of a results file (a string or a dict in lm-eval)."""
    args = (data.get("config") or {}).get("model_args")
    if isinstance(args, dict):
        value = args.get("pretrained")
    elif isinstance(args, str):
        pairs = dict(part.split("=", 1) for part in args.split(",") if "=" in part)
        value = pairs.get("pretrained")
    else:
        value = None
    return str(value) if value else None


def training_labels(results: Results, models: list[str], key: str) -> dict[str, str]:
    """Each model's group: field `key` of its checkpoint's classit_train.json."""
    labels = {}
    for model in models:
        checkpoint = results.checkpoints.get(model)
        meta_file = Path(checkpoint) / TRAINING_METADATA if checkpoint else None
        if meta_file is None or not meta_file.is_file():
            warn(f"Model {model}: no {TRAINING_METADATA} at its checkpoint "
                 f"({checkpoint or 'no pretrained= in its results'}); left out of the groups.")
            continue
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get(key) is None:
            warn(f"Model {model}: {meta_file} has no {key!r} (it has {_short(sorted(meta))}); "
                 "left out of the groups.")
            continue
        labels[model] = str(meta[key])
    return labels


def _subtasks(data: dict) -> set[str]:
    """Tasks that lm-eval ran as members of a group (their group has the score)."""
    groups = data.get("group_subtasks") or {}
    return {task for members in groups.values() if isinstance(members, list) for task in members}


def load(
    dirs: list[str | Path], name_from: str = "folder", extra: dict[str, str] | None = None
) -> Results:
    """Read every results file under `dirs` into the latest score of each model and column."""
    if name_from not in NAME_FROM:
        raise CompareError(f"--name-from {name_from!r}: choose one of {', '.join(NAME_FROM)}.")
    files, unreadable = [], []
    for path in find_files(dirs):
        data = read_file(path)
        if data is None:
            unreadable.append(path)
        else:
            files.append((path, data))
    if not files:
        skipped = f" (could not read {_short(list(map(str, unreadable)))})" if unreadable else ""
        raise CompareError(f"No lm-eval results file (JSON with a `results` object) under "
                           f"{', '.join(map(str, dirs))}{skipped}. Run `lm_eval ... "
                           "--output_path DIR` first.")
    files.sort(key=lambda item: (_date(*item), item[0].name))
    out, ignored = Results(unreadable=unreadable), set[str]()
    for path, data in files:
        name = model_name(path, data, name_from)
        added = _add_file(out, name, path, data, ignored, extra)
        if not added:
            warn(f"{path}: no task with a primary metric in it (tasks: "
                 f"{_short(sorted(data['results']))}); add --metric TASK=METRIC to use one.")
        if (limit := (data.get("config") or {}).get("limit")) is not None:
            warn(f"{path}: run with limit={limit}; its scores are on a subset of each task.")
    if ignored:
        warn(f"Tasks with no primary metric, left out: {_short(sorted(ignored))}. "
             "Add --metric TASK=METRIC to compare them.")
    _warn_mixed_fast(out)
    return out


def _add_file(
    out: Results, name: str, path: Path, data: dict, ignored: set[str], extra: dict[str, str] | None
) -> int:
    """Add one file's scores to `out` (later files win); return how many it added."""
    out.files.setdefault(name, []).append(path)
    if checkpoint := pretrained_path(data):
        out.checkpoints[name] = checkpoint
    subtasks, added = _subtasks(data), 0
    for task, metrics in data["results"].items():
        columns = columns_for(task, extra)
        if not columns:
            if task not in subtasks and _has_scores(metrics):
                ignored.add(task)
            continue
        if not isinstance(metrics, dict):
            warn(f"{path}: task {task} has {json.dumps(metrics)[:40]} where lm-eval writes "
                 "an object of metrics; left out.")
            continue
        for column in columns:
            value = metric_value(metrics, column.metric)
            if value is not None and math.isnan(value):
                warn(f"{path}: task {task} has {column.metric} = NaN (a partial run, e.g. the "
                     "reading task under --limit); left out.")
                continue
            if value is None:
                have = sorted({key.split(",")[0] for key in metrics
                               if "," in key and "_stderr," not in key})
                warn(f"{path}: task {task} has no metric {column.metric!r} "
                     f"(it has {_short(have)}); left out.")
                continue
            out.columns.setdefault(column.name, column)
            out.cells.setdefault(name, {})[column.name] = Cell(value, task, path, _date(path, data))
            added += 1
    return added


def _has_scores(metrics: object) -> bool:
    """True when a `results` entry has a numeric metric (a suite group may have none)."""
    return isinstance(metrics, dict) and any(
        isinstance(v, (int, float)) for k, v in metrics.items() if "," in k)


def _date(path: Path, data: dict) -> float:
    """When the run started (lm-eval's `date`), else the file's modification time."""
    date = data.get("date")
    return float(date) if isinstance(date, (int, float)) else path.stat().st_mtime


def _warn_mixed_fast(out: Results) -> None:
    """Warn when a column mixes full and `_fast` runs across models."""
    for column in out.columns:
        fast = {m: c.task.endswith(FAST_SUFFIX) for m, cols in out.cells.items()
                if (c := cols.get(column))}
        if 0 < sum(fast.values()) < len(fast):
            which = [m for m, is_fast in fast.items() if is_fast]
            warn(f"Column {column} mixes full and _fast results (_fast for {_short(which)}); "
                 "their scores are not on the same items.")


def _short(names: list[str], limit: int = 8) -> str:
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more

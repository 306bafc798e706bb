"""The layout of a `babylm run` folder: where each unit's results go, its marker, the manifest.

    OUT/classit_babylm.json                  the manifest: the model, the settings, the runs
    OUT/<revision>/<task>/...                one unit: lm-eval's results and sample logs
    OUT/<revision>/<task>/classit_babylm_done.json   its marker, written last
    OUT/aoa/classit_aoa/...                  the AoA task over the series

The runner (`series`) writes it; the export reads it. Every path goes through
`sandbox.inside` (no link, no name that leaves the folder).
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

from classit_eval.data.files import write_atomically
from classit_eval.errors import ResultsError
from classit_eval.families import AOA
from classit_eval.leaderboard import sandbox
from classit_eval.leaderboard.sandbox import inside

RUN_MANIFEST = "classit_babylm.json"
DONE = "classit_babylm_done.json"
AOA_UNIT = (AOA.key, AOA.task)  # OUT/aoa/classit_aoa/: the AoA task over the series
# what a resumed run must share with the run that began the folder (absent in a manifest of
# an older version: its default)
IDENTITY_DEFAULTS: dict[str, object] = {"finetune_args": []}


def write_record(path: Path, record: dict) -> None:
    """A marker or the manifest, whole or not at all: a kill leaves the old file or none."""
    write_atomically(path, json.dumps(record, indent=2, default=str) + "\n")


def marker(out: Path, revision: str, task: str) -> Path:
    """`OUT/<revision>/<task>/classit_babylm_done.json`."""
    return inside(out, revision, task, DONE)


def read_marker(out: Path, revision: str, task: str) -> dict | None:
    """The record of a finished (revision, task), or None when it must (re)run."""
    path = marker(out, revision, task)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("samples", {}), dict):
        return None
    files = [record.get("results"), *record.get("samples", {}).values()]
    try:
        return record if all(isinstance(f, str) and inside(path.parent, f).is_file()
                             for f in files) else None
    except ResultsError:  # a recorded path that leaves the folder: not this package's
        return None


def unit_folder(out: Path, revision: str, task: str) -> Path:
    """`OUT/<revision>/<task>/`, emptied of the files an unfinished run of it wrote (its
    ledger's), every other file left in place."""
    folder = inside(out, revision, task)
    sandbox.clear(folder)
    return folder


def read_json(path: Path) -> dict:
    """A results or manifest file's JSON object; anything else is an error naming it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ResultsError(f"{path}: not a readable JSON file ({err}).") from err
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: not a JSON object.")
    return data


def read_manifest(run_dir: Path) -> dict:
    """The run's manifest, `{}` when the folder has none (a folder of hand runs)."""
    path = inside(Path(run_dir), RUN_MANIFEST)
    return read_json(path) if path.is_file() else {}


def open_manifest(out: Path, identity: dict, settings: dict, run_id: str) -> dict:
    """Create or update `OUT/classit_babylm.json`; a folder of another model (or backend,
    scoring, model or fine-tuning arguments: `identity`) is an error, so that two models'
    or settings' results never mix in one submission."""
    path = inside(out, RUN_MANIFEST)
    manifest = {}
    if path.is_file():
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ResultsError(f"{path}: not a readable run manifest ({err}); choose "
                               "another --output-dir.") from err
        if not isinstance(manifest, dict):
            raise ResultsError(f"{path}: not a run manifest (a JSON object); choose another "
                               "--output-dir.")
        theirs = {k: manifest.get(k, IDENTITY_DEFAULTS.get(k)) for k in identity}
        if theirs != identity:
            diff = ", ".join(f"{k}={theirs[k]!r} here, {identity[k]!r} asked"
                             for k in identity if theirs[k] != identity[k])
            raise ResultsError(
                f"{out} holds the results of another run ({diff}); choose another "
                "--output-dir, or run the same model with the same settings.")
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    manifest = {**manifest, **identity, **settings,
                "runs": [*manifest.get("runs", []), {"run_id": run_id, "started": started}]}
    out.mkdir(parents=True, exist_ok=True)
    write_record(path, manifest)
    return manifest


def finish(folder: Path, record: dict) -> dict:
    """Settle the unit's ledger on the files its record names, then write the marker."""
    sandbox.settle(folder, [record["results"], *record["samples"].values(), DONE,
                            f"{DONE}.tmp{os.getpid()}"])
    write_record(inside(folder, DONE), record)
    return record


def model_identity(model: str) -> str:
    """A local model as its absolute path, a hub model by its name."""
    folder = Path(model).expanduser()
    return str(folder.resolve()) if folder.is_dir() else model



"""The run folder of `babylm run` as a sandbox: names, paths, and the files it owns.

A run writes only under its `--output-dir`, and deletes only what it wrote itself. So:
every folder name it builds a path from (a revision, a task) is a plain name (no separator,
no `..`, not absolute); every path is built one component at a time from the run folder,
and a component that is a symbolic link is refused (through a link, a write or a delete
would land in another folder); and each unit folder keeps a ledger of the files the
package wrote there (`classit_babylm_files.json`), recorded *before* they are written, so
that a rerun of a unit cut off by a kill removes those files and nothing else: a user's
file in the folder survives, and no folder is removed wholesale.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from classit_eval.data.files import write_atomically
from classit_eval.errors import ResultsError

LEDGER = "classit_babylm_files.json"
LEDGER_TMP = re.compile(re.escape(LEDGER) + r"\.tmp\d+")


def inside(root: Path, *parts: str) -> Path:
    """`root/parts...`, refusing a part that leaves `root` (`..`, a separator, an absolute
    path) and any component below `root` that is a symbolic link."""
    path = root
    for part in parts:
        for name in PurePosixPath(part).parts:
            if name in (".", "..") or any(sep in name for sep in "/\\\0"):
                raise ResultsError(f"{root}: {part!r} is not a folder or file name inside "
                                   "the run folder; the run writes only under it.")
            path = path / name
            if path.is_symlink():
                raise ResultsError(
                    f"{path} is a symbolic link; the run folder must hold real folders and "
                    "files (a write or a delete through a link would land elsewhere): "
                    "replace the link, or choose another --output-dir.")
    return path


def read_ledger(folder: Path) -> dict:
    """The unit's ledger, or an empty one (absent, or unreadable: then nothing is removed)."""
    try:
        ledger = json.loads(inside(folder, LEDGER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"files": [], "pending": []}
    if not isinstance(ledger, dict):
        return {"files": [], "pending": []}
    return {"files": [f for f in ledger.get("files") or [] if isinstance(f, str)],
            "pending": [p for p in ledger.get("pending") or [] if isinstance(p, dict)]}


def write_ledger(folder: Path, ledger: dict) -> None:
    write_atomically(inside(folder, LEDGER), json.dumps(ledger, indent=2) + "\n")


def record(folder: Path, files: Sequence[str] = (), pending: Sequence[dict] = ()) -> None:
    """Add files (relative to `folder`) the package is about to write to the ledger; a
    `pending` entry `{"dir", "patterns", "before"}` stands for files another library names
    as it writes them: those of `dir` matching `patterns` and not in `before`."""
    folder.mkdir(parents=True, exist_ok=True)
    ledger = read_ledger(folder)
    ledger["files"] = sorted({*ledger["files"], *files})
    ledger["pending"] = [*ledger["pending"], *pending]
    write_ledger(folder, ledger)


def expect(folder: Path, sub: str, patterns: list[str]) -> dict:
    """A pending entry for the files another library will write in `folder/sub`."""
    path = inside(folder, sub)
    before = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
    return {"dir": sub, "patterns": patterns, "before": before}


def settle(folder: Path, files: list[str]) -> None:
    """The unit finished: its ledger lists exactly its files, nothing pending."""
    write_ledger(folder, {"files": sorted({*read_ledger(folder)["files"], *files}),
                          "pending": []})


def own_files(folder: Path) -> list[Path]:
    """The files of `folder` the ledger says the package wrote (pending ones resolved)."""
    ledger = read_ledger(folder)
    found = [inside(folder, f) for f in ledger["files"]]
    for entry in ledger["pending"]:
        sub = entry.get("dir")
        if not isinstance(sub, str):
            continue
        path = inside(folder, sub)
        if not path.is_dir():
            continue
        before = set(entry.get("before") or [])
        patterns = [p for p in entry.get("patterns") or [] if isinstance(p, str)]
        found += [p for p in sorted(path.iterdir()) if p.name not in before
                  and any(fnmatch.fnmatchcase(p.name, pattern) for pattern in patterns)]
    return found


def clear(folder: Path) -> list[Path]:
    """Remove the files the package wrote in a unit folder (a rerun of a cut-off unit),
    then the ledger; every other file stays. Returns what was removed."""
    if not inside(folder).is_dir():
        return []
    removed = []
    for path in own_files(folder):
        if path.is_file() and not path.is_symlink():
            path.unlink()
            removed.append(path)
    ledgers = [p for p in folder.iterdir()  # the ledger, and one cut off as it was written
               if p.name == LEDGER or LEDGER_TMP.fullmatch(p.name)]
    for path in ledgers:
        if path.is_file() and not path.is_symlink():
            path.unlink()
    return removed

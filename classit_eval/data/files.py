"""Where the BabyLM 2025 evaluation data lives, and how to read it.

The data root has the layout of the official `evaluation_data/` folder
(`full_eval/...`, `fast_eval/...`). It is found, in this order, from:

1. an explicit argument (the lm-eval `--metadata data_dir=...` key, a `--data-dir` option);
2. the environment variable `CLASSIT_DATA_DIR`;
3. the user cache, where `classit-eval download-data` puts it
   (`$XDG_CACHE_HOME/classit-eval/evaluation_data`, by default `~/.cache/...`).

A folder may be stored plainly or as a password-protected zip beside it
(`full_eval/ewok_filtered.zip` for `full_eval/ewok_filtered/`), as the official
distribution does for EWoK and entity tracking. Zipped members are read in memory:
nothing is extracted to disk.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from classit_eval.errors import DataError, MissingDataError

DATA_DIR_ENV = "CLASSIT_DATA_DIR"
ZIP_PASSWORD_ENV = "CLASSIT_ZIP_PASSWORD"
# The password the BabyLM 2025 README publishes for its zipped evaluation files.
DEFAULT_ZIP_PASSWORD = "BabyLM2025"
REDOWNLOAD_HINT = "Re-download the file (`classit-eval download-data`)."
GET_DATA_HINT = (
    "Run `classit-eval download-data`, or download `evaluation_data` from "
    "https://osf.io/ryjfm/ and point CLASSIT_DATA_DIR (or --metadata data_dir=...) at it."
)


def cache_dir() -> Path:
    """The user cache folder of classit-eval."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "classit-eval"


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The evaluation data root: `data_dir`, else $CLASSIT_DATA_DIR, else the user cache.

    A folder that contains `evaluation_data/` is accepted for the folder itself.
    """
    if data_dir:
        root, origin = Path(data_dir).expanduser(), "the data_dir argument"
    elif os.environ.get(DATA_DIR_ENV):
        root, origin = Path(os.environ[DATA_DIR_ENV]).expanduser(), f"${DATA_DIR_ENV}"
    else:
        root, origin = cache_dir() / "evaluation_data", "the user cache"
    if (root / "evaluation_data").is_dir():
        root = root / "evaluation_data"
    if not root.is_dir():
        raise MissingDataError(
            f"No BabyLM evaluation data at {root} (from {origin}). {GET_DATA_HINT}"
        )
    return root


@dataclass(frozen=True)
class Source:
    """One data file: a plain file, or a member of a zip archive."""

    path: Path
    member: str | None = None

    @property
    def name(self) -> str:
        """File name without folders or suffix, e.g. `adjunct_island`."""
        return PurePosixPath(self.member).stem if self.member else self.path.stem

    def __str__(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    def read_bytes(self) -> bytes:
        if self.member is None:
            return self.path.read_bytes()
        password = os.environ.get(ZIP_PASSWORD_ENV, DEFAULT_ZIP_PASSWORD).encode()
        with zipfile.ZipFile(self.path) as archive:
            try:
                return archive.read(self.member, pwd=password)
            except RuntimeError as err:  # wrong password
                raise DataError(
                    f"Cannot decrypt {self}: {err}. Set {ZIP_PASSWORD_ENV} to the password "
                    "the BabyLM README publishes for the evaluation data."
                ) from err

    def read_text(self) -> str:
        """The file as UTF-8 text; other bytes are a DataError naming the file."""
        try:
            return self.read_bytes().decode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError(f"{self}: not UTF-8 text (byte {err.start}); save it as UTF-8."
                            ) from err


def _zip_for(root: Path, relative: PurePosixPath) -> tuple[Path, PurePosixPath] | None:
    """The zip standing in for `relative` or one of its folders, and the path inside it."""
    for depth in range(len(relative.parts), 0, -1):
        folder = PurePosixPath(*relative.parts[:depth])
        archive = root / f"{folder}.zip"
        if archive.is_file():
            return archive, PurePosixPath(folder.name, *relative.parts[depth:])
    return None


def _zip_members(archive: Path, inner: PurePosixPath) -> list[str]:
    """Members of `archive` whose path ends with `inner` (files) or lie under it (folder)."""
    with zipfile.ZipFile(archive) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
    exact = [n for n in names if n == str(inner) or n.endswith("/" + str(inner))]
    if exact:
        return exact
    prefix = str(inner) + "/"
    return sorted(n for n in names if n.startswith(prefix) or ("/" + prefix) in n)


def find_file(relative: str, data_dir: str | os.PathLike | None = None, task: str = "") -> Source:
    """The file `relative` (e.g. `full_eval/reading/reading_data.csv`) under the data root."""
    root = data_root(data_dir)
    rel = PurePosixPath(relative)
    if (root / rel).is_file():
        return Source(root / rel)
    zipped = _zip_for(root, rel)
    if zipped and (members := _zip_members(*zipped)):
        return Source(zipped[0], members[0])
    raise MissingDataError(_missing_message(task, root / rel, zipped))


def find_files(
    folder: str,
    data_dir: str | os.PathLike | None = None,
    task: str = "",
    suffix: str = ".jsonl",
) -> list[Source]:
    """All `suffix` files of `folder` (plain, or inside `folder.zip`), sorted by name."""
    root = data_root(data_dir)
    rel = PurePosixPath(folder)
    if (root / rel).is_dir():
        found = [Source(p) for p in sorted((root / rel).glob(f"*{suffix}"))]
    else:
        zipped = _zip_for(root, rel)
        members = _zip_members(*zipped) if zipped else []
        found = [Source(zipped[0], m) for m in members if m.endswith(suffix)] if zipped else []
    if not found:
        raise MissingDataError(_missing_message(task, root / rel, _zip_for(root, rel)))
    return sorted(found, key=lambda s: s.name)


def _missing_message(task: str, path: Path, zipped: tuple[Path, PurePosixPath] | None) -> str:
    where = f"{path} (or {path}.zip)" if not zipped else f"{path} or inside {zipped[0]}"
    who = f"Task {task} needs" if task else "Needed:"
    return f"{who} {where}, which does not exist. {GET_DATA_HINT}"


def iter_jsonl(source: Source, required: tuple[str, ...] = (),
               hint: str = REDOWNLOAD_HINT) -> Iterator[dict]:
    """The records of a JSON-lines file; a bad line raises DataError naming file and line.

    `hint` ends the message of a line that is not JSON: how to get a good file (by default,
    re-download the official data; pass another for the user's own files).
    """
    text = source.read_text()
    for number, line in enumerate(io.StringIO(text), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(
                f"{source}, line {number}: not valid JSON ({err.msg}). {hint}"
            ) from err
        if not isinstance(record, dict):
            raise DataError(f"{source}, line {number}: expected a JSON object, got {record!r:.60}")
        missing = [key for key in required if key not in record]
        if missing:
            raise DataError(
                f"{source}, line {number}: missing field(s) {', '.join(missing)}; "
                f"the line has {', '.join(record)}."
            )
        yield record


def read_jsonl(source: Source, required: tuple[str, ...] = ()) -> list[dict]:
    """All records of a JSON-lines file (see `iter_jsonl`)."""
    return list(iter_jsonl(source, required))


def write_atomically(path: Path, text: str) -> Path:
    """Write `path` whole or not at all: the text goes to `<name>.tmp<pid>` beside it, then
    replaces it, so a kill leaves the old file (or none) and never half of one."""
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path

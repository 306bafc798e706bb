"""`classit-eval download-data`: fetch, unpack and verify the BabyLM 2025 evaluation data.

    classit-eval download-data                      # from OSF (project ryjfm) into the cache
    classit-eval download-data --archive data.zip   # from an archive you downloaded
    classit-eval download-data --verify DIR         # check a data root you already have

The archive is unpacked from its `evaluation_data/` folder (or its root, when that holds
`full_eval/`/`fast_eval/`). Password zips inside it (EWoK, entity tracking) stay zipped.
Every file listed in `manifest.json` (SHA-256 of the official files' contents,
whether stored plainly or zipped) is verified; a mismatch is an error. An entry written
`PREFIX...SUFFIX` is a hash known only abbreviated (the AoA task's `cdi_human.csv`, whose
full hash no public source here gives): the digest must start and end with those digits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from classit_eval import options
from classit_eval.data.files import DataError, MissingDataError, cache_dir, find_file
from classit_eval.errors import OptionError, UserError

OSF_URL = "https://files.osf.io/v1/resources/ryjfm/providers/osfstorage/?zip="
DATA_MANIFEST = Path(__file__).with_name("manifest.json")
OFFLINE_HINT = (
    "Without network access, download `evaluation_data` from https://osf.io/ryjfm/ on a "
    "machine that has it, then run `classit-eval download-data --archive FILE.zip`, or "
    "unpack it anywhere and set CLASSIT_DATA_DIR."
)


class DownloadError(UserError, ConnectionError):
    """The archive URL cannot be reached; the message says how to get the data offline."""


def fetch(url: str, target: Path, timeout: float) -> Path:
    """Download `url` to `target`, failing fast (with the fix) when it cannot be reached."""
    try:
        response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (user-given URL)
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(f"Cannot reach {url} ({reason}). {OFFLINE_HINT}") from err
    total = int(response.headers.get("Content-Length") or 0) or None
    with response, target.open("wb") as out, tqdm(
        total=total, unit="B", unit_scale=True, desc="downloading"
    ) as bar:
        while chunk := response.read(1 << 20):
            out.write(chunk)
            bar.update(len(chunk))
    return target


def _data_prefix(names: list[str]) -> str:
    """The member prefix under which `full_eval/` or `fast_eval/` lie."""
    for name in names:
        parts = PurePosixPath(name).parts
        for i, part in enumerate(parts):
            if part in ("full_eval", "fast_eval"):
                return "/".join(parts[:i]) + ("/" if i else "")
    raise DataError(
        "The archive holds no full_eval/ or fast_eval/ folder: it is not the BabyLM 2025 "
        f"evaluation data. {OFFLINE_HINT}"
    )


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack the evaluation data of `archive` into `dest` (replacing it) and return `dest`."""
    if not zipfile.is_zipfile(archive):
        raise DataError(f"{archive} is not a zip archive. {OFFLINE_HINT}")
    with zipfile.ZipFile(archive) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        prefix = _data_prefix(names)
        staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=dest.parent))
        for name in names:
            if not name.startswith(prefix):
                continue
            relative = PurePosixPath(name[len(prefix):])
            if relative.is_absolute() or ".." in relative.parts:
                raise DataError(f"{archive}: unsafe member path {name!r}; not unpacking it.")
            target = staging.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(name) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
    if dest.exists():
        shutil.rmtree(dest)
    staging.rename(dest)
    return dest


def verify(root: Path, manifest: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Check every manifest file present under `root`; return (verified, missing paths)."""
    manifest = manifest if manifest is not None else json.loads(DATA_MANIFEST.read_text())
    verified, missing = 0, []
    for relative, expected in manifest.items():
        try:
            source = find_file(relative, root)
        except MissingDataError:
            missing.append(relative)
            continue
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        if not matches(digest, expected):
            raise DataError(
                f"Checksum mismatch for {source}: expected sha256 {expected[:12]}..., got "
                f"{digest[:12]}.... The file is corrupt or not the official one; download "
                "the data again."
            )
        verified += 1
    return verified, missing


def matches(digest: str, expected: str) -> bool:
    """The digest is the expected one, or starts and ends as an abbreviated one does."""
    prefix, dots, suffix = expected.partition("...")
    if not dots:
        return digest == expected
    return digest.startswith(prefix) and digest.endswith(suffix)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--url", type=options.url, default=OSF_URL,
                        help="archive URL (default: OSF ryjfm)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--archive", type=options.existing_file,
                        help="a local archive instead of --url")
    source.add_argument("--verify", type=options.existing_dir, metavar="DIR",
                        help="only verify an existing data root")
    parser.add_argument("--dest", type=Path, default=None,
                        help="where to unpack (default: the user cache)")
    parser.add_argument("--timeout", type=options.positive_float, default=30.0,
                        help="network timeout, seconds (> 0)")


def run(args: argparse.Namespace) -> int:
    if args.verify:
        root = args.verify
        verified, missing = verify(root)
    else:
        root = args.dest or cache_dir() / "evaluation_data"
        if root.exists() and not root.is_dir():
            raise OptionError(f"--dest {root} is a file: give a folder to unpack the data in.")
        root.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root.parent) as tmp:
            archive = args.archive or fetch(args.url, Path(tmp) / "data.zip", args.timeout)
            # verified before it replaces `root`: a corrupt download leaves no data behind
            unpacked = unpack(archive, Path(tmp) / "evaluation_data")
            verified, missing = verify(unpacked)
            if root.exists():
                shutil.rmtree(root)
            unpacked.rename(root)
    print(f"{root}: {verified} files verified against the manifest.")
    if missing:
        print(f"warning: {len(missing)} manifest files are not there, e.g. {missing[0]}.",
              file=sys.stderr)
    print(f"Use it with: export CLASSIT_DATA_DIR={root}")
    return 0

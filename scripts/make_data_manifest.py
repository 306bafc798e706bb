"""Write classit_eval/data/manifest.json: SHA-256 of every evaluation data file's content.

    python scripts/make_data_manifest.py ../shared/data/babylm-2025

Files inside password zips are listed under their logical path (the zip's folder plus
the member's path below it), as classit_eval.data.find_file resolves them.
"""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from pathlib import Path, PurePosixPath

from classit_eval.data.files import Source, find_file


def logical_paths(root: Path) -> list[str]:
    paths = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.suffix == ".zip":
            folder = PurePosixPath(relative).with_suffix("")
            with zipfile.ZipFile(path) as zf:
                for member in zf.namelist():
                    parts = PurePosixPath(member).parts
                    if member.endswith("/") or folder.name not in parts:
                        continue
                    below = parts[parts.index(folder.name) + 1:]
                    paths.append(str(PurePosixPath(folder, *below)))
        elif path.is_file():
            paths.append(relative)
    return paths


def main() -> None:
    root = Path(sys.argv[1])
    manifest = {}
    for relative in logical_paths(root):
        source: Source = find_file(relative, root)
        manifest[relative] = hashlib.sha256(source.read_bytes()).hexdigest()
    out = Path(__file__).resolve().parent.parent / "classit_eval" / "data" / "manifest.json"
    out.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"{len(manifest)} files -> {out}")


if __name__ == "__main__":
    main()

"""The organisers' collator as an oracle: run it on an official results tree, compare files.

The collator (`collate_preds.py`, github babylm/evaluation-pipeline-2025, kept unmodified in
../shared/data/reference/babylm-2025-pipeline-code/) is run or imported from there, never
copied. It reads the fast data as plain files (`<fast_eval>/ewok_fast/<domain>.jsonl`, ...),
so `fast_data` lays out a folder with the zipped folders extracted (password BabyLM2025):
a temporary folder, never the data root.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("CLASSIT_SHARED_DATA", REPO.parent / "shared" / "data"))
COLLATOR = SHARED / "reference" / "babylm-2025-pipeline-code" / "collate_preds.py"
PASSWORD = os.environ.get("CLASSIT_ZIP_PASSWORD", "BabyLM2025").encode()


def fast_data(data_root: Path, out: Path) -> Path:
    """`out` as a plain fast_eval folder: each folder of `data_root/fast_eval` linked, each
    zip extracted (members `.../fast_eval/<folder>/<file>` to `out/<folder>/<file>`)."""
    source = Path(data_root) / "fast_eval"
    out.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir()):
        if entry.is_dir():
            (out / entry.name).symlink_to(entry.resolve())
        elif entry.suffix == ".zip":
            with zipfile.ZipFile(entry) as archive:
                for member in archive.namelist():
                    parts = Path(member).parts
                    if member.endswith("/") or entry.stem not in parts:
                        continue
                    target = out.joinpath(*parts[parts.index(entry.stem):])
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.read(member, pwd=PASSWORD))
    return out


def run(results_dir: Path, model: str, fast_eval_dir: Path, track: str = "strict-small",
        backend: str = "causal", collator: Path = COLLATOR) -> tuple[subprocess.CompletedProcess,
                                                                    Path]:
    """Run the collator as the organisers do; returns the process and the file it writes."""
    argv = [sys.executable, str(collator), "--model_path_or_name", model, "--backend", backend,
            "--fast", "--track", track, "--results_dir", str(results_dir),
            "--fast_eval_dir", str(fast_eval_dir)]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=results_dir)
    name = f"all_full_preds_and_fast_scores_{backend}.json"
    written = Path(results_dir) / Path(model).stem / name
    return done, written


def load_module(collator: Path = COLLATOR):
    """The collator imported as a module, for its per-part functions (an oracle)."""
    spec = importlib.util.spec_from_file_location("collate_preds", collator)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def differences(ours: object, theirs: object, tolerance: float = 0.0, where: str = "",
                limit: int = 20) -> list[str]:
    """Where two JSON values differ: numbers beyond `tolerance` (NaN equals NaN), any
    other value not equal, keys or lengths that differ. At most `limit` lines."""
    out: list[str] = []

    def walk(a: object, b: object, at: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            if a.keys() != b.keys():
                out.append(f"{at}: keys {sorted(a.keys() ^ b.keys())[:5]} in one only")
            for key in a.keys() & b.keys():
                walk(a[key], b[key], f"{at}/{key}")
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                out.append(f"{at}: {len(a)} vs {len(b)} entries")
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                walk(x, y, f"{at}[{i}]")
        elif _number(a) and _number(b) and not (isinstance(a, int) and isinstance(b, int)):
            if not (math.isnan(a) and math.isnan(b)) and not abs(a - b) <= tolerance:
                out.append(f"{at}: {a!r} vs {b!r}")
        elif a != b or type(a) is not type(b):
            out.append(f"{at}: {a!r:.80} vs {b!r:.80}")

    walk(ours, theirs, where)
    return out


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)

"""Format fixtures for the BabyLM 2025 evaluation files that are not in ../shared/data.

    python scripts/make_format_fixtures.py OUT [--comps-per-file N] [--train-lines N]
    python scripts/make_format_fixtures.py OUT --overlay ../shared/data/babylm-2025

FIXTURES, NOT THE REAL DATA. COMPS, WUG past tense, boolq.train and multirc.train are
not distributed here (see ../shared/data/SOURCES.md). This writes files of their official
layout, field names and item counts, filled with made-up, well-formed English sentences,
so that the tasks, the export, the check and the organisers' collator can be run end to
end. No score computed on them means anything.

- `full_eval/comps/comps_base.jsonl`, `comps_wugs.jsonl`, `comps_wugs_dist-before.jsonl`,
  `comps_wugs_dist-in-between.jsonl`: `prefix_acceptable`, `prefix_unacceptable`,
  `property_phrase` (what the official `decode_comps` reads); 49,340 + 3 x 13,896 lines
  (the counts `collate_preds.py` asserts), or N per file with `--comps-per-file`;
- `full_eval/wug_past_tense/wug_past_tense.jsonl` and its `fast_eval` twin: `sentences`
  (tab-separated candidates, the first the regular past) and `ratio`, 50 lines each;
- `full_eval/glue_filtered/boolq.train.jsonl` (`question`, `passage`, `idx`, `label`) and
  `multirc.train.jsonl` (`paragraph`, `question`, `answer`, `idx` {paragraph, question,
  answer}, `label`), the fields of their `.valid` files; `--train-lines` lines each (the
  official counts are not known here).

`--overlay REAL` writes OUT as a data root instead: the real data (linked, never copied) and
the fixtures only where REAL has no such file (nor a zip standing in for its folder).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classit_eval.families import COMPS_SIZES  # noqa: E402
from classit_eval.leaderboard.tracks import WUG_FILES  # noqa: E402
from classit_eval.names import COMPS_OTHER, COMPS_SUBSETS  # noqa: E402

COMPS_FILES = {**{subset: stem for stem, subset in COMPS_SUBSETS.items()},
               COMPS_OTHER: "comps_wugs_dist-in-between"}
WUG_PAST_LINES = 50
TRAIN_LINES = 1000

CONCEPTS = ["robin", "sparrow", "salmon", "whale", "tiger", "rabbit", "hammer", "spoon",
            "violin", "tulip", "oak", "truck", "kettle", "penguin", "snail", "owl"]
PROPERTIES = ["can fly", "has feathers", "lives in water", "has fur", "is made of metal",
              "is used for cooking", "makes music", "grows in a garden", "has wheels",
              "lays eggs", "has a shell", "hunts at night", "has roots", "can swim"]
NONCE = ["dax", "wug", "blicket", "fep", "toma", "zorp", "kiki", "lorp", "mipo", "tulver"]
VERBS = ["gleed", "spling", "bize", "frink", "trab", "nold", "plim", "stoon", "drit", "zay"]


def comps_line(rng: random.Random, subset: str) -> dict:
    good, bad = rng.sample(CONCEPTS, 2)
    phrase = rng.choice(PROPERTIES) + "."
    if subset == "base":
        prefixes = [f"A {good}", f"A {bad}"]
    else:
        wug, other = rng.sample(NONCE, 2)
        if subset == "wugs":
            prefixes = [f"A {wug} is a type of {c}. Therefore, a {wug}" for c in (good, bad)]
        elif subset == "wugs_dist_before":
            prefixes = [f"A {other} is a type of {d}. A {wug} is a type of {c}. Therefore, a "
                        f"{wug}" for c, d in ((good, bad), (bad, good))]
        else:
            prefixes = [f"A {wug} is a type of {c}. A {other} is a type of {d}. Therefore, a "
                        f"{wug}" for c, d in ((good, bad), (bad, good))]
    return {"prefix_acceptable": prefixes[0], "prefix_unacceptable": prefixes[1],
            "property_phrase": phrase}


def wug_past_line(rng: random.Random) -> dict:
    verb = rng.choice(VERBS) + rng.choice(["", "k", "p", "m"])
    forms = [verb + ("d" if verb.endswith("e") else "ed"), verb.replace("i", "a", 1),
             verb.replace("i", "u", 1)]
    forms = list(dict.fromkeys(forms))[: rng.choice([2, 3])]
    if len(forms) < 2:
        forms.append(verb + "t")
    sentences = [f"Every day they {verb}. Yesterday they {form}." for form in forms]
    return {"sentences": "\t".join(sentences), "ratio": round(rng.random(), 4)}


def boolq_line(rng: random.Random, n: int) -> dict:
    concept, prop = rng.choice(CONCEPTS), rng.choice(PROPERTIES)
    return {"question": f"is it true that a {concept} {prop}",
            "passage": f"{concept.capitalize()} -- A {concept} is often described in books. "
                       f"Some say a {concept} {prop}; others disagree.",
            "idx": n, "label": rng.randint(0, 1)}


def multirc_line(rng: random.Random, n: int) -> dict:
    concept, prop = rng.choice(CONCEPTS), rng.choice(PROPERTIES)
    return {"paragraph": f"The children saw a {concept} by the river. Their teacher told them "
                         f"that a {concept} {prop}. They wrote it down in their notebooks.",
            "question": f"What did the teacher say about the {concept}?",
            "answer": rng.choice([f"It {prop}", "Nothing", f"It is a {rng.choice(CONCEPTS)}"]),
            "idx": {"paragraph": n // 12, "question": n // 3, "answer": n},
            "label": rng.randint(0, 1)}


def write_jsonl(path: Path, lines: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def write_fixtures(out: Path, comps_per_file: int | None = None,
                   train_lines: int = TRAIN_LINES, seed: int = 0) -> list[Path]:
    """Write every fixture under `out` (an evaluation data root); returns the files."""
    rng = random.Random(seed)
    written = []
    for subset, stem in COMPS_FILES.items():
        n = comps_per_file or COMPS_SIZES[subset]
        written.append(write_jsonl(out / "full_eval" / "comps" / f"{stem}.jsonl",
                                   [comps_line(rng, subset) for _ in range(n)]))
    wug = [wug_past_line(rng) for _ in range(WUG_PAST_LINES)]
    name = WUG_FILES["wug_past"]
    for split in ("full_eval", "fast_eval"):
        written.append(write_jsonl(out / split / name / f"{name}.jsonl", wug))
    glue = out / "full_eval" / "glue_filtered"
    written.append(write_jsonl(glue / "boolq.train.jsonl",
                               [boolq_line(rng, n) for n in range(train_lines)]))
    written.append(write_jsonl(glue / "multirc.train.jsonl",
                               [multirc_line(rng, n) for n in range(train_lines)]))
    return written


def overlay(real: Path, fixtures: Path, out: Path) -> Path:
    """A data root at `out`: every file of `real` linked, then each fixture file whose
    path `real` lacks (as a file, or inside a zip standing in for one of its folders)."""
    real = real.resolve()
    for path in sorted(real.rglob("*")):
        if path.is_file():
            target = out / path.relative_to(real)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    for path in sorted(fixtures.rglob("*")):
        relative = path.relative_to(fixtures)
        zipped = any((real / f"{Path(*relative.parts[:d])}.zip").is_file()
                     for d in range(1, len(relative.parts)))
        if path.is_file() and not (real / relative).exists() and not zipped:
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out / relative)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--comps-per-file", type=int, default=None,
                   help="lines per COMPS file (default: the official counts)")
    p.add_argument("--train-lines", type=int, default=TRAIN_LINES)
    p.add_argument("--overlay", type=Path, default=None, metavar="REAL",
                   help="write OUT as a data root: REAL linked, fixtures where it has none")
    args = p.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        p.error(f"{args.out} is not empty; choose a new folder")
    if args.overlay is None:
        files = write_fixtures(args.out, args.comps_per_file, args.train_lines)
    else:
        staging = args.out.with_name(args.out.name + ".fixtures")
        write_fixtures(staging, args.comps_per_file, args.train_lines)
        overlay(args.overlay, staging, args.out)
        shutil.rmtree(staging)
        files = [f for f in args.out.rglob("*") if f.is_file() and not f.is_symlink()]
    print(f"wrote {len(files)} fixture files under {args.out} (format fixtures, not real data)")


if __name__ == "__main__":
    main()

"""`classit-eval babylm curves`: learning curves of the fast tasks, one line per model.

    classit-eval babylm curves runs/model_a \
        runs/model_b/all_full_preds_and_fast_scores_causal.json --plot curves.png

Each input is a run folder (`babylm run --output-dir`) or a submission file. The scores
are the `fast_eval_results` of the submission (for a run folder, computed from its sample
logs as the export computes them): per task the mean over its subtasks, reading as its two
scores; each against the words seen, read off the revision name (`chck_10M`: 10 million),
on a log scale.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from classit_eval.data.series import TRACKS, revision_words, track_of
from classit_eval.errors import ResultsError
from classit_eval.leaderboard.tracks import FAST_RESULTS_KEY

PANELS = {"blimp": "BLiMP (acc)", "blimp_supplement": "BLiMP supplement (acc)",
          "ewok": "EWoK (acc)", "entity_tracking": "Entity tracking (acc)",
          "wug_adj": "WUG adj (Spearman)", "wug_past": "WUG past (Spearman)",
          "reading/rt": "Reading: eye tracking (dR2)", "reading/spr": "Reading: self-paced (dR2)"}
FORMATS = (".png", ".svg", ".pdf")

Curve = dict[str, list[tuple[int, float]]]  # panel -> [(words, score)]


def curve(fast: dict, revisions: list[str]) -> Curve:
    """The points of every panel from `fast_eval_results` (revisions in the list's order)."""
    out: Curve = {}
    for key, entries in fast.items():
        if not isinstance(entries, list):
            continue
        for revision, entry in zip(revisions, entries, strict=False):
            words = revision_words(revision)
            if not isinstance(entry, dict) or words is None:
                continue
            if key == "reading":
                for part in ("rt", "spr"):
                    if _finite(entry.get(part)):
                        out.setdefault(f"reading/{part}", []).append((words, entry[part]))
                continue
            values = [v for v in entry.values() if _finite(v)]
            if values:
                out.setdefault(key, []).append((words, sum(values) / len(values)))
    return out


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_input(path: Path, track: str | None, data_dir: str | None) -> tuple[str, Curve]:
    """A model's label and curve, from a run folder or a submission file."""
    if path.is_dir():
        from classit_eval.leaderboard import export
        from classit_eval.leaderboard.run_folder import read_manifest

        manifest = read_manifest(path)
        revisions = manifest.get("revisions") or TRACKS[track or manifest.get("track")
                                                        or "strict-small"]
        exporter = export.Exporter(path, manifest.get("model"), data_dir)
        label = Path(str(manifest.get("model") or path)).name
        return label, curve(export.fast_results(exporter, revisions), revisions)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        fast = data[FAST_RESULTS_KEY]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ResultsError(f"{path}: not a run folder, nor a submission file with "
                           f"{FAST_RESULTS_KEY} ({type(err).__name__}).") from err
    lengths = {len(v) for v in fast.values() if isinstance(v, list)}
    track = track or (track_of(lengths.pop()) if len(lengths) == 1 else None)
    if track is None:
        raise ResultsError(f"{path}: cannot tell the track from {FAST_RESULTS_KEY}; "
                           "pass --track.")
    return path.stem, curve(fast, TRACKS[track])


def plot(curves: dict[str, Curve], target: Path) -> Path:
    """One panel per task, one line per model, words seen on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in PANELS if any(p in c for c in curves.values())]
    if not panels:
        raise ResultsError("No fast scores to plot in the inputs.")
    columns = min(4, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 2.9 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        for label, points in curves.items():
            if panel in points:
                xs, ys = zip(*sorted(points[panel]), strict=True)
                ax.plot(xs, ys, marker="o", markersize=3, label=label)
        ax.set_xscale("log")
        ax.set_title(PANELS[panel], fontsize=9)
        ax.set_xlabel("words seen")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = __doc__.split("\n\n")[2]
    p.add_argument("inputs", nargs="+", type=Path, metavar="RUN_DIR_OR_FILE",
                   help="run folders of babylm run, or submission files")
    p.add_argument("--plot", required=True, type=Path, help="the figure (.png, .svg, .pdf)")
    p.add_argument("--track", default=None, choices=list(TRACKS),
                   help="the track of submission files (default: from their length)")
    p.add_argument("--data-dir", default=None,
                   help="evaluation data root (default: $CLASSIT_DATA_DIR, then the user cache)")


def run(args: argparse.Namespace) -> int:
    if args.plot.suffix.lower() not in FORMATS:
        raise ResultsError(f"--plot {args.plot}: the file must end in {', '.join(FORMATS)}.")
    for path in args.inputs:
        if not path.exists():
            raise ResultsError(f"{path}: no such file or folder.")
    curves = dict(read_input(path, args.track, args.data_dir) for path in args.inputs)
    for label, points in curves.items():
        print(f"{label}: " + ", ".join(f"{k} ({len(v)} revisions)" for k, v in points.items()))
    print(f"wrote {plot(curves, args.plot)}")
    return 0

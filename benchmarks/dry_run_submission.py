"""A BabyLM 2025 strict-small submission at full size, through the organisers' collator.

    nice -n 5 python benchmarks/dry_run_submission.py [--work DIR] [--revisions ...]

A dry run of the whole workflow a participant follows, not a CI test (25 minutes on the
2-core machine shared with other jobs; leaderboards/README.md has the figures):

1. a tiny random LLaMA (tests/tiny.py) saved as the final model and copied into the 19
   strict-small checkpoint folders `chck_1M` ... `chck_100M`;
2. a data root of the real data (../shared/data/babylm-2025, linked) plus the format
   fixtures of scripts/make_format_fixtures.py where a file is absent (COMPS at its
   official 91,028 pairs, WUG past, boolq.train, multirc.train);
3. `classit-eval babylm run` (every task, the 7 GLUE fine-tunings kept cheap with
   `--finetune-args`), `babylm export --official-tree`, `babylm check`: zero problems, no
   `--allow-missing`. With `--workers N` (default 3) the run's own runner first evaluates
   the checkpoints' fast suites in N processes and the final model's units in one more, at
   once (on a shared machine more processes get more of it); `babylm run` then finds them
   done, as on a resumed run, and exports;
4. the organisers' `collate_preds.py` (run from ../shared/data/reference, unmodified) on the
   official tree, with the fast data extracted into a temporary folder: it must exit 0, and
   its file must equal ours: every prediction identical, every fast score within 1e-6.

Prints the wall time of each stage (from the run's progress markers) and the verdict;
exits 1 when a check fails. Timings depend on the machine's load: say so when quoting them.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from classit_eval.data.series import TRACKS  # noqa: E402
from classit_eval.leaderboard.run_folder import DONE  # noqa: E402
from classit_eval.leaderboard.tracks import FAST_RESULTS_KEY  # noqa: E402
from scripts import make_format_fixtures as fixtures  # noqa: E402
from tests.oracles import official_collator as collator  # noqa: E402

CLI = str(Path(sys.executable).parent / "classit-eval")
FINETUNE_ARGS = "--epochs 1 --max-train-examples 2000 --max-length 128"
SCORE_TOLERANCE = 1e-6


def build_model(folder: Path, revisions: list[str]) -> Path:
    """A tiny random LLaMA (tests/tiny.py: 2 layers, 32 wide, a 600-token BPE) as the final
    model, copied into each checkpoint folder."""
    from tests.tiny import build_tiny_model

    corpus = collator.SHARED / "corpora" / "babylm-samples" / "train_100k" / "simple_wiki.train"
    build_tiny_model(folder, corpus, add_bos=True)
    files = [p for p in folder.iterdir() if p.is_file()]
    for revision in revisions:
        (folder / revision).mkdir()
        for path in files:
            shutil.copy2(path, folder / revision / path.name)
    return folder


def worker(part: str, revisions: list[str], run_argv: list[str]) -> None:
    """Evaluate part of what `babylm run run_argv` plans, through its own runner (markers
    included): the fast units of `revisions` (part "fast"), or the final model's full
    units, fine-tunings and the AoA task (part "final"). The `babylm run` that follows
    finds them done and skips them."""
    from classit_eval import options
    from classit_eval.data.series import final_checkpoint, find_checkpoints
    from classit_eval.families import FAMILIES
    from classit_eval.leaderboard import plan, run, series
    from classit_eval.leaderboard.tracks import AOA_KEY, GLUE_KEY

    parser = options.Parser(prog="classit-eval babylm run")
    run.add_arguments(parser)
    settings = parser.parse_args(run_argv[3:])
    settings.prog = parser.prog
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    units = plan.make_plan([*FAMILIES, GLUE_KEY, AOA_KEY], settings.glue_tasks,
                             settings.data_dir, explicit=False)
    session = series.Session(settings, settings.output_dir, f"dry-run-{part}")
    if part == "fast":
        checkpoints, _ = find_checkpoints(settings.model, revisions)
        work = [(c.revision, u.task, lambda c=c, u=u: session.evaluate(c, u))
                for c in checkpoints for u in units.fast]
    else:
        final = final_checkpoint(settings.model)
        checkpoints, _ = find_checkpoints(settings.model, TRACKS["strict-small"])
        work = [(final.revision, u.task, lambda u=u: session.evaluate(final, u))
                for u in units.full]
        work += [(final.revision, t, lambda t=t: session.finetune(final, t)) for t in units.glue]
        work.append(("aoa", "classit_aoa", lambda: session.aoa(checkpoints)))
    for revision, task, run_unit in work:
        record = run_unit()
        print(f"{revision}/{task}: {record['seconds']:.1f} s", flush=True)


def run_in_parallel(run_argv: list[str], revisions: list[str], workers: int,
                    work: Path) -> float:
    """The fast units split over `workers` processes and the final model's units in one
    more, all at once; their wall seconds."""
    slices = [revisions[i::workers] for i in range(workers)]
    jobs = [("fast", s) for s in slices] + [("final", [])]
    start = time.perf_counter()
    running = []
    for n, (part, revs) in enumerate(jobs):
        log = open(work / f"worker{n}.log", "w", encoding="utf-8")  # noqa: SIM115
        argv = [sys.executable, __file__, "--worker", part, "--worker-revisions",
                ",".join(revs) or "-", "--", *run_argv]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread each: no oversubscription
        running.append((subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env),
                        log, n))
    for process, log, n in running:
        if process.wait() != 0:
            sys.exit(f"worker {n} exited {process.returncode}; see {work}/worker{n}.log")
        log.close()
    return time.perf_counter() - start


def timed(argv: list[str], log: Path) -> float:
    """Run a command, its output to `log`; its wall seconds. A failure stops the run."""
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as handle:
        done = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{shlex.join(argv)} exited {done.returncode}; see {log}")
    return seconds


def stage_times(run_dir: Path) -> dict[str, float]:
    """Seconds per stage, from each unit's progress marker."""
    out: dict[str, float] = defaultdict(float)
    for marker in sorted(run_dir.rglob(DONE)):
        record = json.loads(marker.read_text(encoding="utf-8"))
        revision, task = record["revision"], record["task"]
        if revision.startswith("chck_"):
            out[f"fast suite, {revision}"] += record["seconds"]
        elif task.startswith("classit_finetune_"):
            out[f"GLUE {task.removeprefix('classit_finetune_')}"] += record["seconds"]
        elif task == "classit_aoa":
            out["AoA over the series"] += record["seconds"]
        elif task == "classit_reading":
            out["reading (final model)"] += record["seconds"]
        else:
            out[f"full suite (final model): {task}"] += record["seconds"]
    return dict(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=None, help="working folder (default: a "
                   "temporary one, removed at the end unless --keep)")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--data", type=Path, default=collator.SHARED / "babylm-2025")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--model-args", default="dtype=float64",
                   help="the classit model's arguments (default: float64, as a random "
                        "model's candidates are near-ties that float32 would score twice)")
    p.add_argument("--finetune-args", default=FINETUNE_ARGS)
    p.add_argument("--workers", type=int, default=4,
                   help="processes evaluating the checkpoints' fast suites at once, beside "
                        "one for the final model (0: babylm run alone does everything)")
    p.add_argument("--worker", choices=("fast", "final"), help=argparse.SUPPRESS)
    p.add_argument("--worker-revisions", default="", help=argparse.SUPPRESS)
    p.add_argument("run_argv", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker, [r for r in args.worker_revisions.split(",") if r != "-"],
               args.run_argv)
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="classit-dry-run-"))
    work.mkdir(parents=True, exist_ok=True)
    revisions = TRACKS["strict-small"]
    timings: dict[str, float] = {}
    try:
        start = time.perf_counter()
        model = build_model(work / "tiny-llama", revisions)
        fixtures.write_fixtures(work / "fixtures")
        data = fixtures.overlay(args.data, work / "fixtures", work / "data")
        timings["set-up: model, 19 checkpoint copies, data root with fixtures"] = (
            time.perf_counter() - start)
        run_dir, tree = work / "run", work / "results"
        run_argv = [CLI, "babylm", "run", "--model", str(model), "--track", "strict-small",
                    "--output-dir", str(run_dir), "--device", "cpu", "--batch-size",
                    str(args.batch_size), "--model-args", args.model_args, "--data-dir",
                    str(data), "--finetune-args", args.finetune_args]
        if args.workers:
            timings[f"{args.workers} fast workers + 1 final-model worker (wall)"] = (
                run_in_parallel(run_argv, revisions, args.workers, work))
        timings["babylm run (what is left; then export, check)"] = timed(run_argv,
                                                                          work / "run.log")
        timings["babylm export --official-tree"] = timed(
            [CLI, "babylm", "export", str(run_dir), "--data-dir", str(data),
             "--official-tree", str(tree)], work / "export.log")
        ours_path = run_dir / "all_full_preds_and_fast_scores_causal.json"
        check_seconds = timed([CLI, "babylm", "check", str(ours_path), "--track",
                               "strict-small", "--data-dir", str(data)], work / "check.log")
        timings["babylm check"] = check_seconds
        fast = collator.fast_data(data, work / "fast_eval_plain")
        start = time.perf_counter()
        done, theirs_path = collator.run(tree, str(model), fast)
        timings["collate_preds.py"] = time.perf_counter() - start
        (work / "collator.log").write_text(done.stdout + done.stderr, encoding="utf-8")

        print("stage wall times (s; the machine was shared, so these are under contention):")
        for name, seconds in {**stage_times(run_dir), **timings}.items():
            print(f"  {name:60s} {seconds:9.1f}")
        print(f"check: {(work / 'check.log').read_text(encoding='utf-8').strip()}")
        print(f"collate_preds.py exit status: {done.returncode}")
        if done.returncode != 0:
            print((done.stdout + done.stderr)[-3000:])
            return 1
        ours, theirs = collator.read(ours_path), collator.read(theirs_path)
        fast_ours, fast_theirs = ours.pop(FAST_RESULTS_KEY), theirs.pop(FAST_RESULTS_KEY)
        predictions = collator.differences(ours, theirs)
        scores = collator.differences(fast_ours, fast_theirs, SCORE_TOLERANCE)
        worst = max_difference(fast_ours, fast_theirs)
        print(f"keys: ours {sorted(ours)}; the collator's {sorted(theirs)}")
        print(f"predictions: {'identical' if not predictions else predictions}")
        print(f"fast scores: {'all within 1e-6' if not scores else scores} "
              f"(largest difference {worst:.2e})")
        return 0 if not predictions and not scores and ours.keys() == theirs.keys() else 1
    finally:
        print(f"work folder: {work}")
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def max_difference(a: object, b: object) -> float:
    """The largest absolute difference between numbers at the same place of two values."""
    if isinstance(a, dict) and isinstance(b, dict):
        return max((max_difference(a[k], b[k]) for k in a.keys() & b.keys()), default=0.0)
    if isinstance(a, list) and isinstance(b, list):
        return max((max_difference(x, y) for x, y in zip(a, b, strict=False)), default=0.0)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == a and b == b:
        return abs(a - b)
    return 0.0


if __name__ == "__main__":
    sys.exit(main())

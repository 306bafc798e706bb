"""A checkpoint series: one lm-eval run per checkpoint vs `classit-eval babylm run`.

    OMP_NUM_THREADS=1 python benchmarks/bench_babylm_series.py MODEL_DIR \
        [--revisions chck_2K,chck_4K,chck_6K] [--tasks classit_wug_adj_fast,...]

MODEL_DIR holds `chck_*` checkpoint folders (`classit-eval train pretrain
--checkpoint-words`). Both ways run in this process, on the same checkpoints and tasks:

- baseline: per checkpoint, `lm_eval.simple_evaluate` with the `classit` model, as
  `classit-eval run` (or the official scripts) does once per checkpoint: a new task
  manager, the tasks and their data loaded, the requests built and tokenised, the forward
  passes, the metrics. (Python's start-up and imports, which a separate `lm_eval` process
  per checkpoint pays too, are not counted: the baseline is flattered.)
- series: the runner of `classit-eval babylm run` (leaderboard.series.Session): tasks
  loaded and requests built once, texts tokenised once, then per checkpoint its weights
  and the forward passes; it also writes the results and sample logs, the baseline not.

Prints the seconds of each checkpoint both ways; of the series', the split into weight
loading, the model's forward calls (body and LM head), tokenising and the rest (the
engine's own work, with its schedule compiled for the first checkpoint and reused, plus
lm-eval's metrics and the files written); the cumulative cost of N checkpoints, the ratio,
and whether every score agrees.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

TASKS = "classit_blimp_supplement_fast,classit_ewok_fast,classit_wug_adj_fast"


def baseline(model: Path, revision: str, tasks: list[str], args) -> tuple[float, dict]:
    import lm_eval

    import classit_eval.lmeval.backend  # noqa: F401  (registers `classit`)
    from classit_eval.lmeval.plugin import task_manager

    start = time.perf_counter()
    out = lm_eval.simple_evaluate(
        model="classit", model_args={"pretrained": str(model / revision), "scoring": "babylm2025",
                                     "dtype": args.dtype},
        tasks=tasks, batch_size=args.batch_size, device="cpu", log_samples=True,
        task_manager=task_manager(classit_only=True), bootstrap_iters=0)
    return time.perf_counter() - start, scores(out["results"], tasks)


def scores(results: dict, tasks: list[str]) -> dict:
    return {t: v for t in tasks for k, v in results.get(t, {}).items()
            if k in ("acc,none", "spearman,none")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path)
    p.add_argument("--revisions", default="chck_2K,chck_4K,chck_6K")
    p.add_argument("--tasks", default=TASKS)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args()
    revisions, tasks = args.revisions.split(","), args.tasks.split(",")

    from bench_engine import Clock

    from classit_eval.leaderboard.series import Checkpoint, Session, Unit
    from classit_eval.scoring.trie import TrieScorer


    base_times, base_scores = [], []
    for revision in revisions:
        seconds, found = baseline(args.model, revision, tasks, args)
        base_times.append(seconds)
        base_scores.append(found)
        print(f"baseline {revision}: {seconds:.1f} s")

    clock = Clock()  # the series' LM head with its log-softmax, a part of the forward passes
    clock.wrap(TrieScorer, "_head", "head")
    settings = argparse.Namespace(
        reading_bootstrap=0, scoring="babylm2025", data_dir=None,
        model_args={"dtype": args.dtype}, device="cpu", batch_size=args.batch_size,
        backend="causal", bootstrap_iters=0)
    units = [Unit(task, task) for task in tasks]
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        session = Session(settings, Path(out), "bench")
        setup = time.perf_counter() - start
        series_times, forward_times, series_scores = [], [], []
        for revision in revisions:
            start = time.perf_counter()
            checkpoint = Checkpoint(revision, str(args.model / revision))
            records = [session.evaluate(checkpoint, unit) for unit in units]
            lm = session.lm
            now = (lm.score_seconds, lm.encode_seconds, lm.load_seconds,
                   lm.forward_seconds + clock.wall["head"])
            before = getattr(lm, "_bench_seen", (0.0, 0.0, 0.0, 0.0))
            lm._bench_seen = now
            scored, encoded, loaded, forward = (a - b for a, b in zip(now, before, strict=True))
            series_times.append(time.perf_counter() - start)
            forward_times.append(forward)
            series_scores.append({r["task"]: r["scores"].get("acc", r["scores"].get("spearman"))
                                  for r in records})
            rest = series_times[-1] - loaded - forward - encoded
            print(f"series   {revision}: {series_times[-1]:.1f} s: weights {loaded:.1f} s "
                  f"(float64 copies included), forward passes {forward:.1f} s, tokenising "
                  f"{encoded:.1f} s, the rest {rest:.1f} s (of which the engine's own work "
                  f"{scored - encoded - forward:.1f} s)")
    series_times[0] += setup
    print(f"\nseries set-up (task index): {setup:.1f} s, counted in its first checkpoint, "
          "which also loads the tasks and tokenises the texts")
    print("N  baseline(N)  series(N)  forward(N)  baseline/series")
    for n in range(1, len(revisions) + 1):
        b, s, f = sum(base_times[:n]), sum(series_times[:n]), sum(forward_times[:n])
        print(f"{n}  {b:10.1f}  {s:9.1f}  {f:10.1f}  {b / s:14.2f}")
    later = series_times[1:] or series_times
    base = sum(base_times[1:] or base_times) / len(later)
    print(f"per checkpoint after the first: baseline {base:.1f} s, "
          f"series {sum(later) / len(later):.1f} s, of which forward passes "
          f"{sum(forward_times[1:] or forward_times) / len(later):.1f} s")
    same = all(math.isclose(base_scores[i][t], series_scores[i][t], abs_tol=1e-12)
               for i in range(len(revisions)) for t in tasks)
    print(f"scores identical both ways: {same}")


if __name__ == "__main__":
    main()

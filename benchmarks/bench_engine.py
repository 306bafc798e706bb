"""The scoring engine against stock lm-eval and the backend before it, in one process.

    OMP_NUM_THREADS=1 python benchmarks/bench_engine.py [--model DIR] [--fraction 0.02]
        [--quick] [--families blimp,ewok]

Prints, on one machine in one run:

1. the time to build the requests of the full `classit_zero_shot` (reading the data apart),
   and to read them back from lm-eval's request cache (`--cache_requests true`);
2. per family of `classit_zero_shot_fast`, the token positions a forward pass computes:
   as separate sequences (what stock `--model hf` computes; BOS included), the trie bound
   (distinct prefixes), and what the engine computed (`Scorer.stats.positions`);
3. per family, the wall time of a proportional subset (`--fraction` of every subtask's
   documents; the reading task whole) under stock `--model hf` (dtype float32, batch 32),
   the backend before the engine (`--model classit` with engine=sequences, dtype=float64,
   certify=false) and the engine (`--model classit`, batch 32), in that order, family by
   family; then (unless `--quick`) the engine on the whole family;
4. the whole fast suite end to end: the engine measured (the sum of the families, each a
   full lm-eval run with its model loading), hf and the old backend extrapolated from their
   subsets: their time outside scoring as measured, plus their scoring time times the
   ratio of separate-sequence positions of the whole family to the subset's.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from collections import defaultdict

import lm_eval
import torch
from lm_eval.api.registry import get_model

import classit_eval.lmeval.backend  # noqa: F401  (registers `classit`)
from classit_eval.lmeval.plugin import task_manager
from classit_eval.lmeval.scoring import Scorer, babylm2025_reader
from classit_eval.lmeval.trie import trie_size
from classit_eval.names import ENCODING_FIELD

FAMILIES = {  # family -> lm-eval group
    "blimp": "classit_blimp_fast", "supplement": "classit_blimp_supplement_fast",
    "ewok": "classit_ewok_fast", "entity_tracking": "classit_entity_tracking_fast",
    "wug_adj": "classit_wug_adj_fast", "reading": "classit_reading_fast",
}
BACKENDS = {  # name -> (lm-eval model, model arguments beyond pretrained)
    "hf": ("hf", "dtype=float32"),
    "old": ("classit", "engine=sequences,dtype=float64,certify=false"),
    "engine": ("classit", ""),
}


def leaf_tasks(task_dict: dict) -> dict:
    """{task name: Task} of a TaskManager.load result."""
    return dict(task_dict["tasks"])


def build_time(tm) -> None:
    """Seconds to load the data of the full suite and to build its requests."""
    start = time.perf_counter()
    tasks = leaf_tasks(tm.load(["classit_zero_shot"]))
    loaded = time.perf_counter()
    for task in tasks.values():
        task.build_all_requests(rank=0, world_size=1)
    built = time.perf_counter()
    n = sum(len(t.instances) for t in tasks.values())
    with tempfile.TemporaryDirectory() as cache:
        import lm_eval.caching.cache as request_cache

        request_cache.PATH = cache
        for task in tasks.values():
            task.build_all_requests(rank=0, world_size=1, cache_requests=True)
        start_cached = time.perf_counter()
        for task in tasks.values():
            task.build_all_requests(rank=0, world_size=1, cache_requests=True)
        cached = time.perf_counter()
    print(f"full classit_zero_shot: {n} requests; reading the data {loaded - start:.1f} s, "
          f"building the requests {built - loaded:.1f} s, from lm-eval's request cache "
          f"{cached - start_cached:.1f} s", flush=True)


def positions(tm, tokenizer, fraction: float) -> dict[str, dict[str, float]]:
    """Per family: requests and separate-sequence positions of the whole family and of the
    subset that lm-eval's `--limit fraction` takes, and the trie bound."""
    scorer = Scorer.__new__(Scorer)  # only its encoder: no model needed
    scorer.tokenizer, scorer.mode = tokenizer, "full"
    scorer.prefix_token_id = (tokenizer.bos_token_id if tokenizer.bos_token_id is not None
                              else tokenizer.eos_token_id)
    out = {}
    for family, group in FAMILIES.items():
        tasks = leaf_tasks(tm.load([group]))
        sequences, total, subset, requests, sub_requests = [], 0, 0, 0, 0
        for task in tasks.values():
            task.build_all_requests(rank=0, world_size=1)
            n_docs = len(task.eval_docs)
            limit = n_docs if family == "reading" else math.ceil(n_docs * fraction)
            for inst in task.instances:
                name = (inst.doc or {}).get(ENCODING_FIELD)
                pieces = (babylm2025_reader(tokenizer, *inst.args) if name
                          else [scorer.encode(*inst.args)])
                length = sum(len(p.tokens) for p in pieces)
                sequences += [p.tokens for p in pieces]
                total += length
                requests += 1
                if inst.doc_id < limit:
                    subset += length
                    sub_requests += 1
        out[family] = {"requests": requests, "separate": total, "subset": subset,
                       "subset_requests": sub_requests,
                       "trie": trie_size(sorted(set(sequences)))}
    return out


def timed_run(lm, group: str, limit: float | None, tm) -> dict[str, float]:
    """One lm-eval run: its wall time, the time inside loglikelihood, its accuracies."""
    inner = {"scoring": 0.0}
    score = lm.loglikelihood

    def timed(requests, *args, **kwargs):
        start = time.perf_counter()
        try:
            return score(requests, *args, **kwargs)
        finally:
            inner["scoring"] += time.perf_counter() - start

    lm.loglikelihood = timed
    start = time.perf_counter()
    out = lm_eval.simple_evaluate(model=lm, tasks=[group], limit=limit, task_manager=tm)
    wall = time.perf_counter() - start
    del lm.loglikelihood
    metrics = {f"{task}:{k}": v for task, r in out["results"].items() for k, v in r.items()
               if k.split(",")[0] in ("acc", "spearman") and not k.endswith("stderr")}
    return {"wall": wall, "scoring": inner["scoring"], "metrics": metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="default: SmolLM2-135M-Instruct")
    parser.add_argument("--fraction", type=float, default=0.02,
                        help="subset: this fraction of every subtask's documents")
    parser.add_argument("--quick", action="store_true", help="subsets only")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    if args.model is None:
        from classit_eval.data.smollm2 import checkpoint

        args.model = str(checkpoint())
    families = args.families.split(",")
    print(f"model {args.model}; torch threads {torch.get_num_threads()}; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    tm = task_manager(classit_only=True)
    build_time(tm)

    lms, load_time = {}, {}
    for name, (model, extra) in BACKENDS.items():
        start = time.perf_counter()
        arguments = ",".join(a for a in (f"pretrained={args.model}", extra) if a)
        lms[name] = get_model(model).create_from_arg_string(
            arguments, {"batch_size": args.batch_size, "device": "cpu"})
        load_time[name] = time.perf_counter() - start
    counts = positions(tm, lms["engine"].tokenizer, args.fraction)

    runs: dict[str, dict[str, dict]] = defaultdict(dict)
    engine_positions = {}
    for family in families:
        limit = None if family == "reading" else args.fraction
        for name, lm in lms.items():
            before = lm.scorer.stats.positions if name == "engine" else 0
            runs[family][name] = timed_run(lm, FAMILIES[family], limit, tm)
            if name == "engine" and family == "reading":  # the subset is the whole task
                engine_positions[family] = lm.scorer.stats.positions - before
            print(f"{family:16} subset {name:7} {runs[family][name]['wall']:8.1f} s "
                  f"(scoring {runs[family][name]['scoring']:.1f} s)", flush=True)
        if not args.quick and family != "reading":
            before = lms["engine"].scorer.stats.positions
            runs[family]["engine_full"] = timed_run(lms["engine"], FAMILIES[family], None, tm)
            print(f"{family:16} whole  engine  {runs[family]['engine_full']['wall']:8.1f} s",
                  flush=True)
            engine_positions[family] = lms["engine"].scorer.stats.positions - before
        elif family == "reading":
            runs[family]["engine_full"] = runs[family]["engine"]

    print("\ntoken positions (the model's tokenizer, BOS included; engine: batched pass)")
    print(f"{'family':16} {'requests':>9} {'separate':>10} {'trie bound':>11} {'engine':>9} "
          f"{'engine/trie':>11} {'separate/engine':>15}")
    for family in families:
        c = counts[family]
        got = engine_positions.get(family)
        extra = (f"{got:9d} {got / c['trie']:11.2f} {c['separate'] / got:15.1f}" if got
                 else f"{'-':>9} {'-':>11} {'-':>15}")
        print(f"{family:16} {c['requests']:9d} {c['separate']:10d} {c['trie']:11d} {extra}")

    print(f"\nsubset wall time, seconds ({args.fraction:.0%} of each subtask's documents; "
          "reading whole)")
    print(f"{'family':16} {'hf':>8} {'old':>8} {'engine':>8} {'hf/engine':>10} "
          f"{'old/engine':>10}  accuracies old == engine")
    for family in families:
        r = runs[family]
        same = r["old"]["metrics"] == r["engine"]["metrics"] if family not in (
            "wug_adj", "reading") else "(continuous)"
        print(f"{family:16} {r['hf']['wall']:8.1f} {r['old']['wall']:8.1f} "
              f"{r['engine']['wall']:8.1f} {r['hf']['wall'] / r['engine']['wall']:10.1f} "
              f"{r['old']['wall'] / r['engine']['wall']:10.1f}  {same}")
    if args.quick:
        return

    print("\nwhole fast suite, seconds: engine measured; hf and old extrapolated "
          "(outside scoring as measured + scoring x whole/subset positions)")
    print(f"{'family':16} {'hf (est.)':>10} {'old (est.)':>10} {'engine':>8} "
          f"{'hf/engine':>10} {'old/engine':>10}")
    totals = defaultdict(float)
    for family in families:
        r, c = runs[family], counts[family]
        scale = c["separate"] / c["subset"]
        row = {name: r[name]["wall"] - r[name]["scoring"] + r[name]["scoring"] * scale
               for name in ("hf", "old")}
        row["engine"] = r["engine_full"]["wall"]
        for name, value in row.items():
            totals[name] += value
        print(f"{family:16} {row['hf']:10.0f} {row['old']:10.0f} {row['engine']:8.0f} "
              f"{row['hf'] / row['engine']:10.1f} {row['old'] / row['engine']:10.1f}")
    for name in totals:
        totals[name] += load_time[name]
    print(f"{'total (+ load)':16} {totals['hf']:10.0f} {totals['old']:10.0f} "
          f"{totals['engine']:8.0f} {totals['hf'] / totals['engine']:10.1f} "
          f"{totals['old'] / totals['engine']:10.1f}")
    engine = lms["engine"].scorer
    print(f"\nengine: {engine.stats.positions} positions computed in batches, "
          f"{engine.exact_stats.positions} in float64 re-scoring; "
          f"{engine.certificate.documents} documents certified, "
          f"{engine.certificate.rescored} re-scored in float64, largest float32 error "
          f"{100 * engine.certificate.worst:.1f}% of its bound")


if __name__ == "__main__":
    main()

"""The scoring engine against stock lm-eval and the backend before it, in one process.

    OMP_NUM_THREADS=1 python benchmarks/bench_engine.py [--model DIR] [--fraction 0.02]
        [--full] [--families blimp,ewok]

Prints, on one machine in one run:

1. the time to build the requests of the full `classit_zero_shot` (reading the data apart),
   and to read them back from lm-eval's request cache (`--cache_requests true`);
2. per family of `classit_zero_shot_fast`, the token positions a forward pass computes:
   as separate sequences (what stock `--model hf` computes; BOS included), the trie bound
   (distinct prefixes), and what the engine computes at batch size 32 (its schedule,
   counted without the model: classit_eval.scoring.trie.plan);
3. per family, the wall time of a proportional subset (`--fraction` of every subtask's
   documents; the reading task whole) under stock `--model hf` (dtype float32, batch 32),
   the backend before the engine (`--model classit` with engine=sequences, dtype=float64,
   certify=false) and the engine (`--model classit`, batch 32), in turn, family by family;
4. with `--full`, the whole fast suite end to end: the engine measured (the README's main
   job: `classit-eval run --model classit --tasks classit_zero_shot_fast`, a separate
   process), hf and the old backend extrapolated from their subsets: their time outside
   scoring as measured, plus their scoring time times the ratio of separate-sequence
   positions of the whole family to the subset's, plus their model loading.

The engine's own cost (`--tiny`): the whole `classit_zero_shot_fast` in this process with
`--model classit`, batch 64, on a LLaMA that does almost no arithmetic (SmolLM2's
tokenizer, hidden 16, one layer, the 49,152-word head tied to the embeddings: 0.79M
parameters, random, built on the fly in a temporary folder). What is left is the engine
and the framework around it. Prints, wall and process CPU seconds each: building and
loading the model, tokenising, float32 scoring, float64 re-scoring (documents and
positions), the whole process (imports included), the time inside the model's body (its
forward calls) and in the LM head with its log-softmax over the vocabulary, and the
engine's own microseconds per position (scoring time outside those two, over the
positions computed).

    OMP_NUM_THREADS=1 nice python benchmarks/bench_engine.py --tiny [--tokenise-full]
        [--head-floor]

What it showed (issue #25; docs/zero_shot.md has the history): on a model that costs
nothing the scoring is the LM head, a log-softmax over the 49,152-word vocabulary at every
predicted token (213,000 in float32, 48,000 in float64 re-scoring: 13 billion logits).
What the engine does about it: the schedule is compiled once into arrays (reused for
every checkpoint of a series); the head runs in cache-sized blocks into buffers kept
across blocks, with the rows' maxima (torch's maximum with its index is a scalar loop)
and a log-sum-exp whose exponentials are powers of two (torch's exp2 is twice as fast as
its exp here); a boundary mass only where a target wants one; certification counts only
the terms two candidates do not share and re-scores only those in float64. The whole
fast suite, two threads, this machine with nothing else running (wall seconds; its speed
moves by up to 2x from run to run), main at the start of this work -> now: tokenising 2.5
-> 0.5-0.6, float32 scoring 47.0 -> 10.1-11.2, float64 re-scoring 14.1 -> 4.7-4.9 (5,200 ->
3,382 documents), whole process 75.9 -> 24.7-25.8; the engine's own work 2.3 s (7 us a
position). The issue's float64 (<= 6 s) and whole-process (<= 30 s) targets are met, the
float32 one (<= 8 s) is not: the head's bare kernels (matrix product, then log-sum-exp)
over the 212,969 float32 rows take 7.0-8.6 s at best, the product alone at the machine's
peak. Tokenising the full suite
(`--tokenise-full --tasks classit_blimp_fast`): 18.1-19.8 -> 2.6-2.7 s CPU (target <= 5
s): each distinct request once, running text cut into words whose tokens are looked up
(classit_eval.scoring.tokenising); the same encodings, all 377,019.

`--head-floor` then times the head's bare kernels (matrix product, log-sum-exp) over as
many random rows as the float32 run read, in the engine's blocks: the head's cost before
any bookkeeping.

`--tokenise-full` then times tokenising every request of the full `classit_zero_shot` with
the same model (the `tokenising` stage alone). Its data includes COMPS, which is not
distributed here: point CLASSIT_DATA_DIR at a root that has it, e.g. the real data with
format fixtures where files are missing (`python scripts/make_format_fixtures.py ROOT
--overlay ../shared/data/babylm-2025`).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import lm_eval
import torch
from lm_eval.api.registry import get_model

import classit_eval.lmeval.backend  # noqa: F401  (registers `classit`)
from classit_eval.leaderboard.lm import time_forward
from classit_eval.lmeval.plugin import task_manager
from classit_eval.names import ENCODING_FIELD
from classit_eval.scoring import Scorer, babylm2025_reader, trie
from classit_eval.scoring.trie import TrieScorer, plan, trie_size

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


def positions(tm, tokenizer, fraction: float, cache_tokens: int,
              batch_size: int) -> dict[str, dict[str, float]]:
    """Per family: requests and separate-sequence positions of the whole family and of the
    subset that lm-eval's `--limit fraction` takes, the trie bound and the engine's plan."""
    scorer = Scorer.__new__(Scorer)  # only its encoder: no model needed
    scorer.tokenizer, scorer.mode = tokenizer, "full"
    scorer.prefix_token_id = (tokenizer.bos_token_id if tokenizer.bos_token_id is not None
                              else tokenizer.eos_token_id)
    out = {}
    for family, group in FAMILIES.items():
        tasks = leaf_tasks(tm.load([group]))
        encoded, total, subset, requests, sub_requests = [], 0, 0, 0, 0
        for task in tasks.values():
            task.build_all_requests(rank=0, world_size=1)
            n_docs = len(task.eval_docs)
            limit = n_docs if family == "reading" else math.ceil(n_docs * fraction)
            for inst in task.instances:
                name = (inst.doc or {}).get(ENCODING_FIELD)
                pieces = (babylm2025_reader(tokenizer, *inst.args) if name
                          else [scorer.encode(*inst.args)])
                length = sum(len(p.tokens) for p in pieces)
                encoded += pieces
                total += length
                requests += 1
                if inst.doc_id < limit:
                    subset += length
                    sub_requests += 1
        engine = plan(encoded, batch_size, cache_tokens)
        out[family] = {"requests": requests, "separate": total, "subset": subset,
                       "subset_requests": sub_requests, "engine": engine.positions,
                       "trie": trie_size(sorted({p.tokens for p in encoded}))}
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


def full_run(model: str, batch_size: int, out: Path) -> float:
    """Seconds of the README's main job: the whole fast suite through `classit-eval run`."""
    command = [sys.executable, "-m", "classit_eval", "run", "--model", "classit",
               "--model_args", f"pretrained={model}", "--device", "cpu", "--batch_size",
               str(batch_size), "--tasks", "classit_zero_shot_fast", "--output_path", str(out)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    (out / "log.txt").write_text(done.stdout + done.stderr)
    if done.returncode:
        raise SystemExit(f"the full run failed; its output is in {out / 'log.txt'}")
    table = [line for line in done.stdout.splitlines() if line.startswith("|")]
    print("\n".join(table))
    return seconds


def process_seconds() -> tuple[float, float]:
    """(wall, CPU) seconds since this process started, its start-up and imports included."""
    ticks = os.sysconf("SC_CLK_TCK")
    started = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - started, time.process_time()


def tiny_model(out: Path) -> Path:
    """SmolLM2's tokenizer and a random LLaMA with almost no arithmetic, saved to `out`."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from classit_eval.data.smollm2 import checkpoint

    tokenizer = AutoTokenizer.from_pretrained(checkpoint())
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=8192,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


class Clock:
    """Wall and process CPU seconds spent in the calls of wrapped functions."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)

    def wrap(self, owner: object, name: str, label: str | Callable[..., str]) -> None:
        """Time every call of `owner.name` under `label`, or under `label(*args)` (an
        instance attribute shadows it)."""
        function = getattr(owner, name)

        def timed(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                at = label if isinstance(label, str) else label(*args)
                self.wall[at] += time.perf_counter() - wall
                self.cpu[at] += time.process_time() - cpu

        setattr(owner, name, timed)

    def line(self, label: str, what: str = "") -> str:
        return (f"{label:28} {self.wall[label]:8.1f} s wall {self.cpu[label]:8.1f} s CPU"
                + (f"  {what}" if what else ""))


def head_floor(head: torch.nn.Linear, rows: int, block: int) -> float:
    """Wall seconds of the head's bare kernels over `rows` random states, `block` at a
    time: the matrix product into a kept buffer, then the log-sum-exp (its maximum
    included). What the float32 head costs before any bookkeeping."""
    weight = head.weight.detach().float()
    states = torch.randn(rows, weight.shape[1])
    out, scratch = (torch.empty(block, weight.shape[0]) for _ in range(2))
    start = time.perf_counter()
    for lo in range(0, rows, block):
        n = min(block, rows - lo)
        torch.mm(states[lo: lo + n], weight.t(), out=out[:n])
        trie.logsumexp_top(out[:n], scratch[:n])
    return time.perf_counter() - start


def tiny(batch_size: int, tasks: str, tokenise_full: bool, floor: bool = False) -> None:
    """The engine's own cost on a model that costs nothing (see the module doc)."""
    clock = Clock()
    with tempfile.TemporaryDirectory() as folder:
        wall, cpu = time.perf_counter(), time.process_time()
        path = tiny_model(Path(folder) / "tiny")
        lm = get_model("classit").create_from_arg_string(
            f"pretrained={path}", {"batch_size": batch_size, "device": "cpu"})
        built = "model (build, save, load)"
        clock.wall[built], clock.cpu[built] = (time.perf_counter() - wall,
                                               time.process_time() - cpu)
        scorer = lm.scorer
        clock.wrap(lm, "encode", "tokenising")
        clock.wrap(scorer, "score_requests", "float32 scoring")
        clock.wrap(scorer, "exact_scores", "float64 re-scoring")
        forward = argparse.Namespace(seconds=0.0)
        for model in (lm.model, scorer.exact_model()):  # the float64 copy made now, timed
            time_forward(model.base_model, forward, "seconds")  # the body, not the head
        clock.wrap(TrieScorer, "_head", lambda _, __, flat, *a: f"head {flat.dtype}")
        clock.wrap(trie, "compile_schedule", "schedule")
        out = lm_eval.simple_evaluate(model=lm, tasks=tasks.split(","),
                                      task_manager=task_manager(classit_only=True))
    whole_wall, whole_cpu = process_seconds()
    params = sum(p.numel() for p in lm.model.parameters())
    stats, exact, cert = scorer.stats, scorer.exact_stats, scorer.certificate
    print(f"\ntiny LLaMA ({params / 1e6:.2f}M parameters), {tasks}, batch {batch_size}; "
          f"torch threads {torch.get_num_threads()}; load average {os.getloadavg()[0]:.1f}")
    print(clock.line("model (build, save, load)"))
    print(clock.line("tokenising"))
    print(clock.line("float32 scoring",
                     f"{stats.positions} positions ({stats.heads} to the head), "
                     f"{stats.calls} calls"))
    print(clock.line("float64 re-scoring",
                     f"{cert.rescored} documents, {exact.positions} positions "
                     f"({exact.heads} to the head), {exact.calls} calls"))
    print(f"{'whole process':28} {whole_wall:8.1f} s wall {whole_cpu:8.1f} s CPU")
    scoring = clock.wall["float32 scoring"] + clock.wall["float64 re-scoring"]
    positions = stats.positions + exact.positions
    heads = {dtype: f"head {dtype}" for dtype in (torch.float32, torch.float64)}
    head = sum(clock.wall[label] for label in heads.values())
    print(clock.line(heads[torch.float32], f"the LM head and its log-softmax over the whole "
                                           f"vocabulary, {stats.heads} rows"))
    print(clock.line(heads[torch.float64], f"{exact.heads} rows"))
    print(clock.line("schedule", "compiling the engine's schedules, both passes"))
    print(f"{'model body (forward calls)':28} {forward.seconds:8.1f} s wall")
    engine = scoring - forward.seconds - head
    print(f"the engine's own work: {engine:.1f} s wall, {1e6 * engine / positions:.0f} us per "
          f"position ({1e6 * scoring / positions:.0f} us with the model and its head)")
    accuracies = sum(1 for r in out["results"].values() for k in r if k == "acc,none")
    print(f"{accuracies} accuracies")
    if floor:
        engine = scorer._tries[lm.model]  # the float32 model's engine
        seconds = head_floor(engine.head, stats.heads, engine.head_rows)
        print(f"{'head floor (bare kernels)':28} {seconds:8.1f} s wall  {stats.heads} rows")
    if tokenise_full:
        tokenising(lm)


def tokenising(lm) -> None:
    """Seconds to tokenise every request of the full `classit_zero_shot` (one call, as
    lm-eval's one loglikelihood call; its data must include COMPS: see the module doc)."""
    tasks = leaf_tasks(task_manager(classit_only=True).load(["classit_zero_shot"]))
    requests = []
    for task in tasks.values():
        task.build_all_requests(rank=0, world_size=1)
        requests += task.instances
    wall, cpu = time.perf_counter(), time.process_time()
    pieces = lm.encode(requests)
    print(f"tokenising the full classit_zero_shot ({len(requests)} requests, "
          f"{sum(len(p) for p in pieces)} pieces): {time.perf_counter() - wall:.1f} s wall "
          f"{time.process_time() - cpu:.1f} s CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="default: SmolLM2-135M-Instruct")
    parser.add_argument("--fraction", type=float, default=0.02,
                        help="subset: this fraction of every subtask's documents")
    parser.add_argument("--full", action="store_true",
                        help="also run the whole fast suite with the engine (end to end)")
    parser.add_argument("--output", default="results/bench_engine",
                        help="where the full run writes its results")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--batch-size", type=int, default=None, help="default 32 (64 --tiny)")
    parser.add_argument("--tiny", action="store_true",
                        help="only the engine's own cost, on a tiny model (see the module doc)")
    parser.add_argument("--tasks", default="classit_zero_shot_fast", help="with --tiny")
    parser.add_argument("--tokenise-full", action="store_true",
                        help="with --tiny: then time tokenising the full classit_zero_shot")
    parser.add_argument("--head-floor", action="store_true",
                        help="with --tiny: then time the head's bare kernels over as many rows")
    args = parser.parse_args()
    if args.tiny:
        return tiny(args.batch_size or 64, args.tasks, args.tokenise_full, args.head_floor)
    args.batch_size = args.batch_size or 32
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
    engine = lms["engine"].scorer
    counts = positions(tm, lms["engine"].tokenizer, args.fraction, engine.cache_tokens,
                       args.batch_size)
    print("\ntoken positions (the model's tokenizer, BOS included; engine: its plan at "
          f"batch size {args.batch_size})")
    print(f"{'family':16} {'requests':>9} {'separate':>10} {'trie bound':>11} {'engine':>9} "
          f"{'engine/trie':>11} {'separate/engine':>15}")
    for family in [*FAMILIES, "total"]:
        c = (counts[family] if family in counts else
             {k: sum(counts[f][k] for f in FAMILIES) for k in ("requests", "separate", "trie",
                                                              "engine")})
        print(f"{family:16} {c['requests']:9d} {c['separate']:10d} {c['trie']:11d} "
              f"{c['engine']:9d} {c['engine'] / c['trie']:11.2f} "
              f"{c['separate'] / c['engine']:15.1f}", flush=True)

    runs: dict[str, dict[str, dict]] = defaultdict(dict)
    for family in families:
        limit = None if family == "reading" else args.fraction
        for name, lm in lms.items():
            runs[family][name] = timed_run(lm, FAMILIES[family], limit, tm)
            print(f"{family:16} subset {name:7} {runs[family][name]['wall']:8.1f} s "
                  f"(scoring {runs[family][name]['scoring']:.1f} s)", flush=True)

    print(f"\nsubset wall time, seconds ({args.fraction:.0%} of each subtask's documents; "
          "reading whole)")
    print(f"{'family':16} {'hf':>8} {'old':>8} {'engine':>8} {'hf/engine':>10} "
          f"{'old/engine':>10}  accuracies old == engine")
    for family in families:
        r = runs[family]
        same = (r["old"]["metrics"] == r["engine"]["metrics"]
                if family not in ("wug_adj", "reading") else "(continuous)")
        print(f"{family:16} {r['hf']['wall']:8.1f} {r['old']['wall']:8.1f} "
              f"{r['engine']['wall']:8.1f} {r['hf']['wall'] / r['engine']['wall']:10.1f} "
              f"{r['old']['wall'] / r['engine']['wall']:10.1f}  {same}")
    cert = engine.certificate
    print(f"engine: {cert.documents} documents certified, {cert.rescored} scored again in "
          f"float64, largest float32 error {100 * cert.worst:.1f}% of its bound")

    estimates = {}
    for name in ("hf", "old"):
        estimates[name] = load_time[name] + sum(
            runs[f][name]["wall"] - runs[f][name]["scoring"] + runs[f][name]["scoring"]
            * counts[f]["separate"] / counts[f]["subset"] for f in families)
    print(f"\nwhole fast suite extrapolated from the subsets (+ model loading): hf "
          f"{estimates['hf']:.0f} s, old {estimates['old']:.0f} s")
    if not args.full:
        return
    del lms  # free their memory for the full run
    seconds = full_run(args.model, args.batch_size, Path(args.output))
    print(f"whole fast suite, engine measured end to end (classit-eval run): {seconds:.0f} s; "
          f"hf/engine {estimates['hf'] / seconds:.1f}, old/engine "
          f"{estimates['old'] / seconds:.1f}")


if __name__ == "__main__":
    main()

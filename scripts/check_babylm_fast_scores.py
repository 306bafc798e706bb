"""The `fast_eval_results` of `classit-eval babylm` vs the official pipeline's, on one model.

    python scripts/check_babylm_fast_scores.py [--model DIR] [--tasks blimp_supplement,wug_adj]

Ours: the runner of `classit-eval babylm run` (scoring=babylm2025) evaluates the fast
tasks on the model, and the export computes the fast scores from the sample logs, as the
submission file holds them. Official: tests/oracles/official_oracle.py (the official causal
scoring, restated in the official code's shape) scores the same data files, the official
predictions are made from its choices (`completions[torch.max]`, WUG's `prob` the softmax
of candidate 0), and the fast scores computed from them as `collate_preds.py` does,
restated here: per subtask key (BLiMP `UID`, supplement file, EWoK `Domain`,
`regular_<numops>_ops`) the share of `pred.strip() == gold.strip()`; WUG Spearman's rho of
`prob` with the human ratio. Prints both per subtask and how many differ.
Default model: SmolLM2-135M-Instruct (classit-eval smollm2).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from classit_eval.data.files import find_files, read_jsonl  # noqa: E402
from classit_eval.data.series import Checkpoint  # noqa: E402
from classit_eval.families import FAMILIES, fast_task  # noqa: E402
from classit_eval.leaderboard.export import Exporter  # noqa: E402
from classit_eval.leaderboard.series import Session, Unit  # noqa: E402
from tests.oracles import official_oracle as oracle  # noqa: E402

DECODERS = {"blimp": oracle.blimp_item, "blimp_supplement": oracle.blimp_item,
            "ewok": oracle.ewok_item, "entity_tracking": oracle.entity_item,
            "wug_adj": oracle.wug_item}


def official_key(family: str, stem: str, raw: dict) -> str:
    """The official reader's UID of a data line (read_files.py, restated)."""
    if family in ("blimp", "blimp_supplement"):
        return raw["UID"] if "field" in raw else stem
    if family == "ewok":
        return raw["Domain"]
    if family == "entity_tracking":
        return f"{stem}_{raw['numops']}_ops"
    return family


def official_fast_scores(model, tokenizer, family: str, batch_size: int) -> dict[str, float]:
    """Official predictions from the oracle, then collate_preds' fast score per key."""
    correct, total = defaultdict(int), defaultdict(int)
    probs, ratios = [], []
    for source in find_files(FAMILIES[family].fast):
        raws = read_jsonl(source)
        items = [DECODERS[family](r) for r in raws]
        scores = oracle.official_scores(model, tokenizer, items, batch_size)
        for raw, item, row, choice in zip(raws, items, scores, oracle.official_choice(scores),
                                          strict=True):
            pred = item["completions"][choice]
            if family == "wug_adj":
                probs.append(float(torch.softmax(row, dim=0)[0]))
                ratios.append(raw["ratio"])
                continue
            gold = {"ewok": raw.get("Target1"), "entity_tracking": (raw.get("options") or [""])[0]
                    }.get(family, raw.get("sentence_good"))
            key = official_key(family, source.name, raw)
            total[key] += 1
            correct[key] += pred.strip() == gold.strip()
    if family == "wug_adj":
        return {"wug_adj": float(spearmanr(probs, ratios)[0])}
    return {key: correct[key] / total[key] for key in total}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None)
    p.add_argument("--tasks", default="blimp_supplement,wug_adj,ewok")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args()
    if args.model is None:
        from classit_eval.data.smollm2 import checkpoint

        args.model = str(checkpoint())
    settings = argparse.Namespace(
        reading_bootstrap=0, scoring="babylm2025", data_dir=None,
        model_args={"dtype": args.dtype}, device="cpu", batch_size=args.batch_size,
        backend="causal", bootstrap_iters=0)
    differ = total = 0
    with tempfile.TemporaryDirectory() as out:
        session = Session(settings, Path(out), "parity")
        exporter = Exporter(Path(out), args.model, None)
        for family in args.tasks.split(","):
            session.evaluate(Checkpoint("main", args.model), Unit(fast_task(FAMILIES[family]),
                                                                  family))
            ours = exporter.fast_scores(FAMILIES[family], "main")
            lm = session.lm
            official = official_fast_scores(lm.model, lm.tokenizer, family, args.batch_size)
            assert set(ours) == set(official), (family, set(ours) ^ set(official))
            for key in sorted(ours):
                same = abs(ours[key] - official[key]) < 1e-9
                differ += not same
                total += 1
                print(f"{family:17} {key:52} official {official[key]:.4f}  "
                      f"classit {ours[key]:.4f}{'' if same else '  DIFFERS'}")
    print(f"model: {args.model}; fast subtask scores that differ: {differ} of {total}")


if __name__ == "__main__":
    main()

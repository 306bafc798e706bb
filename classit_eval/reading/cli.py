"""`classit-eval reading-score`: score surprisals computed elsewhere.

The input is the official pipeline's `prediction.jsonl`: one JSON line per row of
reading_data.csv, in csv order, with the surprisal `Logprob` and `Prev_Logprob` (nats).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from classit_eval import options
from classit_eval.errors import MissingDataError, OptionError
from classit_eval.names import READING_SCORES
from classit_eval.reading import dataset, nulls, regression
from classit_eval.scoring import CONVENTIONS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("BabyLM 2025 reading scores (normalised delta-R2 x100) of surprisals "
                     "in the official prediction.jsonl format.")
    p.add_argument("predictions", help="prediction.jsonl (Logprob, Prev_Logprob per csv row)")
    p.add_argument("--data-dir", help="evaluation data root (default: $CLASSIT_DATA_DIR, cache)")
    p.add_argument("--fast", action="store_true", help="use fast_eval/reading/reading_data.csv")
    p.add_argument("--json", metavar="FILE", type=options.output_file,
                   help="write all fits as JSON to FILE (- for stdout, instead of the report)")
    p.add_argument("--bootstrap", type=options.non_negative_int, default=0, metavar="N",
                   help="N sentence resamples for 95%% confidence intervals (e.g. 1000; "
                        "0, the default: none)")
    p.add_argument("--seed", type=options.non_negative_int, default=0,
                   help="bootstrap seed (default 0)")
    p.add_argument("--permutations", type=options.non_negative_int, default=1000, metavar="N",
                   help="permutations of the null baseline (surprisals shuffled within "
                        "sentences; seed --seed; default 1000, 0: none)")
    p.add_argument("--tokenizer", metavar="NAME_OR_DIR",
                   help="the model's tokenizer, for the token-count null (tokens x ln V)")
    p.add_argument("--convention", choices=CONVENTIONS, default="babylm2025",
                   help="how the predictions scored a word, for the token count (default "
                        "babylm2025, the official pipeline's)")
    p.add_argument("--compare", metavar="OTHER.jsonl",
                   help="a second model's predictions: bootstrap the difference "
                        "(needs --bootstrap)")


def run(args: argparse.Namespace) -> int:
    if args.compare and args.bootstrap == 0:
        raise OptionError("--compare needs --bootstrap N (N > 0).")
    csv = dataset.load_csv(dataset.find_csv(args.data_dir, fast=args.fast))
    tokenizer = _tokenizer(args.tokenizer) if args.tokenizer else None
    paths = [args.predictions, *([args.compare] if args.compare else [])]
    frames = []
    for path in paths:
        if not Path(path).is_file():
            raise MissingDataError(f"{path}: no such file (the predictions to score).")
        preds = dataset.load_predictions(path, len(csv), csv)
        frames.append(dataset.with_surprisals(csv, preds["pred"], preds["prev_pred"]))
    result = regression.fit_all(frames[0])
    out = result.as_dict()
    out["correlations"] = regression.correlations(frames[0])
    tokens = nulls.token_surprisals(tokenizer, csv, args.convention) if tokenizer else None
    out["nulls"] = {"permutations": args.permutations, "seed": args.seed,
                    "tokenizer": args.tokenizer, "convention": args.convention,
                    **nulls.null_baselines(frames[0], result, args.permutations, args.seed, tokens)}
    if args.bootstrap > 0:
        out["bootstrap"] = bootstrap_summary(frames, args.bootstrap, args.seed)
    if args.json:
        write_json(out, args.json)
    if args.json != "-":
        print_text(out)
    return 0


def _tokenizer(name: str):
    from classit_eval.data.checkpoints import load_tokenizer

    return load_tokenizer(name)


def write_json(out: dict, target: str) -> None:
    """`out` as JSON to the file `target`, or to stdout for `-`."""
    text = json.dumps(out, indent=2)
    if target == "-":
        print(text)
    else:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(text + "\n", encoding="utf-8")


def bootstrap_summary(frames, n_resamples: int, seed: int) -> dict:
    """95% intervals of both scores (and of the difference, for two frames)."""
    samples = regression.bootstrap(frames, n_resamples, seed)
    names = READING_SCORES
    out: dict = {"n_resamples": n_resamples, "seed": seed, "level": 0.95}
    out["ci"] = {n: regression.interval(samples[:, 0, k]) for k, n in enumerate(names)}
    if len(frames) == 2:
        diff = samples[:, 0] - samples[:, 1]
        out["difference_ci"] = {n: regression.interval(diff[:, k]) for k, n in enumerate(names)}
        out["p_first_not_better"] = {n: float((diff[:, k] <= 0).mean())
                                     for k, n in enumerate(names)}
    return out


def print_text(out: dict) -> None:
    metrics = out["metrics"]
    print(f"EYE TRACKING SCORE: {metrics['eye_tracking']:.2f}")
    print(f"SELF-PACED READING SCORE: {metrics['self_paced_reading']:.2f}")
    boot = out.get("bootstrap")
    if boot:
        for name, (low, high) in boot["ci"].items():
            print(f"  {name} 95% CI ({boot['n_resamples']} sentence resamples, seed "
                  f"{boot['seed']}): [{low:.3f}, {high:.3f}]")
        for name, (low, high) in boot.get("difference_ci", {}).items():
            print(f"  {name} difference (first - --compare) 95% CI: [{low:.3f}, {high:.3f}]")
    print_nulls(out["nulls"])
    print("\nper variable: normalised delta-R2 x100 (self-paced: with spillover)")
    for name, value in metrics.items():
        if name not in READING_SCORES:
            print(f"  {name:<24} {value:9.4f}")


def print_nulls(found: dict) -> None:
    """The null baselines beside each score (NaN ones left out)."""
    for name in READING_SCORES:
        parts = []
        if found[f"{name}_token_null"] == found[f"{name}_token_null"]:
            parts.append(f"token count ({found['tokenizer']}, {found['convention']}) "
                         f"{found[f'{name}_token_null']:.2f}")
        if found["permutations"]:
            parts.append(f"permuted within sentences ({found['permutations']}, seed "
                         f"{found['seed']}) mean {found[f'{name}_null_mean']:.2f}, 95th "
                         f"percentile {found[f'{name}_null_p95']:.2f}, p = "
                         f"{found[f'{name}_null_p']:.3f}")
        if parts:
            print(f"  {name} null baselines: " + "; ".join(parts))

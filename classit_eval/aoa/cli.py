"""`classit-eval aoa`: word age of acquisition over a model's checkpoint series.

    classit-eval aoa --model OUT --output-dir runs/aoa            # every OUT/chck_* folder
    classit-eval aoa --model org/name --track strict-small --output-dir runs/aoa   # hub

Scores the 8,005 (word, context) pairs of `full_eval/aoa/cdi_childes.json` at every
checkpoint, fits each word's learning curve and AoA, and, with the CDI table
(`full_eval/aoa/cdi_human.csv`, or --human), correlates it with children's AoA. Writes
into --output-dir: `surprisal.json` (the official file, for `babylm export --aoa`),
`aoa_words.json` (each word's fit, AoA or the reason it has none),
`results_classit_aoa.json` (lm-eval's schema, for classit-zscore) and `aoa.png`.
Everything is checked before anything is written: bad input leaves no file.
"""

from __future__ import annotations

import argparse
import datetime
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from classit_eval import options
from classit_eval.aoa import fit, human, surprisal
from classit_eval.aoa.words import TASK, read_words
from classit_eval.data.series import (
    TRACKS,
    Checkpoint,
    check_revisions,
    find_checkpoints,
    revision_words,
)
from classit_eval.errors import DataError, MissingDataError, OptionError
from classit_eval.lmeval.results import task_document
from classit_eval.options import add_options, check_options, option, settings_from

SURPRISAL_FILE, WORDS_FILE, RESULTS_FILE, PLOT_FILE = (
    "surprisal.json", "aoa_words.json", "results_classit_aoa.json", "aoa.png")
VERSION = 1.0


def checkpoints(model: str, revisions: list[str] | None, track: str | None
                ) -> list[Checkpoint]:
    """The series, by words seen: the named revisions (else the track's, else every
    `chck_*` folder of a local model). Each name must tell its words (chck_10M, chck_2K)."""
    folder = Path(model).expanduser()
    names = revisions or (TRACKS[track] if track else None)
    if names is None:
        if not folder.is_dir():
            raise OptionError(f"--model {model}: not a local folder; name its checkpoints "
                              "with --revisions or --track.")
        names = [p.name for p in folder.glob("chck_*") if (p / "config.json").is_file()]
    seen = {n: words for n in names if (words := revision_words(n)) is not None}
    unnamed = [n for n in names if n not in seen]
    if unnamed:
        raise OptionError(f"{', '.join(unnamed)}: a checkpoint name must say the words it has "
                          "seen (chck_<n>[K|M|B], as BabyLM names them).")
    check_revisions(names)  # once each: a repeat would count twice towards the minimum
    found, missing = find_checkpoints(model, names)
    if missing:
        raise MissingDataError(f"{model}: no checkpoint {', '.join(missing)} (a folder with "
                               "config.json, or a hub branch).")
    series = sorted(found, key=lambda c: c.words or 0)
    if len(series) < fit.MIN_CHECKPOINTS:
        raise DataError(
            f"{model}: {len(series)} checkpoint(s) "
            f"({', '.join(c.revision for c in series) or 'none'})"
            f"; a learning curve needs at least {fit.MIN_CHECKPOINTS} (a sigmoid has four "
            "parameters). Save more (classit-eval train pretrain --checkpoint-words).")
    return series


def tokenizer_of(series: list[Checkpoint]):
    """The series' tokenizer; a checkpoint that tokenises differently is an error (its
    surprisals would not be comparable, and the texts are tokenised once)."""
    from classit_eval.data.checkpoints import fingerprint, load_tokenizer

    first = load_tokenizer(series[0].pretrained, revision=series[0].hub_revision)
    key = fingerprint(first)
    for c in series[1:]:
        if fingerprint(load_tokenizer(c.pretrained, revision=c.hub_revision)) != key:
            raise DataError(f"{c.revision}: its tokenizer differs from {series[0].revision}'s; "
                            "an AoA series needs one tokenizer.")
    return first


def loader(device: str, dtype: str):
    import torch
    from transformers import AutoModelForCausalLM

    from classit_eval.data.checkpoints import load_model

    def load(checkpoint: Checkpoint):
        model = load_model(AutoModelForCausalLM, checkpoint.pretrained,
                           revision=checkpoint.hub_revision, dtype=getattr(torch, dtype))
        return model.to(device).eval()
    return load


def results_document(model: str, mode: str, r: float | None, fits: list[fit.WordAoA],
                     n_items: int, series: list[Checkpoint], settings: dict,
                     start: float, null: dict[str, float] | None = None) -> dict:
    """The run as an lm-eval results file: task `classit_aoa`, metric `pearson` (the
    Pearson r with children's AoA, when the CDI table is there), its permutation null
    (`pearson_null_p95`, `pearson_null_p`, with --null-permutations) and counts."""
    metrics: dict[str, object] = {"alias": TASK}
    if r is not None:
        metrics["pearson,none"] = r
        metrics["pearson_stderr,none"] = "N/A"
    metrics |= {f"{k},none": v for k, v in (null or {}).items()}
    metrics["words_with_aoa,none"] = sum(f.aoa is not None for f in fits)
    metrics["words,none"] = len(fits)
    config = {"task": TASK, "output_type": "aoa", "dataset_path": "full_eval/aoa",
              "metric_list": [{"metric": "pearson", "higher_is_better": True}],
              "metadata": {"version": VERSION, "mode": mode, **settings,
                           "checkpoints": [c.revision for c in series]}}
    run_config = {"model": "classit-aoa", "model_args": f"pretrained={model}",
                  "batch_size": settings["batch_size"], "device": settings["device"]}
    return task_document(TASK, metrics, config, VERSION, {"pearson": True}, n_items,
                         run_config, start)


@dataclass(frozen=True)
class AoaSettings:
    """What one AoA run is asked: the options of `classit-eval aoa`, declared once
    (classit_eval.options), and checked however they come (`babylm run` passes them
    without a command line)."""

    model: str = option("a folder of chck_* checkpoints (classit-eval train pretrain), or a "
                        "hub name with chck_* branches")
    output_dir: Path = option("the folder of the four files", type=options.output_dir)
    revisions: list[str] | None = option(
        "the checkpoints (default: the track's, else every chck_* folder of --model)", None,
        type=options.comma_list(str), metavar="REV[,REV...]")
    track: str | None = option("take the track's revisions (strict-small: 19, others: 28)",
                               None, choices=list(TRACKS))
    mode: str = option("full: the corrected task; babylm2025: the official computation "
                       "(docs/aoa.md lists what differs)", "full", choices=surprisal.MODES)
    word_prob: str | None = option(
        "corrected: each word's probability corrected for where it ends (default in full, "
        "docs/surprisal.md); raw: its tokens' sum (the only choice in babylm2025)", None,
        choices=("corrected", "raw"))
    min_contexts: int | None = option(
        "words with fewer contexts get no AoA (default: 20 in full, 0 in babylm2025); every "
        "surprisal is written either way", None, type=options.non_negative_int, at_least=0)
    words_file: Path | None = option(
        "the words and contexts (default: full_eval/aoa/cdi_childes.json)", None,
        type=options.existing_file)
    human: Path | None = option(
        "the CDI table (default: full_eval/aoa/cdi_human.csv if present)", None,
        type=options.existing_file)
    data_dir: str | None = option(
        "evaluation data root (default: $CLASSIT_DATA_DIR, then the user cache)", None)
    batch_size: int = option("contexts per forward pass", 32, type=options.positive_int,
                             at_least=1)
    device: str | None = option("cpu, cuda (default: cuda if any)", None, type=options.device)
    dtype: str = option("the weights' precision", "float32", choices=("float32", "float64"))
    null_permutations: int = option(
        "N shufflings of each context's surprisals across the checkpoints, each refitted, for "
        "the null of the Pearson r (seed 0; needs the CDI table; each costs about one more "
        "fit of every word; 0: none)", 0, type=options.non_negative_int, at_least=0,
        metavar="N")
    plot_words: list[str] | None = option(
        "words drawn in aoa.png (default: four with an AoA)", None,
        type=options.comma_list(str), metavar="W[,W...]")
    prog: str = "classit-eval aoa"  # the name its messages start with

    def __post_init__(self) -> None:
        check_options(self)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> AoaSettings:
        return settings_from(cls, args, prog=args.prog)


@dataclass(frozen=True)
class AoaResult:
    """What an AoA run wrote: the folder, its files by role, and the results document."""

    folder: Path
    files: dict[str, str]  # surprisal, words, results, plot -> the file's name in `folder`
    document: dict  # the lm-eval results document (RESULTS_FILE's content)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = __doc__.split("\n\n")[2]
    add_options(p, AoaSettings)


def run(args: argparse.Namespace) -> int:
    run_aoa(AoaSettings.from_args(args))
    return 0


def run_aoa(args: AoaSettings) -> AoaResult:
    """Score the series, fit the words, write the four files; return what was written."""
    import torch

    start = time.time()
    mode = args.mode
    word_prob = surprisal.word_prob_for(mode, args.word_prob)
    min_contexts = fit.MIN_CONTEXTS[mode] if args.min_contexts is None else args.min_contexts
    series = checkpoints(args.model, args.revisions, args.track)
    words = read_words(args.words_file, args.data_dir)
    human_path = human.find_human(args.human, args.data_dir)
    child = human.child_aoas(human.read_human(human_path), words.words) if human_path else None
    if human_path is not None and child is not None:
        human.check_pairs(human_path, child, words.words)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = tokenizer_of(series)
    scored = surprisal.score_series(words, series, mode, loader(device, args.dtype),
                                    tokenizer, args.batch_size,
                                    progress=lambda line: print(f"aoa: {line}", flush=True),
                                    word_prob=word_prob)
    if scored.unscored_first:
        print(f"{args.prog}: warning: {scored.unscored_first} contexts are empty and the "
              "tokenizer adds no BOS: their word's first token is not scored (the official "
              "rule, mode babylm2025).", file=sys.stderr)
    document = surprisal.official_json(scored, args.model)
    classit = document["metadata"]["classit"]
    fits = fit.fit_rows(document["results"], mode, words.words, classit["vocab_size"],
                        classit["word_tokens"], min_contexts)
    r, paired = fit.pearson(fits, child, mode) if child is not None else (None, [])
    if r is not None and math.isnan(r):  # the model, not the table: too few words learned
        print(f"{args.prog}: note: no Pearson r: {len(paired)} word(s) have both a model AoA "
              f"and a child AoA, and a correlation needs {human.MIN_PAIRS}. The surprisals "
              "and the model AoAs are written.", file=sys.stderr)
        r = None
    null = None
    if r is not None and child is not None and args.null_permutations:
        null = fit.null_summary(r, fit.permutation_null(
            document["results"], mode, child, args.null_permutations, words=words.words,
            vocab_size=classit["vocab_size"], word_tokens=classit["word_tokens"],
            min_contexts=min_contexts))
    settings = {"min_contexts": min_contexts, "word_prob": word_prob,
                "batch_size": args.batch_size,
                "device": device, "dtype": args.dtype}

    out = Path(args.output_dir)
    surprisal.write_json(document, out / SURPRISAL_FILE)
    table = {"mode": mode, "min_contexts": min_contexts, "pearson": r, "null": null,
             "paired_words": paired, "human_file": str(human_path) if human_path else None,
             "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
             "words": [dict(f.row(), child_aoa=(child or {}).get(f.word)) for f in fits]}
    surprisal.write_json(table, out / WORDS_FILE)
    results = results_document(args.model, mode, r, fits, len(words.items), series, settings,
                               start, null)
    surprisal.write_json(results, out / RESULTS_FILE)
    from classit_eval.aoa import plot

    plot.plot(document["results"], fits, mode, out / PLOT_FILE, args.plot_words, child, r)
    with_aoa = sum(f.aoa is not None for f in fits)
    print(f"aoa: {len(series)} checkpoints x {len(words.items)} contexts; {with_aoa} of "
          f"{len(fits)} words have an AoA ({mode}); wrote {out / SURPRISAL_FILE}")
    if human_path is None:
        print(f"{args.prog}: note: {human.missing_message(args.data_dir)}", file=sys.stderr)
    elif r is not None:
        print(f"aoa: Pearson r with children's AoA = {r:.4f} over {len(paired)} words")
    if null:
        print(f"aoa: its null ({null['pearson_null_n']} shufflings across checkpoints, seed 0): "
              f"95th percentile {null['pearson_null_p95']:.4f}, p = {null['pearson_null_p']:.3f}")
    return AoaResult(out, {"surprisal": SURPRISAL_FILE, "words": WORDS_FILE,
                           "results": RESULTS_FILE, "plot": PLOT_FILE}, results)

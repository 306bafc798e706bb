"""The CLASS-IT recipe end to end, at a stated scale.

    tokenizer -> pretraining (checkpoints at word milestones) -> instruction pairs from
    Switchboard and from Simple Wikipedia (questions and answers written by an instruct
    LM) -> instruction tuning with the three curricula (merged, switch_wiki, wiki_switch)
    -> the zero-shot fast suite on every checkpoint -> z-scores over all of them.

    .venv/bin/python scripts/classit_recipe.py --scale toy [--work DIR]
    .venv/bin/python scripts/classit_recipe.py --scale paper --corpus train_100M --work DIR

`--scale toy` runs on the CPU in a few minutes, on the BabyLM samples in the shared data
(`$CLASSIT_SHARED_DATA`, else ../shared/data): a 4,000-token tokenizer, a 0.6M-parameter
LLaMA on 200k words, 8k words of Switchboard pairs, SmolLM2-135M-Instruct on 6 Wikipedia
paragraphs, one epoch per curriculum stage, `--limit` items per evaluation subtask.
`--scale paper` is the poster's recipe on a GPU: a 16,384-token tokenizer and
models/llama-100m.json (6,000-token context) on every `*.train` file of `--corpus`,
pretraining with the step's defaults (lr 2e-4, batch 8, 8 epochs, 5,000 warm-up steps,
BabyLM's checkpoint milestones, bf16 and torch.compile on a GPU), Llama-3.2-3B-Instruct
for the Wikipedia pairs, instruction tuning with its defaults (lr 2e-5, batch 8, 10 epochs,
500 warm-up steps, cosine restarts per stage), the full fast suite without a limit.

Each step is one of the package's commands (`classit-train`, `classit-eval run`,
`classit-zscore`): the script prints it, then runs it in this one process, so that torch,
lm-eval and lm-eval's task index are loaded once, not once per step and checkpoint
(`--dry-run`: print the commands only; each also runs as printed, from a shell). A step
whose output is complete is skipped, and training steps pass `--resume`: run the script
again after a crash and it continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CLASSIT_SHARED_DATA", REPO.parent / "shared" / "data"))
CURRICULA = ("merged", "switch_wiki", "wiki_switch")
METADATA = "classit_train.json"  # written last into a finished checkpoint
# The fast suite. Under --limit the reading task's regression has too few words (its
# score is NaN), so the toy scale leaves it out.
FAST_SUITE = "classit_zero_shot_fast"
FAST_WITHOUT_READING = ("classit_blimp_fast,classit_blimp_supplement_fast,classit_ewok_fast,"
                        "classit_entity_tracking_fast,classit_wug_adj_fast")
TOY_CONFIG = {
    "model_type": "llama", "vocab_size": 4000, "hidden_size": 64, "intermediate_size": 256,
    "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 2,
    "max_position_embeddings": 128, "tie_word_embeddings": False,
}
SCALES = {
    "toy": {
        "tokenizer": ["--vocab-size", "4000"],
        "pretrain": ["--seq-len", "128", "--batch-size", "16", "--epochs", "1",
                     "--warmup-steps", "10", "--lr", "2e-3", "--checkpoint-words", "50k,100k,150k",
                     "--log-every", "50", "--cpu"],
        "switchboard": ["--max-words", "8k"],
        "wiki": ["--model", "smollm2", "--paragraphs", "6", "--batch-size", "6",
                 "--max-new-tokens", "48"],
        "instruct": ["--epochs", "1", "--batch-size", "2", "--warmup-steps", "5", "--lr", "1e-4",
                     "--max-length", "128", "--log-every", "100", "--cpu"],
        "eval": ["--device", "cpu", "--batch_size", "16", "--tasks", FAST_WITHOUT_READING],
    },
    "paper": {
        "tokenizer": ["--vocab-size", "16384"],
        "pretrain": ["--config", str(REPO / "models" / "llama-100m.json"), "--log-every", "100"],
        "switchboard": [],
        "wiki": ["--model", "meta-llama/Llama-3.2-3B-Instruct", "--batch-size", "32"],
        "instruct": ["--log-every", "100"],
        "eval": ["--device", "cuda", "--batch_size", "64", "--tasks", FAST_SUITE],
    },
}


@dataclass
class Step:
    title: str
    command: list[str]  # the command line that does the step: shown, and run in-process
    done: Path  # present when the step is complete
    needs: Path | None = None  # the step is skipped when this is missing

    def run(self) -> int:
        """Run the command's `main` in this process (lm-eval, torch... are imported once)."""
        if self.command[0] == "classit-eval":  # classit-eval run ...
            return evaluate(self.command[2:])
        from classit_eval import cli

        alias = {"classit-train": cli.train_main,
                 "classit-zscore": cli.zscore_main}[self.command[0]]
        return alias(self.command[1:]) or 0


def toy_corpus() -> list[Path]:
    samples = SHARED / "corpora" / "babylm-samples" / "train_100k"
    return [samples / f"{name}.train" for name in ("bnc_spoken", "simple_wiki")]


def plan(args: argparse.Namespace) -> list[Step]:
    """Every step of the recipe, in order."""
    scale, work = SCALES[args.scale], args.work
    if args.scale == "toy":
        corpus = toy_corpus()
        switchboard = SHARED / "corpora" / "babylm-samples" / "train_10M" / "switchboard.train"
        wiki = [SHARED / "corpora" / "babylm-samples" / "train_100k" / "simple_wiki_dev.train"]
        config = ["--config", str(work / "llama-toy.json")]
    else:
        corpus = sorted(Path(args.corpus).glob("*.train"))
        switchboard = Path(args.corpus) / "switchboard.train"
        wiki = [Path(args.corpus) / "simple_wiki.train"]
        config = []
    tokenizer, pretrained, pairs = work / "tokenizer", work / "pretrained", work / "instructions"
    wiki_budget = ["--max-words", args.wiki_words] if args.wiki_words else []
    train = ["classit-train"]
    steps = [
        Step("tokenizer", [*train, "tokenizer", *map(str, corpus), "--out", str(tokenizer),
                           *scale["tokenizer"]], tokenizer / "tokenizer.json"),
        Step("pretraining", [*train, "pretrain", *map(str, corpus), *config, "--tokenizer",
                             str(tokenizer), "--out", str(pretrained), "--resume",
                             *scale["pretrain"]], pretrained / METADATA),
        Step("Switchboard pairs", [*train, "instructions", "switchboard", str(switchboard),
                                   "--out", str(pairs / "switchboard.jsonl"),
                                   *scale["switchboard"]],
             pairs / "switchboard.jsonl.classit_train.json"),
        Step("Simple Wikipedia pairs", [*train, "instructions", "wiki", *map(str, wiki), "--out",
                                        str(pairs / "wiki.jsonl"), *scale["wiki"], *wiki_budget],
             pairs / "wiki.jsonl.classit_train.json"),
    ]
    for curriculum in CURRICULA:
        out = work / f"instructed_{curriculum}"
        steps.append(Step(f"instruction tuning, {curriculum}",
                          [*train, "instruct", str(pairs / "switchboard.jsonl"),
                           str(pairs / "wiki.jsonl"), "--model", str(pretrained),
                           "--curriculum", curriculum, "--out", str(out), "--resume",
                           *scale["instruct"]], out / METADATA))
    limit = ["--limit", str(args.limit)] if args.limit else []
    for name, model in checkpoints(args):
        results = work / "results" / name
        steps.append(Step(f"zero-shot fast suite, {name}",
                          ["classit-eval", "run", "--model", "classit", "--model_args",
                           f"pretrained={model}", *scale["eval"], *limit,
                           "--output_path", str(results)],
                          results, needs=model / METADATA))
    steps.append(Step("z-scores", ["classit-zscore", str(work / "results"), "--name-from",
                                   "checkpoint", "--markdown", str(work / "zscores.md"),
                                   "--json", str(work / "zscores.json")],
                      work / "zscores.json"))
    return steps


@cache
def classit_tasks():
    """lm-eval's task index of this package's tasks only: built once, in a fraction of the
    time of the full index that each `classit-eval run` builds."""
    import classit_eval.lmeval.backend  # noqa: F401  (registers the `classit` model)
    from classit_eval.lmeval.plugin import task_manager

    return task_manager(classit_only=True)


def evaluate(argv: list[str]) -> int:
    """`classit-eval run ARGV` (the options used here) through lm-eval's Python API, with
    one task index for all checkpoints; results are saved as `--output_path` saves them."""
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.utils import make_table

    parser = argparse.ArgumentParser(prog="classit-eval run")
    for option in ("--model", "--model_args", "--device", "--tasks", "--output_path"):
        parser.add_argument(option, required=True)
    parser.add_argument("--batch_size", type=int, required=True)
    parser.add_argument("--limit", type=float, default=None)
    args = parser.parse_args(argv)
    tracker = EvaluationTracker(output_path=args.output_path)
    out = simple_evaluate(
        model=args.model, model_args=args.model_args, tasks=args.tasks.split(","),
        device=args.device, batch_size=args.batch_size, limit=args.limit, log_samples=False,
        evaluation_tracker=tracker, task_manager=classit_tasks(),
    )
    tracker.save_results_aggregated(results=out, samples=None)
    print(make_table(out, "groups"))
    return 0


def checkpoints(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """(name, folder) of every checkpoint to evaluate: the pretraining milestones as they
    will be named (known before pretraining runs), the final model, the three curricula."""
    pretrained = args.work / "pretrained"
    if args.scale == "toy":
        milestones = ["chck_50K", "chck_100K", "chck_150K"]
    else:  # BabyLM's: the ones reached are those saved; the others are skipped when missing
        from classit_eval.train.common import babylm_milestones, words_label

        milestones = [words_label(words) for words in babylm_milestones()]
    return ([(f"pretrained_{m}", pretrained / m) for m in milestones]
            + [("pretrained", pretrained)]
            + [(f"instructed_{c}", args.work / f"instructed_{c}") for c in CURRICULA])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=SCALES, required=True)
    parser.add_argument("--work", type=Path, default=None,
                        help="output folder (default /tmp/classit-recipe-SCALE)")
    parser.add_argument("--corpus", type=Path, default=None,
                        help="paper scale: the folder of BabyLM *.train files (e.g. train_100M)")
    parser.add_argument("--limit", type=int, default=None,
                        help="items per evaluation subtask (default: 5 at toy scale, all at "
                             "paper scale)")
    parser.add_argument("--wiki-words", default=None,
                        help="a budget for the Wikipedia pairs, e.g. 5M (default: every "
                             "paragraph; the poster does not give one)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args()
    if args.scale == "paper" and not (args.corpus and list(args.corpus.glob("*.train"))):
        parser.error("--scale paper needs --corpus: a folder of the BabyLM *.train files, "
                     f"not {args.corpus}")
    args.work = (args.work or Path(f"/tmp/classit-recipe-{args.scale}")).resolve()
    if args.limit is None and args.scale == "toy":
        args.limit = 5

    sys.path.insert(0, str(REPO))  # the package of this checkout
    os.environ.setdefault("CLASSIT_DATA_DIR", str(SHARED / "babylm-2025"))
    if args.scale == "toy":  # small work: threads would only contend
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started, times = time.perf_counter(), []
    if not args.dry_run and args.scale == "toy":
        args.work.mkdir(parents=True, exist_ok=True)
        (args.work / "llama-toy.json").write_text(json.dumps(TOY_CONFIG, indent=1))
    for step in plan(args):
        print(f"\n== {step.title}\n$ {' '.join(step.command)}", flush=True)
        if args.dry_run:
            continue
        if step.done.exists():
            print("done already: skipped")
            continue
        if step.needs is not None and not step.needs.exists():
            print(f"no {step.needs} (a milestone the run did not reach): skipped")
            continue
        step_started = time.perf_counter()
        code = step.run()
        if code:
            print(f"\nstep '{step.title}' failed (exit status {code}). Fix the cause and run "
                  "the script again: the steps done are skipped.", file=sys.stderr)
            return code
        times.append((step.title, time.perf_counter() - step_started))
    if not args.dry_run:
        print(f"\nthe recipe at {args.scale} scale took {time.perf_counter() - started:.0f} s:")
        for title, seconds in times:
            print(f"  {seconds:7.1f} s  {title}")
        print(f"z-scores: {args.work / 'zscores.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

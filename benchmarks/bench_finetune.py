"""Examples/s of one fine-tuning epoch: classit-finetune against the official batching.

Both runs train the same model from the same initial weights on the same real data for
one epoch, in one process:

- baseline: randomly ordered batches, each padded to its longest example (the official
  BabyLM 2025 pipeline: a shuffled DataLoader and `tokenizer(..., padding=True)`);
- classit: length-grouped batches (the HF Trainer's LengthGroupedSampler), padded per
  batch to a multiple of 8.

    python benchmarks/bench_finetune.py                       # a small random LLaMA, RTE
    python benchmarks/bench_finetune.py --model PATH --task mrpc --max-train-examples 1000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("CLASSIT_DATA_DIR", str(REPO.parent / "shared" / "data" / "babylm-2025"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from transformers import set_seed  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from classit_eval.finetune.classifier import SequenceClassifier, load_tokenizer  # noqa: E402
from classit_eval.finetune.tasks import get_task, load_split  # noqa: E402
from classit_eval.finetune.train import Settings, encode, make_trainer, training_args  # noqa: E402


def one_epoch(model: str, task, rows: list[dict], s: dict, grouped: bool, out: Path,
              steps: int = -1) -> tuple[float, float]:
    """(examples/s, share of padding tokens) of one epoch (or `steps` steps)."""
    set_seed(s["seed"])
    tokenizer = load_tokenizer(model)
    clf = SequenceClassifier.from_pretrained(model, task.num_labels, s["pooling"], s["dropout"])
    args = training_args(out, s | {"epochs": 1, "group_by_length": grouped}, evaluate=False)
    args.max_steps, args.disable_tqdm = steps, True
    trainer = make_trainer(clf, tokenizer, args, rows, None, task.metrics,
                           pad_to_multiple_of=8 if grouped else None)
    metrics = trainer.train().metrics
    seen = [b["attention_mask"] for b in trainer.get_train_dataloader()]
    padded = sum(m.numel() for m in seen)
    return metrics["train_samples_per_second"], 1 - sum(int(m.sum()) for m in seen) / padded


def tiny_model(folder: Path, hidden: int, layers: int) -> str:
    from tests.tiny import build_tiny_model

    corpus = REPO.parent / "shared/data/corpora/babylm-samples/train_100k/simple_wiki.train"
    return str(build_tiny_model(folder, corpus, hidden=hidden, layers=layers))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="model to fine-tune (default: a small random LLaMA)")
    p.add_argument("--hidden", type=int, default=128, help="hidden size of the default model")
    p.add_argument("--layers", type=int, default=4, help="layers of the default model")
    p.add_argument("--task", default="rte")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--max-train-examples", type=int, default=None)
    args = p.parse_args()
    hf_logging.set_verbosity_error()
    task = get_task(args.task)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or tiny_model(Path(tmp) / "model", args.hidden, args.layers)
        s = Settings(batch_size=args.batch_size, max_length=args.max_length).for_task(task)
        train = load_split(task, "train")[: args.max_train_examples]
        rows = encode(train, load_tokenizer(model), s["max_length"])
        one_epoch(model, task, rows, s, True, Path(tmp) / "warmup", steps=2)
        base, base_pad = one_epoch(model, task, rows, s, False, Path(tmp) / "baseline")
        ours, ours_pad = one_epoch(model, task, rows, s, True, Path(tmp) / "grouped")
    print(f"model {args.model or f'random LLaMA, hidden {args.hidden}, {args.layers} layers'}; "
          f"{task.name}: {len(rows)} training examples, batch {s['batch_size']}, "
          f"max length {s['max_length']}; one epoch each")
    print(f"baseline (random order, pad to longest): {base:8.1f} examples/s, "
          f"{base_pad:.0%} padding tokens")
    print(f"classit-finetune (length-grouped):       {ours:8.1f} examples/s, "
          f"{ours_pad:.0%} padding tokens")
    print(f"speed-up: {ours / base:.2f}x")


if __name__ == "__main__":
    main()

"""Pretraining throughput: `classit-train pretrain`'s loop against the HF Trainer.

Both train the same tiny LLaMA from the same weights on the same packed sequences of a
BabyLM sample, with the same batch size, optimizer (AdamW, fp32) and schedule, for the
same number of steps, in this one process, alternately (`--rounds`); prints the best
tokens/s of each and their ratio.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_pretrain.py [--steps 100 --rounds 2]
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time
from pathlib import Path

import torch
from datasets import Dataset
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments

from classit_eval.train import loop
from classit_eval.train.pretrain import collate, pack
from classit_eval.train.tokenizer import train_tokenizer

SHARED = Path(os.environ.get("CLASSIT_SHARED_DATA",
                             Path(__file__).resolve().parents[2] / "shared" / "data"))
CORPUS = SHARED / "corpora" / "babylm-samples" / "train_100k" / "bnc_spoken.train"


def run_ours(initial, sequences, words, args, tmp: Path) -> float:
    """Seconds of `args.steps` steps of the classit-train loop."""
    stage = loop.Stage("corpus", sequences, words, [args.seq_len] * len(words),
                       [args.seq_len - 1] * len(words))
    options = loop.Options(out=tmp / "ours", schedule="linear", lr=2e-4, epochs=10,
                           warmup_steps=20, batch_size=args.batch_size,
                           grad_accum=args.grad_accum, save_every_steps=0, max_steps=args.steps, log_every=10**9)
    progress = loop.train(copy.deepcopy(initial), [stage], collate, options,
                          lambda model, folder, progress: None)
    return progress["seconds"]


def run_trainer(initial, dataset, args, tmp: Path) -> float:
    """Seconds of `args.steps` steps of the HF Trainer with the same recipe."""
    training = TrainingArguments(
        output_dir=str(tmp / "hf"), per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum,
        max_steps=args.steps, learning_rate=2e-4, warmup_steps=20,
        lr_scheduler_type="linear", weight_decay=0.0, max_grad_norm=1.0,
        save_strategy="no", report_to=[], logging_strategy="no", use_cpu=True,
        dataloader_num_workers=0, disable_tqdm=True, seed=42,
    )
    trainer = Trainer(model=copy.deepcopy(initial), args=training, train_dataset=dataset,
                      data_collator=lambda rows: collate(
                          [torch.tensor(r["input_ids"]) for r in rows]))
    started = time.perf_counter()
    trainer.train()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    args = parser.parse_args()

    tokenizer = train_tokenizer([CORPUS], vocab_size=4000)
    sequences, words = pack(tokenizer, [CORPUS], args.seq_len)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=args.hidden, intermediate_size=4 * args.hidden,
        num_hidden_layers=args.layers, num_attention_heads=args.hidden // 32,
        max_position_embeddings=args.seq_len, tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    initial = LlamaForCausalLM(config)
    tokens = args.steps * args.batch_size * args.grad_accum * args.seq_len
    print(f"{torch.get_num_threads()} threads, {args.steps} steps of {args.grad_accum} x "
          f"{args.batch_size} x {args.seq_len} tokens, model {sum(p.numel() for p in initial.parameters()):,} "
          f"parameters, corpus {CORPUS.name}")

    dataset = Dataset.from_dict({"input_ids": sequences.long().tolist()})
    ours, hf = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):  # alternate, keep the best: the machine is shared
            ours.append(tokens / run_ours(initial, sequences, words, args, Path(tmp)))
            hf.append(tokens / run_trainer(initial, dataset, args, Path(tmp)))
    print(f"tokens/s per round: ours {[round(x) for x in ours]}, HF {[round(x) for x in hf]}")
    ours, hf = max(ours), max(hf)
    print(f"classit-train loop: {ours:,.0f} tokens/s")
    print(f"HF Trainer:         {hf:,.0f} tokens/s")
    print(f"ratio (ours / HF):  {ours / hf:.2f}")


if __name__ == "__main__":
    main()

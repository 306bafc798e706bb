"""Pretraining speed: the token cache's data preparation, and `classit-train pretrain`'s
loop against the HF Trainer, on the device at hand.

1. Data preparation, as `pretrain` does it before training (hash the files, tokenise into
   the token cache or open the cached entry, count the words of each sequence), twice on
   an empty cache: the first run tokenises, the second reads the cache. Prints both times
   and their ratio.
2. Training: the same LLaMA from the same weights on the same packed sequences, with the
   same batch, fused AdamW, schedule, precision and compilation, for the same number of
   steps, in this one process, alternately (`--rounds`); prints the best tokens/s of each,
   their ratio, and FLOP/s: FLOPs per token = 6 x (parameters - input embedding) + 6 x
   layers x width x seq_len (causal attention; `common.flops_per_token`). MFU is given
   against a peak measured here, the FLOP/s of a large dense matmul in the run's precision
   (`--peak-tflops` to use a datasheet figure instead): on a CPU there is no reliable
   datasheet peak, so the CPU MFU is only "of what a matmul reaches on these cores".

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_pretrain.py            # CPU, tiny
    .venv/bin/python benchmarks/bench_pretrain.py --config models/llama-100m.json \\
        --seq-len 6000 --steps 60 --mixed-precision bf16 --compile on           # a GPU
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
from classit_eval.train.common import file_records, flops_per_token, load_config
from classit_eval.train.pretrain import collate, corpus_stage
from classit_eval.train.tokenizer import train_tokenizer

SHARED = Path(os.environ.get("CLASSIT_SHARED_DATA",
                             Path(__file__).resolve().parents[2] / "shared" / "data"))
SAMPLES = SHARED / "corpora" / "babylm-samples"
SOURCES = ("bnc_spoken", "gutenberg", "open_subtitles", "simple_wiki")


def time_preparation(tokenizer, files: list[Path], seq_len: int) -> None:
    """Seconds of `pretrain`'s data preparation on an empty cache, then on the filled one."""
    with tempfile.TemporaryDirectory() as cache:
        seconds, results = [], []
        for _ in range(2):
            started = time.perf_counter()
            stage, tokens = corpus_stage(tokenizer, files, file_records(files), seq_len,
                                         Path(cache))
            seconds.append(time.perf_counter() - started)
            results.append((tokens.hit, len(tokens.tokens), sum(stage.words)))
    (hit1, count, words), (hit2, count2, words2) = results
    assert (not hit1, hit2, count, words) == (True, True, count2, words2)
    print(f"data preparation of {len(files)} files, {words:,} words, {count:,} tokens:")
    print(f"  first run (tokenise):  {seconds[0]:8.2f} s")
    print(f"  second run (cached):   {seconds[1]:8.2f} s")
    print(f"  ratio:                 {seconds[0] / seconds[1]:8.1f}x")


def matmul_peak(device: torch.device, dtype: torch.dtype) -> float:
    """FLOP/s of a large square matmul: what this device reaches at best, here and now."""
    n = 8192 if device.type == "cuda" else 1024
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    best = float("inf")
    for _ in range(5):
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(10):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - started) / 10)
    return 2 * n**3 / best


def run_ours(initial, stage: loop.Stage, args, tmp: Path) -> float:
    """Seconds of `args.steps` steps of the classit-train loop."""
    options = loop.Options(out=tmp / "ours", schedule="linear", lr=2e-4, epochs=1000,
                           warmup_steps=20, batch_size=args.batch_size,
                           grad_accum=args.grad_accum, save_every_steps=0,
                           max_steps=args.steps, log_every=10**9,
                           mixed_precision=args.mixed_precision, compile=args.compile)
    progress = loop.train(copy.deepcopy(initial), [stage], collate, options,
                          lambda model, folder, progress: None)
    return progress["seconds"]


def run_trainer(initial, dataset, args, tmp: Path, cpu: bool) -> float:
    """Seconds of `args.steps` steps of the HF Trainer with the same recipe."""
    training = TrainingArguments(
        output_dir=str(tmp / "hf"), per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum,
        max_steps=args.steps, learning_rate=2e-4, warmup_steps=20,
        lr_scheduler_type="linear", weight_decay=0.0, max_grad_norm=1.0,
        save_strategy="no", report_to=[], logging_strategy="no", use_cpu=cpu,
        bf16=args.mixed_precision == "bf16", torch_compile=args.compile == "on",
        dataloader_num_workers=0, dataloader_pin_memory=not cpu, disable_tqdm=True, seed=42,
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
    parser.add_argument("--hidden", type=int, default=128, help="of the tiny model")
    parser.add_argument("--layers", type=int, default=4, help="of the tiny model")
    parser.add_argument("--config", type=Path, default=None,
                        help="a LlamaConfig JSON instead of the tiny model")
    parser.add_argument("--mixed-precision", choices=("no", "bf16"), default="no")
    parser.add_argument("--compile", choices=("on", "off"), default="off")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the device's peak, instead of the measured matmul's")
    parser.add_argument("--skip-preparation", action="store_true")
    args = parser.parse_args()

    files = [SAMPLES / "train_300k" / f"{name}.train" for name in SOURCES]
    vocab = load_config(args.config).vocab_size if args.config else 4000
    tokenizer = train_tokenizer(files, vocab_size=vocab)
    if not args.skip_preparation:
        time_preparation(tokenizer, files, args.seq_len)

    if args.config:
        config = load_config(args.config)
    else:
        config = LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=args.hidden,
            intermediate_size=4 * args.hidden, num_hidden_layers=args.layers,
            num_attention_heads=args.hidden // 32, max_position_embeddings=args.seq_len,
            tie_word_embeddings=False,
        )
    torch.manual_seed(0)
    initial = LlamaForCausalLM(config)
    cpu = not torch.cuda.is_available()
    device = torch.device("cpu" if cpu else "cuda")
    tokens = args.steps * args.batch_size * args.grad_accum * args.seq_len
    flops = flops_per_token(initial, args.seq_len)
    with tempfile.TemporaryDirectory() as tmp:
        stage, _ = corpus_stage(tokenizer, files, file_records(files), args.seq_len,
                                Path(tmp) / "cache")
        dataset = Dataset.from_dict({"input_ids": [stage.examples[i].tolist() for i in
                                                   range(len(stage.examples))]})
        where = torch.cuda.get_device_name() if not cpu else (
            f"CPU, {torch.get_num_threads()} threads")
        print(f"\n{where}: {args.steps} steps of {args.grad_accum} x {args.batch_size} x "
              f"{args.seq_len} tokens, model {sum(p.numel() for p in initial.parameters()):,} "
              f"parameters ({flops / 1e9:.3f} GFLOP per token), precision "
              f"{args.mixed_precision}, compile {args.compile}, {len(stage.examples):,} "
              "sequences of train_300k")
        ours, hf = [], []
        for _ in range(args.rounds):  # alternate, keep the best: the machine may be shared
            ours.append(tokens / run_ours(initial, stage, args, Path(tmp)))
            hf.append(tokens / run_trainer(initial, dataset, args, Path(tmp), cpu))
    dtype = torch.bfloat16 if args.mixed_precision == "bf16" else torch.float32
    peak = args.peak_tflops * 1e12 if args.peak_tflops else matmul_peak(device, dtype)
    source = "given" if args.peak_tflops else f"measured {str(dtype)[6:]} matmul"
    print(f"tokens/s per round: ours {[round(x) for x in ours]}, HF {[round(x) for x in hf]}")
    print(f"peak ({source}): {peak / 1e12:.3f} TFLOP/s")
    for name, rate in (("classit-train loop", max(ours)), ("HF Trainer", max(hf))):
        print(f"{name:19} {rate:12,.0f} tokens/s  {rate * flops / 1e12:8.3f} TFLOP/s  "
              f"MFU {rate * flops / peak:6.1%}")
    print(f"ratio (ours / HF):  {max(ours) / max(hf):.2f}")


if __name__ == "__main__":
    main()

"""Step `pretrain`: causal LM pretraining of a LLaMA config on text files.

Each non-empty line of the files is tokenized (`<s>` first, `</s>` last), the lines are
concatenated and cut into sequences of `--seq-len` tokens (the short rest is dropped).
Words are counted as BabyLM counts them (whitespace-separated strings, each credited to
the sequence holding its first token), so checkpoints `chck_1M`, `chck_2M`, ... are
saved when the model has seen that many words of the corpus. Defaults are the poster's
recipe (`RECIPE`, the loop's batch 8): lr 2e-4, 8 epochs, linear schedule, 5,000 warm-up
steps.
"""

from __future__ import annotations

import argparse
import re
from array import array
from pathlib import Path

import numpy as np
import torch
from accelerate.utils import set_seed
from transformers import LlamaForCausalLM, PreTrainedTokenizerBase

from classit_eval.data.checkpoints import load_tokenizer
from classit_eval.train import loop, metadata
from classit_eval.train.common import (
    TrainError,
    babylm_milestones,
    check_text_files,
    file_records,
    iter_lines,
    load_config,
    parse_words,
)

WORD = re.compile(r"\S+")
RECIPE = {"lr": 2e-4, "epochs": 8, "warmup_steps": 5000}  # the poster's; batch 8 is the loop's


def word_starts(line: str, offsets: list[tuple[int, int]]) -> list[int]:
    """1 for each token holding the first character of a word of `line`, else 0."""
    starts = [m.start() for m in WORD.finditer(line)]
    flags, j = [], 0
    for _, end in offsets:
        hit = 0
        while j < len(starts) and starts[j] < end:
            hit, j = 1, j + 1
        flags.append(hit)
    return flags


def pack(tokenizer: PreTrainedTokenizerBase, files: list[Path], seq_len: int,
         lines_per_batch: int = 1000) -> tuple[torch.Tensor, list[int]]:
    """Sequences of `seq_len` token ids (n, seq_len) and the words starting in each."""
    ids, flags = array("i"), bytearray()
    eos = tokenizer.eos_token_id
    lines = list(iter_lines(files))
    for i in range(0, len(lines), lines_per_batch):
        chunk = lines[i : i + lines_per_batch]
        encoded = tokenizer(chunk, return_offsets_mapping=True)
        for line, line_ids, offsets in zip(
            chunk, encoded["input_ids"], encoded["offset_mapping"], strict=True
        ):
            ids.extend(line_ids + [eos])
            flags.extend(word_starts(line, offsets) + [0])
    n = len(ids) // seq_len
    if n == 0:
        raise TrainError(
            f"The corpus gives {len(ids)} tokens, fewer than one sequence of --seq-len "
            f"{seq_len}. Give more text or a smaller --seq-len."
        )
    tokens = torch.from_numpy(np.frombuffer(ids, dtype=np.int32)[: n * seq_len].copy())
    words = np.frombuffer(bytes(flags), dtype=np.uint8)[: n * seq_len].reshape(n, seq_len)
    return tokens.view(n, seq_len), words.sum(axis=1).tolist()


def collate(rows: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    input_ids = torch.stack(rows).long()
    return {"input_ids": input_ids, "labels": input_ids}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, help="training text (BabyLM .train files)")
    parser.add_argument("--config", type=Path, required=True,
                        help="LlamaConfig JSON, e.g. models/llama-100m.json")
    parser.add_argument("--tokenizer", type=Path, required=True,
                        help="tokenizer folder (from `classit-train tokenizer`)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--seq-len", type=int, default=None,
                        help="tokens per sequence (default: the config's context length)")
    parser.add_argument("--checkpoint-words", default=None,
                        help="comma-separated word counts to save checkpoints at, e.g. 50k,100k "
                             "(default: BabyLM's 1M..10M, 20M..100M, 200M..1B)")
    loop.add_arguments(parser, **RECIPE)


def run(args: argparse.Namespace) -> int:
    milestones = ([parse_words(w) for w in args.checkpoint_words.split(",") if w.strip()]
                  if args.checkpoint_words else babylm_milestones())
    options = loop.Options.from_args(args, schedule="linear", milestones=sorted(milestones))
    files = check_text_files(args.files)
    config = load_config(args.config)
    tokenizer = load_tokenizer(args.tokenizer)
    if len(tokenizer) > config.vocab_size:
        raise TrainError(
            f"The tokenizer {args.tokenizer} has {len(tokenizer)} tokens, more than the "
            f"vocab_size {config.vocab_size} of {args.config}: train it with "
            f"--vocab-size {config.vocab_size}."
        )
    config.bos_token_id, config.eos_token_id = tokenizer.bos_token_id, tokenizer.eos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    seq_len = args.seq_len or config.max_position_embeddings
    if seq_len > config.max_position_embeddings:
        raise TrainError(f"--seq-len {seq_len} exceeds the config's context "
                         f"{config.max_position_embeddings}.")

    sequences, words = pack(tokenizer, files, seq_len)
    stage = loop.Stage("corpus", sequences, words, [seq_len] * len(words),
                       [seq_len - 1] * len(words))
    set_seed(args.seed)
    model = LlamaForCausalLM(config)
    records = file_records(files)
    fields = {
        "config": config.to_diff_dict(), "config_file": str(Path(args.config).resolve()),
        "tokenizer": str(Path(args.tokenizer).resolve()),
        "model_size": metadata.model_size(sum(p.numel() for p in model.parameters())),
        "curriculum": None, "seq_len": seq_len, "words_per_epoch": sum(words),
        **options.recipe(),
    }

    def save(trained: torch.nn.Module, folder: Path, progress: dict) -> None:
        trained.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        revision = folder.name if folder != args.out else "main"
        metadata.write(folder, "pretrain", files=records, revision=revision, **fields,
                       **progress)

    progress = loop.train(model, [stage], collate, options, save)
    print(f"pretrained {progress['step']} steps, {progress['words_seen']:,} words: {args.out}")
    return 0

"""Step `pretrain`: causal LM pretraining of a LLaMA config on text files.

Each non-empty line of the files is tokenized (`<s>` first, `</s>` last), the lines are
concatenated and cut into sequences of `--seq-len` tokens (the short rest is dropped).
Words are counted as BabyLM counts them (whitespace-separated strings, each credited to
the sequence holding its first token), so checkpoints `chck_1M`, `chck_2M`, ... are
saved when the model has seen that many words of the corpus. The tokenised corpus is
cached on disk (`corpus`, `--token-cache`): a second run on the same files and tokenizer
reads it, memory-mapped, instead of tokenising again. Defaults are the poster's
recipe (`RECIPE`, the loop's batch 8): lr 2e-4, 8 epochs, linear schedule, 5,000 warm-up
steps.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from accelerate.utils import set_seed
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerBase

from classit_eval.data.checkpoints import first_line, load_tokenizer
from classit_eval.train import corpus, loop, metadata
from classit_eval.train.common import (
    TrainError,
    babylm_milestones,
    check_text_files,
    file_records,
    load_config,
    parse_words,
)

RECIPE = {"lr": 2e-4, "epochs": 8, "warmup_steps": 5000}  # the poster's; batch 8 is the loop's


def pack(tokenizer: PreTrainedTokenizerBase, files: list[Path],
         seq_len: int) -> tuple[torch.Tensor, list[int]]:
    """Sequences of `seq_len` token ids (n, seq_len) and the words starting in each, in
    memory (what `corpus.prepare` caches on disk, for small corpora and tests)."""
    chunks = list(corpus.encode_files(tokenizer, files))
    ids = np.concatenate([c[0] for c in chunks])
    flags = np.concatenate([c[1] for c in chunks])
    n = len(ids) // seq_len
    check_length(len(ids), seq_len)
    words = flags[: n * seq_len].reshape(n, seq_len).sum(axis=1)
    return torch.from_numpy(ids[: n * seq_len].astype(np.int32)).view(n, seq_len), words.tolist()


def check_length(tokens: int, seq_len: int) -> None:
    if tokens < seq_len:
        raise TrainError(
            f"The corpus gives {tokens} tokens, fewer than one sequence of --seq-len "
            f"{seq_len}. Give more text or a smaller --seq-len."
        )


def corpus_stage(tokenizer: PreTrainedTokenizerBase, files: list[Path], records: list[dict],
                 seq_len: int, cache: Path | None) -> tuple[loop.Stage, corpus.TokenFile]:
    """The corpus as one stage of `seq_len`-token sequences read from the token cache
    (tokenised first on a miss); `records` are the files' `file_records`."""
    tokens = corpus.prepare(tokenizer, files, [r["sha256"] for r in records], cache)
    check_length(len(tokens.tokens), seq_len)
    words = tokens.words(seq_len).tolist()
    stage = loop.Stage("corpus", tokens.sequences(seq_len), words, [seq_len] * len(words),
                       [seq_len - 1] * len(words))
    return stage, tokens


def new_model(config: LlamaConfig, path: Path) -> LlamaForCausalLM:
    """A fresh model of `config` (read from `path`); a value the model cannot be built
    with (a size of 0, an unknown activation) is a TrainError naming the file."""
    try:
        return LlamaForCausalLM(config)
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        raise TrainError(f"Model config {path} does not make a model: {type(err).__name__}: "
                         f"{first_line(err)}. Fix the file, or start from "
                         "models/llama-100m.json.") from err


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
    parser.add_argument("--token-cache", type=Path, default=None,
                        help="folder of tokenised corpora, made once per corpus and tokenizer "
                             f"(default: ${corpus.CACHE_ENV}, else "
                             "<user cache>/classit-eval/tokens)")
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

    started = time.perf_counter()
    records = file_records(files)
    stage, tokens = corpus_stage(tokenizer, files, records, seq_len, args.token_cache)
    words = stage.words
    print(f"corpus: {len(tokens.tokens):,} tokens, {len(words):,} sequences of {seq_len}, "
          f"{sum(words):,} words ({'cached' if tokens.hit else 'tokenised'} in "
          f"{time.perf_counter() - started:.1f} s: {tokens.folder})")
    set_seed(args.seed)
    model = new_model(config, args.config)
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

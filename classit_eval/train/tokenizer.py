"""Step `tokenizer`: a byte-level BPE tokenizer trained on text files.

The tokenizer prepends `<s>` to every text, as LLaMA's does; `</s>` ends documents in
pretraining and replies in instruction tuning; `<pad>` pads batches.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from classit_eval.train import metadata
from classit_eval.train.common import TrainError, check_text_files, iter_lines

SPECIAL_TOKENS = ["<s>", "</s>", "<pad>"]


def train_tokenizer(files: list[Path], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer of (at most) `vocab_size` tokens trained on `files`."""
    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise TrainError(f"--vocab-size {vocab_size} is below the 259 byte and special tokens.")
    files = check_text_files(files)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(iter_lines(files), trainer)
    bos = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    tok.post_processor = processors.Sequence([processors.ByteLevel(trim_offsets=False), bos])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, help="text files (BabyLM .train files)")
    parser.add_argument("--out", type=Path, required=True, help="folder to save the tokenizer")
    parser.add_argument("--vocab-size", type=int, default=16384,
                        help="16384 for the 100M model, 32000 for the 140M (default 16384)")


def run(args: argparse.Namespace) -> int:
    tokenizer = train_tokenizer(args.files, args.vocab_size)
    args.out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(args.out)
    metadata.write(args.out, "tokenizer", files=args.files, vocab_size=len(tokenizer),
                   requested_vocab_size=args.vocab_size)
    print(f"tokenizer of {len(tokenizer)} tokens saved to {args.out}")
    return 0

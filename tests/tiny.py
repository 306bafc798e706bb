"""Tiny real models for tests: a byte-level BPE tokenizer trained on a BabyLM corpus
sample and a small randomly initialised LlamaForCausalLM, saved as a HF checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast


def train_tokenizer(corpus: Path, vocab_size: int = 600, add_bos: bool = True,
                    max_lines: int = 3000) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer; with `add_bos` it prepends <s> as LLaMA's does."""
    lines = corpus.read_text(encoding="utf-8").splitlines()[:max_lines]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(lines, trainer)
    byte_level = processors.ByteLevel(trim_offsets=False)
    if add_bos:
        bos = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
        )
        tok.post_processor = processors.Sequence([byte_level, bos])
    else:
        tok.post_processor = byte_level
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )


def build_tiny_model(out_dir: Path, corpus: Path, add_bos: bool = True, seed: int = 0,
                     hidden: int = 32, layers: int = 2) -> Path:
    """Save a tokenizer and a small random LLaMA to `out_dir` and return it."""
    tokenizer = train_tokenizer(corpus, add_bos=add_bos)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
        num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=2,
        max_position_embeddings=1024, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir

"""Tiny real models for tests: a byte-level BPE tokenizer trained on a BabyLM corpus
sample and a small randomly initialised LlamaForCausalLM, saved as a HF checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import processors
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from classit_eval.train.tokenizer import train_tokenizer


def tokenizer_for_tests(corpus: Path, add_bos: bool = True) -> PreTrainedTokenizerFast:
    """classit-train's byte-level BPE (600 tokens); without `add_bos` no BOS is prepended,
    as with GPT-2's or SmolLM2's tokenizer."""
    tokenizer = train_tokenizer([corpus], vocab_size=600)
    if not add_bos:
        tokenizer.backend_tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return tokenizer


def build_tiny_model(out_dir: Path, corpus: Path, add_bos: bool = True, seed: int = 0,
                     hidden: int = 32, layers: int = 2) -> Path:
    """Save a tokenizer and a small random LLaMA to `out_dir` and return it."""
    tokenizer = tokenizer_for_tests(corpus, add_bos=add_bos)
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

"""Tiny real models for tests: a byte-level BPE tokenizer trained on a BabyLM corpus
sample and a small randomly initialised model (LLaMA, BERT, DeBERTa, T5, BART, a GPT-BERT
stand-in with remote code), saved as a HF checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import processors
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from classit_eval.train.tokenizer import train_tokenizer

# The config of the tiny LLaMA that the training tests pretrain (`classit-train pretrain
# --config`); its vocabulary fits tokenizer_for_tests.
TINY_LLAMA = {
    "model_type": "llama", "vocab_size": 600, "hidden_size": 32, "intermediate_size": 64,
    "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 2,
    "max_position_embeddings": 128, "tie_word_embeddings": False,
}


def write_tiny_config(path: Path, **changes: object) -> Path:
    """TINY_LLAMA, with `changes`, as the JSON file `path`, for `--config`."""
    path.write_text(json.dumps({**TINY_LLAMA, **changes}))
    return path


def tiny_pretrain_argv(text: Path, tokenizer: Path, out: Path, *options: str,
                       positions: int = 128) -> list[str]:
    """`classit-train pretrain` of TINY_LLAMA (`positions` long, its config written beside
    `out`) on `text` with `tokenizer`, logging only at the end, then `options`."""
    config = write_tiny_config(out.parent / "tiny.json", max_position_embeddings=positions)
    return ["pretrain", str(text), "--config", str(config), "--tokenizer", str(tokenizer),
            "--out", str(out), "--log-every", "1000", *options]


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


# -- masked, hybrid and encoder-decoder models (the non-causal backends) --------------------
# style -> (the tokenizer's special tokens, its template around a text)
STYLES = {
    "bert": ({"cls_token": "<s>", "sep_token": "</s>", "mask_token": "[MASK]"}, "<s> $A </s>"),
    "gptbert": ({"cls_token": "<s>", "mask_token": "[MASK]"}, "<s> $A"),
    "bare": ({"mask_token": "[MASK]"}, None),  # no CLS, no BOS: mntp cannot score token 0
    # a BOS the tokenizer never puts first: the official mntp reads token 0 at index -1
    "late_bos": ({"bos_token": "<s>", "eos_token": "</s>", "mask_token": "[MASK]"}, "$A </s>"),
    "nomask": ({"cls_token": "<s>", "sep_token": "</s>"}, "<s> $A </s>"),
    "t5": ({"eos_token": "</s>", "additional_special_tokens": ["<extra_id_0>"]}, "$A </s>"),
    "bart": ({"bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>",
              "mask_token": "<mask>"}, "<s> $A </s>"),
}


def styled_tokenizer(corpus: Path, style: str) -> PreTrainedTokenizerFast:
    """classit-train's byte-level BPE with the special tokens of a model family."""
    specials, template = STYLES[style]
    backend = tokenizer_for_tests(corpus).backend_tokenizer
    extra = [t for k, v in specials.items() for t in (v if isinstance(v, list) else [v])
             if backend.token_to_id(t) is None]
    backend.add_special_tokens(extra)
    steps = [processors.ByteLevel(trim_offsets=False)]
    if template:
        used = sorted({t for t in template.split() if t != "$A"})
        steps.append(processors.TemplateProcessing(
            single=template, special_tokens=[(t, backend.token_to_id(t)) for t in used]))
    backend.post_processor = processors.Sequence(steps)
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", **specials)


def build_tiny_masked(out_dir: Path, corpus: Path, style: str = "bert", arch: str = "bert",
                      seed: int = 0, hidden: int = 32, layers: int = 2,
                      vocab: int | None = None) -> Path:
    """A tokenizer of `style` and a small random encoder (`bert` BertForMaskedLM, `deberta`
    DebertaV2ForMaskedLM), saved to `out_dir`. `vocab` (at least the tokenizer's) gives
    the model a real model's vocabulary size, for benchmarks of the LM head's cost."""
    from transformers import BertConfig, BertForMaskedLM, DebertaV2Config, DebertaV2ForMaskedLM

    tokenizer = styled_tokenizer(corpus, style)
    common = {"vocab_size": max(vocab or 0, len(tokenizer)), "hidden_size": hidden,
              "intermediate_size": 2 * hidden, "num_hidden_layers": layers,
              "num_attention_heads": 2, "max_position_embeddings": 512,
              "pad_token_id": tokenizer.pad_token_id}
    torch.manual_seed(seed)
    if arch == "bert":
        model = BertForMaskedLM(BertConfig(**common))
    else:
        model = DebertaV2ForMaskedLM(DebertaV2Config(**common, relative_attention=True,
                                                     position_buckets=32))
    return _save(out_dir, model, tokenizer)


# A GPT-BERT stand-in: remote code as real GPT-BERT checkpoints ship it (model_type
# gpt_bert, an auto_map into the folder's own .py files), over one set of BERT weights
# that every class loads. Its causal class, like GPT-BERT's, keeps no KV cache and ignores
# position ids and caches it is given.
HYBRID_CODE = {
    "configuration_gpt_bert.py": '''from transformers import BertConfig


class GptBertConfig(BertConfig):
    model_type = "gpt_bert"
''',
    "modeling_gpt_bert.py": '''import copy

from transformers import (BertForMaskedLM, BertForSequenceClassification, BertLMHeadModel,
                          BertModel)
from transformers.modeling_outputs import CausalLMOutput

from .configuration_gpt_bert import GptBertConfig


class GptBertModel(BertModel):
    config_class = GptBertConfig


class GptBertForMaskedLM(BertForMaskedLM):
    config_class = GptBertConfig


class GptBertForSequenceClassification(BertForSequenceClassification):
    config_class = GptBertConfig


class GptBertForCausalLM(BertLMHeadModel):
    config_class = GptBertConfig

    def __init__(self, config):
        config = copy.deepcopy(config)
        config.is_decoder = True  # the same weights, attending causally
        super().__init__(config)

    def forward(self, input_ids, attention_mask=None, **ignored):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           use_cache=False)[0]
        return CausalLMOutput(logits=self.cls(hidden))
''',
}
HYBRID_CLASSES = {"AutoConfig": "configuration_gpt_bert.GptBertConfig",
                  "AutoModel": "modeling_gpt_bert.GptBertModel",
                  "AutoModelForMaskedLM": "modeling_gpt_bert.GptBertForMaskedLM",
                  "AutoModelForCausalLM": "modeling_gpt_bert.GptBertForCausalLM",
                  "AutoModelForSequenceClassification":
                      "modeling_gpt_bert.GptBertForSequenceClassification"}


def build_tiny_hybrid(out_dir: Path, corpus: Path, seed: int = 0, hidden: int = 32,
                      layers: int = 2) -> Path:
    """A GPT-BERT-style checkpoint (`gptbert` tokenizer, HYBRID_CODE) that loads only
    with trust_remote_code=True, as GPT-BERT's do."""
    build_tiny_masked(out_dir, corpus, "gptbert", "bert", seed, hidden, layers)
    for name, text in HYBRID_CODE.items():
        (out_dir / name).write_text(text)
    path = out_dir / "config.json"
    config = json.loads(path.read_text()) | {
        "model_type": "gpt_bert", "architectures": ["GptBertForMaskedLM"],
        "auto_map": HYBRID_CLASSES}
    path.write_text(json.dumps(config, indent=2))
    return out_dir


def build_tiny_seq2seq(out_dir: Path, corpus: Path, style: str = "t5", seed: int = 0,
                       hidden: int = 32, layers: int = 2) -> Path:
    """A tokenizer of `style` and a small random T5 (`t5`) or BART (`bart`)."""
    from transformers import (
        BartConfig,
        BartForConditionalGeneration,
        T5Config,
        T5ForConditionalGeneration,
    )

    tokenizer = styled_tokenizer(corpus, style)
    torch.manual_seed(seed)
    if style == "t5":
        model = T5ForConditionalGeneration(T5Config(
            vocab_size=len(tokenizer), d_model=hidden, d_kv=hidden // 2, d_ff=2 * hidden,
            num_layers=layers, num_heads=2, pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id))
    else:
        model = BartForConditionalGeneration(BartConfig(
            vocab_size=len(tokenizer), d_model=hidden, encoder_layers=layers,
            decoder_layers=layers, encoder_attention_heads=2, decoder_attention_heads=2,
            encoder_ffn_dim=2 * hidden, decoder_ffn_dim=2 * hidden, max_position_embeddings=512,
            pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.eos_token_id,
            forced_eos_token_id=None))
    return _save(out_dir, model, tokenizer)


def _save(out_dir: Path, model, tokenizer) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir

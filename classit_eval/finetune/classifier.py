"""A pretrained backbone with a classification head on one pooled token.

Pooling `last` reads the hidden state of the last non-padding token: under a causal mask
it is the only position that has seen the whole input. `first` reads position 0, as the
official BabyLM pipeline does (right for encoders; for decoders it sees only itself, see
babylm/evaluation-pipeline-2025 issue #38). `auto` is `first` for masked-LM encoders and
GPT-BERT-style hybrids (whose `AutoModel` attends both ways), `last` otherwise.

A model with code of its own (GPT-BERT) loads only with `trust_remote_code`, as in the
official pipeline, which always passes it.
"""

from __future__ import annotations

import os

import torch
from torch import nn
from transformers import AutoModel, PreTrainedTokenizerBase
from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

from classit_eval.data import checkpoints

POOLINGS = ("auto", "last", "first")


def resolve_pooling(pooling: str, model: str | os.PathLike) -> str:
    """`first` or `last`: `auto` becomes `first` for encoders and hybrids, `last` for
    decoders. Read from config.json alone, so no remote code runs to decide it."""
    if pooling not in POOLINGS:
        raise ValueError(f"--pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}.")
    if pooling != "auto":
        return pooling
    config = checkpoints.config_dict(model)
    encoder = (checkpoints.model_kind(config)[0] in ("masked", "hybrid")
               or config.get("model_type") in MODEL_FOR_MASKED_LM_MAPPING_NAMES)
    return "first" if encoder else "last"


def load_tokenizer(model: str | os.PathLike,
                   trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    """The shared loader's tokenizer as the classifier needs it: padding on the right; one
    without a pad token pads with EOS (or token 0): padded positions are masked and never
    pooled, so the id does not matter."""
    return checkpoints.load_tokenizer(model, padding_side="right", pad_with_eos=True,
                                      trust_remote_code=trust_remote_code)


class ClassifierHead(nn.Sequential):
    """LayerNorm, dense + GELU, LayerNorm, dropout, linear: the official head's layout."""

    def __init__(self, hidden: int, num_labels: int, dropout: float = 0.1, eps: float = 1e-5):
        super().__init__(
            nn.LayerNorm(hidden, eps, elementwise_affine=False),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.LayerNorm(hidden, eps, elementwise_affine=False),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_labels),
        )


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """(B, S, D) hidden states -> (B, D): position 0, or each row's last attended position."""
    if pooling == "first":
        return hidden[:, 0]
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    last = (positions * attention_mask.bool()).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


class SequenceClassifier(nn.Module):
    """`AutoModel` backbone + pooled classification head; returns HF-style outputs."""

    def __init__(self, backbone: nn.Module, num_labels: int, pooling: str, dropout: float = 0.1):
        super().__init__()
        if pooling not in ("first", "last"):
            raise ValueError(f"pooling must be 'first' or 'last', not {pooling!r}")
        self.backbone, self.pooling, self.num_labels = backbone, pooling, num_labels
        self.head = ClassifierHead(backbone.config.hidden_size, num_labels, dropout)

    @classmethod
    def from_pretrained(cls, model: str | os.PathLike, num_labels: int, pooling: str,
                        dropout: float = 0.1,
                        trust_remote_code: bool = False) -> SequenceClassifier:
        backbone = checkpoints.load_model(AutoModel, model, dtype=torch.float32,
                                          trust_remote_code=trust_remote_code)
        if getattr(backbone.config, "is_encoder_decoder", False):
            raise ValueError(f"{model} is an encoder-decoder model; only encoders and "
                             "decoders can be fine-tuned here.")
        return cls(backbone, num_labels, resolve_pooling(pooling, model), dropout)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask)[0]
        logits = self.head(pool(hidden, attention_mask, self.pooling))
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = nn.functional.cross_entropy(logits, labels)
        return out

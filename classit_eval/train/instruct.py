"""Step `instruct`: instruction tuning of a pretrained checkpoint with a curriculum.

Each pair becomes one sequence (truncated to `--max-length` tokens):

    <s>User: {prompt}\\nAssistant: {reply}</s>

and by default only the reply tokens (` {reply}</s>`) carry the loss (`--loss all`: every
token). The saved tokenizer gets the same format as its chat template.

Curricula (`--curriculum`), over the `source` field of the pairs:
- `merged`: one stage, the shuffled union of all sources;
- `switch_wiki`: Switchboard first, then Wikipedia; `wiki_switch`: the other order;
- a source name (`switchboard`, `wiki`): that source only.
Every stage is trained for `--epochs` epochs. Defaults are the poster's recipe (`RECIPE`,
the loop's batch 8): lr 2e-5, 10 epochs, 500 warm-up steps, cosine with restarts (one
cosine cycle per stage).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, PreTrainedTokenizerBase

from classit_eval.data.checkpoints import load_model, load_tokenizer
from classit_eval.data.files import DataError, Source, iter_jsonl
from classit_eval.train import loop, metadata
from classit_eval.train.common import TrainError, count_words, file_records
from classit_eval.train.instructions import FIELDS, PAIRS_HINT

PROMPT = "User: {prompt}\nAssistant:"
REPLY = " {reply}"
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}"
    "User: {{ m['content'] }}\nAssistant:{% else %} {{ m['content'] }}{{ eos_token }}"
    "{% endif %}{% endfor %}"
)
SEQUENTIAL = {"switch_wiki": ("switchboard", "wiki"), "wiki_switch": ("wiki", "switchboard")}
RECIPE = {"lr": 2e-5, "epochs": 10, "warmup_steps": 500}  # the poster's; batch 8 is the loop's


def read_pairs(files: list[Path]) -> list[dict]:
    """All pairs of the jsonl files; a bad line is an error naming file and line."""
    pairs = []
    for path in files:
        if not Path(path).is_file():
            raise TrainError(f"Instruction file {path} does not exist: make it with "
                             "`classit-train instructions`.")
        records = iter_jsonl(Source(Path(path)), FIELDS, PAIRS_HINT)
        for number, record in enumerate(records, start=1):
            for key in FIELDS:
                if not isinstance(record[key], str) or not record[key].strip():
                    raise DataError(f"{path}, record {number}: field {key!r} must be a "
                                    f"non-empty string, got {record[key]!r:.40}.")
            pairs.append(record)
    if not pairs:
        raise TrainError(f"No instruction pairs in {', '.join(map(str, files))}.")
    return pairs


def stages_of(curriculum: str, sources: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(stage name, sources) of each stage of a curriculum."""
    valid = ["merged", *SEQUENTIAL, *sources]
    if curriculum == "merged":
        return [("merged", tuple(sources))]
    if curriculum in SEQUENTIAL:
        missing = [s for s in SEQUENTIAL[curriculum] if s not in sources]
        if missing:
            raise TrainError(f"Curriculum {curriculum} needs pairs of source(s) "
                             f"{', '.join(missing)}; the data has {', '.join(sources)}.")
        return [(s, (s,)) for s in SEQUENTIAL[curriculum]]
    if curriculum in sources:
        return [(curriculum, (curriculum,))]
    raise TrainError(f"Unknown curriculum {curriculum!r}: choose one of {', '.join(valid)}.")


def encode(tokenizer: PreTrainedTokenizerBase, pair: dict, max_length: int,
           reply_only: bool) -> tuple[list[int], list[int]] | None:
    """Token ids and labels of a pair, or None when truncation leaves no reply token."""
    prompt = tokenizer(PROMPT.format(prompt=pair["prompt"]))["input_ids"]
    reply = tokenizer(REPLY.format(reply=pair["reply"]), add_special_tokens=False)["input_ids"]
    ids = (prompt + reply + [tokenizer.eos_token_id])[:max_length]
    labels = ([-100] * len(prompt) if reply_only else prompt) + reply + [tokenizer.eos_token_id]
    labels = labels[:max_length]
    return (ids, labels) if any(t != -100 for t in labels[1:]) else None


def collator(pad_id: int):
    def collate(rows: list[tuple[list[int], list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, (ids, labs) in enumerate(rows):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            labels[i, : len(labs)] = torch.tensor(labs)
            mask[i, : len(ids)] = 1
        return {"input_ids": input_ids, "labels": labels, "attention_mask": mask}

    return collate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path,
                        help="instruction pairs (.jsonl from `classit-train instructions`)")
    parser.add_argument("--model", type=Path, required=True, help="pretrained checkpoint folder")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--curriculum", default="merged",
                        help="merged | switch_wiki | wiki_switch | a source name (merged)")
    parser.add_argument("--max-length", type=int, default=512, help="tokens per pair (512)")
    parser.add_argument("--loss", choices=["reply", "all"], default="reply",
                        help="tokens with loss: the reply only (default) or all")
    loop.add_arguments(parser, **RECIPE)


def run(args: argparse.Namespace) -> int:
    options = loop.Options.from_args(args, schedule="cosine_restarts")
    pairs = read_pairs(args.files)
    sources = sorted({p["source"] for p in pairs})
    plan = stages_of(args.curriculum, sources)
    tokenizer = load_tokenizer(args.model, pad_with_eos=True)
    model = load_model(AutoModelForCausalLM, args.model)
    stages, dropped = [], 0
    for name, members in plan:
        chosen = [p for p in pairs if p["source"] in members]
        encoded = [encode(tokenizer, p, args.max_length, args.loss == "reply") for p in chosen]
        kept = [(e, p) for e, p in zip(encoded, chosen, strict=True) if e is not None]
        dropped += len(chosen) - len(kept)
        stages.append(loop.Stage(
            name, [e for e, _ in kept],
            [count_words(p["prompt"]) + count_words(p["reply"]) for _, p in kept],
            [len(e[0]) for e, _ in kept],
            [sum(label != -100 for label in e[1][1:]) for e, _ in kept],
        ))
    if dropped:
        print(f"dropped {dropped} pairs whose prompt fills --max-length {args.max_length}")
    tokenizer.chat_template = CHAT_TEMPLATE
    base = metadata.read(args.model)
    records = file_records(args.files)
    fields = {
        "base_model": str(Path(args.model).resolve()), "base": base,
        "model_size": base.get("model_size")
        or metadata.model_size(sum(p.numel() for p in model.parameters())),
        "curriculum": args.curriculum,
        "stages": [{"name": s.name, "pairs": len(s.examples), "words": sum(s.words)}
                   for s in stages],
        "loss": args.loss, "max_length": args.max_length,
        "prompt_format": PROMPT + REPLY + "</s>", **options.recipe(),
    }

    def save(trained: torch.nn.Module, folder: Path, progress: dict) -> None:
        trained.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        metadata.write(folder, "instruct", files=records, **fields, **progress)

    progress = loop.train(model, stages, collator(tokenizer.pad_token_id), options, save)
    print(f"instruction-tuned ({args.curriculum}) {progress['step']} steps: {args.out}")
    return 0

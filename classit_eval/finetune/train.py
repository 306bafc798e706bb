"""Fine-tune one task with the HF Trainer: epochs, validation, best epoch, checkpoints.

The Trainer does what it does well: AdamW, the cosine schedule with warmup, length-grouped
batches padded per batch, a progress bar, a checkpoint per epoch and resuming from it, and
data-parallel runs under `accelerate launch` / `torchrun`.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef
from torch.utils.data import SequentialSampler
from transformers import (
    DataCollatorWithPadding,
    EvalPrediction,
    PreTrainedTokenizerBase,
    Trainer,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

from classit_eval import options
from classit_eval.data.files import write_atomically
from classit_eval.errors import OptionError, ResumeStateError
from classit_eval.finetune.classifier import POOLINGS, SequenceClassifier, load_tokenizer
from classit_eval.finetune.tasks import Example, Task
from classit_eval.options import check_options, option

log = logging.getLogger(__name__)


@dataclass
class Settings:
    """Fine-tuning hyper-parameters, declared once (classit_eval.options): each is an option
    of `classit-eval finetune`. None means the task's official default."""

    learning_rate: float = option("peak learning rate", 3e-5, type=options.positive_float,
                                  above=0)
    weight_decay: float = option("AdamW weight decay", 0.01,
                                 type=options.non_negative_float, at_least=0)
    batch_size: int | None = option(
        "train batch size per device (default: 16 boolq/multirc, 32 others)", None,
        type=options.positive_int, at_least=1)
    eval_batch_size: int = option("evaluation batch size per device", 64,
                                  type=options.positive_int, at_least=1)
    epochs: float | None = option("default: 30 wsc, 10 others", None,
                                  type=options.positive_float, above=0)
    max_length: int = option("tokens per example (truncation)", 512, type=options.positive_int,
                             at_least=1)
    seed: int = option("random seed (the head's weights, the dropout, the batch order)", 42,
                       type=options.non_negative_int, at_least=0)
    warmup_ratio: float = option("share of the steps spent warming up, in [0, 1)", 0.06,
                                 type=options.fraction, at_least=0)
    min_lr_ratio: float = option("the cosine schedule ends at this fraction of the learning "
                                 "rate", 0.1, type=options.ratio, at_least=0)
    dropout: float = option("classifier head dropout, in [0, 1)", 0.1, type=options.fraction,
                            at_least=0)
    pooling: str = option("token read by the head: auto = first for encoders and hybrids "
                          "(GPT-BERT), last for decoders", "auto", choices=POOLINGS)
    valid_metric: str | None = option(
        "metric choosing the best epoch (default: f1 mrpc/qqp, acc others)", None,
        choices=("acc", "f1", "mcc"))
    max_train_examples: int | None = option("train on the first N examples only (quick runs)",
                                            None, type=options.positive_int, at_least=1)
    group_by_length: bool = option("random batches instead of length-grouped ones", True,
                                   flag="--no-group-by-length")
    trust_remote_code: bool = False  # how the model loads (an option of the command, with
    # its alias); kept here so that the results record it

    def __post_init__(self) -> None:
        check_options(self)

    def for_task(self, task: Task) -> dict:
        """These settings with the task's defaults filled in."""
        resolved = asdict(self)
        # `is None`, not `or`: a 0 given through the API must not become the default
        defaults = {"batch_size": task.batch_size, "epochs": task.epochs,
                    "valid_metric": task.valid_metric}
        for key, default in defaults.items():
            if resolved[key] is None:
                resolved[key] = default
        return resolved


@dataclass
class Finetuned:
    """What one task's fine-tuning produced."""

    predictions: list[int]
    labels: list[int]
    metrics: dict[str, float]
    best_epoch: float | None
    settings: dict
    pooling: str
    epochs: list[dict] = field(default_factory=list)
    train_examples: int = 0
    model_info: dict = field(default_factory=dict)
    tokenizer_info: dict = field(default_factory=dict)
    main_process: bool = True


def score(predictions, labels, metrics: tuple[str, ...]) -> dict[str, float]:
    """acc / f1 (binary, positive class 1) / mcc from scikit-learn."""
    functions = {"acc": accuracy_score, "f1": f1_score, "mcc": matthews_corrcoef}
    return {name: float(functions[name](labels, predictions)) for name in metrics}


def encode(examples: list[Example], tokenizer: PreTrainedTokenizerBase,
           max_length: int) -> list[dict]:
    """Tokenize each example (as a pair when it has a second text), unpadded."""
    pairs = all(e.text_b is not None for e in examples)
    encoded = tokenizer(
        [e.text_a for e in examples],
        [e.text_b for e in examples] if pairs else None,
        truncation=True, max_length=max_length,
    )
    return [
        {"input_ids": ids, "attention_mask": mask, "labels": e.label}
        for ids, mask, e in zip(encoded["input_ids"], encoded["attention_mask"], examples,
                                strict=True)
    ]


def training_args(output_dir: Path, s: dict, evaluate: bool = True) -> TrainingArguments:
    """TrainingArguments for resolved settings `s` (see `Settings.for_task`)."""
    per_epoch = "epoch" if evaluate else "no"
    return TrainingArguments(
        output_dir=str(output_dir),
        # without a GPU, the Trainer joins a torchrun / accelerate process group only on the CPU
        use_cpu=not torch.cuda.is_available(),
        learning_rate=s["learning_rate"],
        weight_decay=s["weight_decay"],
        per_device_train_batch_size=s["batch_size"],
        per_device_eval_batch_size=s["eval_batch_size"],
        num_train_epochs=s["epochs"],
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr_rate": s["min_lr_ratio"]},
        warmup_steps=s["warmup_ratio"],
        train_sampling_strategy="group_by_length" if s["group_by_length"] else "random",
        eval_strategy=per_epoch,
        save_strategy=per_epoch,
        logging_strategy="epoch",
        load_best_model_at_end=evaluate,
        metric_for_best_model=s["valid_metric"],
        greater_is_better=True,
        save_total_limit=1,
        seed=s["seed"],
        data_seed=s["seed"],
        report_to="none",
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
    )


class _Trainer(Trainer):
    def _get_eval_sampler(self, eval_dataset):
        """File order: with length grouping the Trainer would also reorder evaluation,
        and `predict` would return predictions out of the examples' order."""
        return SequentialSampler(eval_dataset) if self.args.world_size <= 1 else None


def make_trainer(model: SequenceClassifier, tokenizer: PreTrainedTokenizerBase,
                 args: TrainingArguments, train: list[dict], valid: list[dict] | None,
                 metrics: tuple[str, ...], pad_to_multiple_of: int | None = 8) -> Trainer:
    """A Trainer padding each batch to its longest example (rounded up to a multiple of 8)."""
    def compute_metrics(p: EvalPrediction) -> dict[str, float]:
        return score(np.argmax(p.predictions, axis=-1), p.label_ids, metrics)

    return _Trainer(
        model=model, args=args, train_dataset=train, eval_dataset=valid,
        data_collator=DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of),
        processing_class=tokenizer, compute_metrics=compute_metrics,
    )


def _checkpoints(folder: Path) -> list[Path]:
    return sorted(folder.glob("checkpoint-*")) if folder.is_dir() else []


SETTINGS_FILE = "settings.json"  # beside a task's checkpoints: what they were trained with
# What a resumed task cannot change: its checkpoints continue this schedule, these batches
FIXED_ON_RESUME = ("model", "train_examples",
                   *(key for key in Settings.__dataclass_fields__ if key != "eval_batch_size"))


def resume_record(model_path: str, s: dict, train_examples: int) -> dict:
    """The settings of `FIXED_ON_RESUME` for resolved settings `s`."""
    given = {"model": str(model_path), "train_examples": train_examples, **s}
    return {key: given[key] for key in FIXED_ON_RESUME}


def train_size(train: list[Example], s: dict) -> int:
    """How many examples a task trains on (`--max-train-examples` cuts the file)."""
    return min(len(train), s["max_train_examples"] or len(train))


def check_resume(task: Task, checkpoint_dir: Path, record: dict) -> None:
    """A ResumeStateError naming every setting of `record` that differs from the one the
    checkpoints of `checkpoint_dir` were trained with (`--resume --epochs 2` on a 30-epoch
    run would train on within the 30-epoch schedule and record 2). Checkpoints saved
    without a settings file are checked on their epochs (the Trainer's own state)."""
    existing = _checkpoints(checkpoint_dir)
    if not existing:
        return
    saved_file = checkpoint_dir / SETTINGS_FILE
    try:
        if saved_file.is_file():
            saved = json.loads(saved_file.read_text(encoding="utf-8"))
        else:
            state = Path(get_last_checkpoint(str(checkpoint_dir))) / "trainer_state.json"
            saved = {"epochs": json.loads(state.read_text(encoding="utf-8"))["num_train_epochs"]}
        if not isinstance(saved, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ResumeStateError(
            f"{task.name}: cannot tell what the checkpoints in {checkpoint_dir} were trained "
            f"with ({err}); leave out --resume to start the task over.") from None
    names = {"model": "--model", "train_examples": "the train examples"}
    changed = [f"{names.get(key, '--' + key.replace('_', '-'))} {record[key]} "
               f"(saved: {saved[key]})"
               for key in record if key in saved and saved[key] != record[key]]
    if changed:
        raise ResumeStateError(
            f"{task.name}: --resume continues the checkpoints in {checkpoint_dir}, trained "
            f"with other settings; this run has {'; '.join(changed)}. Give the saved "
            "values, or leave out --resume to start the task over.")


def _save_record(checkpoint_dir: Path, record: dict) -> None:
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(checkpoint_dir / SETTINGS_FILE, json.dumps(record, indent=1) + "\n")


def finetune(model_path: str, task: Task, train: list[Example], valid: list[Example],
             settings: Settings, checkpoint_dir: Path, resume: bool = False) -> Finetuned:
    """Fine-tune `model_path` on `train`, keep the best epoch on `valid`, predict `valid`."""
    s = settings.for_task(task)
    if s["valid_metric"] not in task.metrics:
        raise OptionError(f"--valid-metric {s['valid_metric']} is not reported for {task.name}; "
                         f"choose one of {', '.join(task.metrics)}.")
    train = train[: train_size(train, s)]
    record = resume_record(model_path, s, len(train))
    if resume:
        check_resume(task, checkpoint_dir, record)
    set_seed(s["seed"])
    tokenizer = load_tokenizer(model_path, s["trust_remote_code"])
    model = SequenceClassifier.from_pretrained(model_path, task.num_labels, s["pooling"],
                                               s["dropout"], s["trust_remote_code"])
    existing = _checkpoints(checkpoint_dir)
    if resume and not existing:
        log.warning("%s: --resume given but no checkpoint in %s; starting from scratch.",
                    task.name, checkpoint_dir)
    elif existing and not resume:
        log.warning("%s: removing %d old checkpoint(s) in %s (pass --resume to continue them).",
                    task.name, len(existing), checkpoint_dir)
        for old in existing:
            shutil.rmtree(old)
    trainer = make_trainer(
        model, tokenizer, training_args(checkpoint_dir, s),
        encode(train, tokenizer, s["max_length"]), encode(valid, tokenizer, s["max_length"]),
        task.metrics,
    )
    if trainer.is_world_process_zero():
        _save_record(checkpoint_dir, record)
    trainer.train(resume_from_checkpoint=bool(resume and existing))
    output = trainer.predict(trainer.eval_dataset)
    predictions = np.argmax(output.predictions, axis=-1).tolist()
    labels = [e.label for e in valid]
    if output.label_ids.tolist() != labels:
        raise RuntimeError(f"{task.name}: predictions came back out of the validation order.")
    evals = [entry for entry in trainer.state.log_history if "eval_loss" in entry]
    best = max(evals, key=lambda e: e[f"eval_{s['valid_metric']}"], default=None)
    return Finetuned(
        predictions=predictions, labels=labels,
        metrics=score(predictions, labels, task.metrics),
        best_epoch=best["epoch"] if best else None, settings=s, pooling=model.pooling,
        epochs=[{k.removeprefix("eval_"): v for k, v in e.items()
                 if k.startswith("eval_") and "runtime" not in k and "per_second" not in k}
                | {"epoch": e["epoch"]} for e in evals],
        train_examples=len(train),
        model_info={"model_num_parameters": sum(p.numel() for p in model.parameters()),
                    "model_dtype": str(next(model.parameters()).dtype)},
        tokenizer_info={
            f"tokenizer_{kind}_token": [getattr(tokenizer, f"{kind}_token"),
                                        str(getattr(tokenizer, f"{kind}_token_id"))]
            for kind in ("pad", "eos", "bos")
        } | {"eot_token_id": tokenizer.eos_token_id, "max_length": s["max_length"]},
        main_process=trainer.is_world_process_zero(),
    )

"""The training loop shared by `pretrain` and `instruct`: plain PyTorch on accelerate.

Data comes as stages (one for pretraining and for a merged curriculum, one per source for
a sequential curriculum), each trained for some epochs. The order of all batches is fixed
up front from the seed: every epoch is a seeded permutation of its stage's examples,
cut into global batches of `batch_size x processes`; process `r` trains on the `r`-th
share of each. A run resumed at step `s` therefore sees exactly the batches an
uninterrupted run sees from step `s` on, and `accelerator.save_state` / `load_state`
restore weights, optimizer, schedule and random states.

Run under `accelerate launch` or `torchrun` for several devices or nodes, unchanged.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.optim.lr_scheduler import LambdaLR

from classit_eval.train.common import TrainError, words_label

RESUME_DIR = "resume"


@dataclass
class Stage:
    """Examples trained for `epochs` epochs; `words`/`tokens` give each example's size."""

    name: str
    examples: Sequence
    words: Sequence[int]
    tokens: Sequence[int]
    epochs: int


@dataclass
class Options:
    out: Path
    lr: float
    batch_size: int  # per process
    warmup_steps: int
    schedule: str  # "linear" or "cosine_restarts" (one cosine cycle per stage)
    seed: int = 42
    save_every_steps: int = 1000
    resume: bool = False
    milestones: Sequence[int] = field(default_factory=list)  # word counts to save at
    max_steps: int | None = None
    max_grad_norm: float = 1.0
    weight_decay: float = 0.0
    mixed_precision: str = "no"
    cpu: bool = False
    log_every: int = 50


Batch = tuple[int, list[int]]  # (stage index, example indices of the global batch)


def plan(stages: Sequence[Stage], global_batch: int, seed: int) -> list[Batch]:
    """Every global batch of the run, in order (a short last batch is dropped)."""
    batches: list[Batch] = []
    for s, stage in enumerate(stages):
        for epoch in range(stage.epochs):
            generator = torch.Generator().manual_seed(seed * 100_003 + s * 1009 + epoch)
            order = torch.randperm(len(stage.examples), generator=generator).tolist()
            full = len(order) - len(order) % global_batch
            batches += [(s, order[i : i + global_batch]) for i in range(0, full, global_batch)]
    return batches


def lr_lambda(options: Options, batches: Sequence[Batch]) -> Callable[[int], float]:
    """Linear warm-up, then linear decay to 0, or a cosine from 1 to 0 within each stage."""
    total, warmup = len(batches), options.warmup_steps
    stage_start = {}
    stage_end = {}
    for step, (s, _) in enumerate(batches):
        stage_start.setdefault(s, step)
        stage_end[s] = step + 1

    def factor(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        if options.schedule == "linear":
            return max(0.0, (total - step) / max(1, total - warmup))
        s = batches[min(step, total - 1)][0]
        start = max(stage_start[s], warmup)
        progress = (step - start) / max(1, stage_end[s] - start)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def _latest_state(out: Path) -> Path | None:
    """The newest complete resume state (its progress.json is written last)."""
    states = [p.parent for p in (out / RESUME_DIR).glob("state_*/progress.json")]
    return max(states, key=lambda p: int(p.name.split("_")[1]), default=None)


def train(
    model: torch.nn.Module,
    stages: Sequence[Stage],
    collate: Callable[[list], dict[str, torch.Tensor]],
    options: Options,
    save_model: Callable[[torch.nn.Module, Path, dict], None],
) -> dict:
    """Train `model`; save HF checkpoints at word milestones and at the end.

    `save_model(model, folder, progress)` writes a loadable checkpoint (weights, tokenizer,
    metadata); it is called on the main process only. Returns the final progress record.
    """
    # accelerate runs several CPU processes (gloo) only when told cpu=True
    cpu = options.cpu or not _has_accelerator()
    accelerator = Accelerator(cpu=cpu, mixed_precision=options.mixed_precision)
    set_seed(options.seed)
    world, rank = accelerator.num_processes, accelerator.process_index
    batches = plan(stages, options.batch_size * world, options.seed)
    if options.max_steps is not None:
        batches = batches[: options.max_steps]
    if not batches:
        sizes = ", ".join(f"{s.name}: {len(s.examples)}" for s in stages)
        raise TrainError(
            f"Not enough data for one batch of {options.batch_size * world} examples ({sizes}). "
            "Give more data or a smaller --batch-size (or --seq-len)."
        )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=options.lr, weight_decay=options.weight_decay
    )
    scheduler = LambdaLR(optimizer, lr_lambda(options, batches))
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(scheduler)

    progress = {"step": 0, "words_seen": 0, "tokens_seen": 0, "milestone": 0,
                "total_steps": len(batches), "processes": world}
    state = _latest_state(options.out)
    if options.resume and state is not None:
        accelerator.load_state(str(state))
        progress.update(json.loads((state / "progress.json").read_text()))
        accelerator.print(f"resumed from {state} at step {progress['step']}/{len(batches)}")
    elif state is not None:
        raise TrainError(
            f"{options.out} holds an unfinished run ({state}). Pass --resume to continue it, "
            "or choose another --out."
        )
    elif options.resume:
        accelerator.print(f"--resume: no saved state in {options.out}, starting from scratch")

    model.train()
    started, tokens_at_start = time.perf_counter(), progress["tokens_seen"]
    for step in range(progress["step"], len(batches)):
        s, indices = batches[step]
        stage = stages[s]
        batch = collate([stage.examples[i] for i in indices[rank::world]])
        batch = {key: value.to(accelerator.device) for key, value in batch.items()}
        loss = model(**batch).loss
        accelerator.backward(loss)
        if options.max_grad_norm:
            accelerator.clip_grad_norm_(model.parameters(), options.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

        progress["step"] = step + 1
        progress["words_seen"] += sum(stage.words[i] for i in indices)
        progress["tokens_seen"] += sum(stage.tokens[i] for i in indices)
        progress["stage"] = stage.name
        milestones = options.milestones
        while progress["milestone"] < len(milestones) and (
            progress["words_seen"] >= milestones[progress["milestone"]]
        ):
            label = words_label(milestones[progress["milestone"]])
            progress["milestone"] += 1
            _save_model(accelerator, model, options.out / label, progress, save_model)
        if step + 1 == len(batches) or (step + 1) % options.log_every == 0:
            rate = (progress["tokens_seen"] - tokens_at_start) / (time.perf_counter() - started)
            accelerator.print(
                f"step {step + 1}/{len(batches)} {stage.name} loss {loss.item():.4f} "
                f"lr {scheduler.get_last_lr()[0]:.2e} words {progress['words_seen']:,} "
                f"tokens/s {rate:,.0f}"
            )
        if options.save_every_steps and (step + 1) % options.save_every_steps == 0 and (
            step + 1 < len(batches)
        ):
            _save_state(accelerator, options.out, progress)

    progress["seconds"] = time.perf_counter() - started
    _save_model(accelerator, model, options.out, progress, save_model)
    if accelerator.is_main_process:
        shutil.rmtree(options.out / RESUME_DIR, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return progress


def _has_accelerator() -> bool:
    """True when torch sees a GPU (or other accelerator) device."""
    api = getattr(torch, "accelerator", None)  # torch >= 2.6
    return api.current_accelerator() is not None if api else torch.cuda.is_available()


def _save_model(accelerator: Accelerator, model, folder: Path, progress: dict, save) -> None:
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        folder.mkdir(parents=True, exist_ok=True)
        save(accelerator.unwrap_model(model), folder, dict(progress))
    accelerator.wait_for_everyone()


def _save_state(accelerator: Accelerator, out: Path, progress: dict) -> None:
    """Save a resume state; progress.json, written last, marks it complete."""
    folder = out / RESUME_DIR / f"state_{progress['step']}"
    accelerator.save_state(str(folder))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (folder / "progress.json").write_text(json.dumps(progress))
        for old in (out / RESUME_DIR).glob("state_*"):
            if old != folder:  # unmark it first: a kill mid-removal leaves no half state
                (old / "progress.json").unlink(missing_ok=True)
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()

"""The training loop shared by `pretrain` and `instruct`: plain PyTorch on accelerate.

Data comes as stages (one for pretraining and for a merged curriculum, one per source for
a sequential curriculum), each trained for `epochs` epochs. The order of all batches is
fixed up front from the seed: every epoch is a seeded permutation of its stage's examples,
cut into global batches of `batch_size x grad_accum x processes`, one per optimizer step;
process `r` trains on the `r`-th share of each, in `grad_accum` micro-batches of
`batch_size`. Every label token of a global batch weighs the same in the loss however the
batch is split, so `--grad-accum 4 --batch-size 2` gives the weights of `--batch-size 8`
(and 2 processes those of one with twice the batch). A run resumed at step `s` sees
exactly the batches an uninterrupted run sees from step `s` on:
`accelerator.save_state` / `load_state` restore weights, optimizer and random states
(safetensors and `weights_only` torch files: nothing is unpickled), and the schedule is
rebuilt from the step.

Speed without a framework in the way: bf16 autocast by default on a GPU, the model's
forward and loss `torch.compile`d on a GPU (`--compile`), fused AdamW, PyTorch's SDPA
attention (flash kernels on a GPU), the next step's micro-batches collated (into pinned
memory on a GPU) by a thread while this step runs, and no host synchronisation in a step:
the loss weights are known up front, the loss is read (`.item()`) only when logged.

Run under `accelerate launch` or `torchrun` for several devices or nodes, unchanged.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import pickle
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.optim.lr_scheduler import LambdaLR

from classit_eval.data.checkpoints import damaged_file, first_line
from classit_eval.errors import ResumeStateError
from classit_eval.options import add_options, check_options, option, settings_from
from classit_eval.train.common import TrainError, words_label

RESUME_DIR = "resume"
SCHEDULES = ("linear", "cosine_restarts")
KEEP_STATES = 2  # resume states kept: when the newest is damaged, the one before it resumes


@dataclass
class Stage:
    """Examples trained one after another; `words`/`tokens` give each example's size and
    `labels` its tokens that carry a loss (the shifted labels that are not -100)."""

    name: str
    examples: Sequence
    words: Sequence[int]
    tokens: Sequence[int]
    labels: Sequence[int]


@dataclass
class Options:
    """The loop's configuration, declared once.

    Every `option` field (classit_eval.options) is a command-line option of `pretrain` and
    `instruct` (`add_arguments`), is checked here when the options are made, and is
    recorded in the metadata of every checkpoint (`recipe`). lr, epochs and warm-up have no
    default here: each step gives its own recipe's.
    """

    out: Path
    schedule: str  # "linear", or "cosine_restarts": one cosine cycle per stage
    lr: float = option("peak learning rate", above=0)
    epochs: int = option("epochs over each stage", at_least=1)
    warmup_steps: int = option("optimizer steps of linear warm-up", at_least=0)
    batch_size: int = option("examples per micro-batch and process", 8, at_least=1)
    grad_accum: int = option("micro-batches per optimizer step; the global batch is "
                             "batch-size x grad-accum x processes", 1, at_least=1)
    weight_decay: float = option("AdamW weight decay", 0.0, at_least=0)
    max_grad_norm: float = option("clip the gradient norm to this (0: no clipping)", 1.0,
                                  at_least=0)
    seed: int = option("seed of the initial weights and of the batch order", 42)
    max_steps: int | None = option("stop after N optimizer steps", None, at_least=1)
    save_every_steps: int = option("save a resume state every N optimizer steps (0: never)",
                                   1000, at_least=0)
    resume: bool = option("continue from the last resume state in --out", False)
    mixed_precision: str = option("autocast precision; auto: bf16 on a GPU that has it, else no",
                                  "auto", choices=("auto", "no", "fp16", "bf16"))
    compile: str = option("torch.compile the forward and loss; auto: on when training on a GPU",
                          "auto", choices=("auto", "on", "off"))
    cpu: bool = option("train on the CPU even with a GPU", False)
    log_every: int = option("print progress every N optimizer steps", 50, at_least=1)
    milestones: Sequence[int] = field(default_factory=list)  # word counts to save at

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise TrainError(f"Unknown schedule {self.schedule!r}: one of {', '.join(SCHEDULES)}.")
        check_options(self, TrainError)
        # "auto" is resolved here, so that the metadata records what the run did
        gpu = not self.cpu and torch.cuda.is_available()
        if self.mixed_precision == "auto":
            self.mixed_precision = "bf16" if gpu and torch.cuda.is_bf16_supported() else "no"
        if self.compile == "auto":
            self.compile = "on" if gpu else "off"

    @classmethod
    def from_args(cls, args, **fixed) -> Options:
        """The options of parsed arguments (see `add_arguments`), plus what the step fixes."""
        return settings_from(cls, args, out=args.out, **fixed)

    def recipe(self) -> dict:
        """What the metadata records: every field but the output folder and `--resume`."""
        return {k: v for k, v in asdict(self).items() if k not in ("out", "resume")}


def add_arguments(parser: argparse.ArgumentParser, **defaults: Any) -> None:
    """Add a command-line option for each `option` field of `Options`; `defaults` are the
    step's own (`lr=2e-4, epochs=8, warmup_steps=5000` for `pretrain`)."""
    add_options(parser, Options, **defaults)


Batch = tuple[int, list[int]]  # (stage index, example indices of the global batch)


def plan(stages: Sequence[Stage], epochs: int, global_batch: int, seed: int) -> list[Batch]:
    """Every global batch of the run, in order (a short last batch is dropped)."""
    batches: list[Batch] = []
    for s, stage in enumerate(stages):
        for epoch in range(epochs):
            generator = torch.Generator().manual_seed(seed * 100_003 + s * 1009 + epoch)
            order = torch.randperm(len(stage.examples), generator=generator).tolist()
            full = len(order) - len(order) % global_batch
            batches += [(s, order[i : i + global_batch]) for i in range(0, full, global_batch)]
    return batches


def lr_lambda(options: Options, batches: Sequence[Batch]) -> Callable[[int], float]:
    """Linear warm-up, then linear decay to 0, or a cosine from 1 to 0 within each stage."""
    total, warmup = len(batches), options.warmup_steps
    stage_start: dict[int, int] = {}
    stage_end: dict[int, int] = {}
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


def summed_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The cross-entropy summed over the batch's label tokens (label -100: no loss).

    A sum, not a mean, so that the caller can weigh every token of the global batch the
    same. Labels are the inputs, shifted here as the HF causal LMs do.
    """
    inputs = {key: value for key, value in batch.items() if key != "labels"}
    logits = model(**inputs, use_cache=False).logits
    targets = torch.nn.functional.pad(batch["labels"][:, 1:], (0, 1), value=-100)
    return torch.nn.functional.cross_entropy(
        logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100, reduction="sum"
    )


def train(
    model: torch.nn.Module,
    stages: Sequence[Stage],
    collate: Callable[[list], dict[str, torch.Tensor]],
    options: Options,
    save_model: Callable[[torch.nn.Module, Path, dict], None],
) -> dict:
    """Train `model`; save HF checkpoints at word milestones and at the end.

    `collate(examples)` gives a causal-LM batch with `labels` (on the CPU; it runs in a
    thread, one step ahead). `save_model(model, folder, progress)` writes a loadable
    checkpoint (weights, tokenizer, metadata); it is called on the main process only.
    Returns the final progress record.
    """
    # accelerate runs several CPU processes (gloo) only when told cpu=True
    cpu = options.cpu or not _has_accelerator()
    accelerator = Accelerator(cpu=cpu, mixed_precision=options.mixed_precision)
    set_seed(options.seed)
    world, rank, device = accelerator.num_processes, accelerator.process_index, accelerator.device
    size, micro = options.batch_size, options.grad_accum
    global_batch = size * micro * world
    batches = plan(stages, options.epochs, global_batch, options.seed)
    for stage in stages:
        if 0 < len(stage.examples) < global_batch:
            accelerator.print(f"warning: stage {stage.name} has {len(stage.examples)} examples, "
                              f"fewer than one global batch of {global_batch}: it is not trained")
    if options.max_steps is not None:
        batches = batches[: options.max_steps]
    if not batches:
        sizes = ", ".join(f"{s.name}: {len(s.examples)}" for s in stages)
        raise TrainError(
            f"Not enough data for one global batch of {global_batch} examples ({sizes}). "
            "Give more data or a smaller --batch-size or --grad-accum (or --seq-len)."
        )
    adamw = torch.optim.AdamW(
        model.parameters(), lr=options.lr, weight_decay=options.weight_decay, fused=True
    )
    for group in adamw.param_groups:  # the schedule's base, also after a resume
        group["initial_lr"] = options.lr
    model, optimizer = accelerator.prepare(model, adamw)

    progress = {"step": 0, "words_seen": 0, "tokens_seen": 0, "milestone": 0,
                "total_steps": len(batches), "processes": world, "global_batch": global_batch}
    state = _latest_state(options.out)
    if options.resume and state is not None:
        progress.update(_load_state(accelerator, state, options, global_batch))
        accelerator.print(f"resumed from {state} at step {progress['step']}/{len(batches)}")
    elif state is not None:
        raise TrainError(
            f"{options.out} holds an unfinished run ({state}). Pass --resume to continue it, "
            "or choose another --out."
        )
    elif options.resume:
        accelerator.print(f"--resume: no saved state in {options.out}, starting from scratch")

    # The schedule is a function of the step: made here at the step the run starts from,
    # never saved (accelerate would pickle it, and a pickle in a state folder runs code)
    scheduler = LambdaLR(adamw, lr_lambda(options, batches), last_epoch=progress["step"] - 1)
    loss_of = torch.compile(summed_loss) if options.compile == "on" else summed_loss

    def micro_batches(step: int) -> list[dict[str, torch.Tensor]]:
        """This process's micro-batches of a step, collated (and pinned, on a GPU)."""
        s, indices = batches[step]
        share = indices[rank::world]
        parts = [collate([stages[s].examples[i] for i in share[j : j + size]])
                 for j in range(0, len(share), size)]
        if device.type == "cuda":
            parts = [{key: value.pin_memory() for key, value in p.items()} for p in parts]
        return parts

    model.train()
    started, tokens_at_start = time.perf_counter(), progress["tokens_seen"]
    ahead = ThreadPoolExecutor(max_workers=1)  # collates step + 1 while step runs
    upcoming = ahead.submit(micro_batches, progress["step"])
    for step in range(progress["step"], len(batches)):
        parts = upcoming.result()
        if step + 1 < len(batches):
            upcoming = ahead.submit(micro_batches, step + 1)
        s, indices = batches[step]
        stage = stages[s]
        # loss = sum over the global batch's label tokens / their count (known up front: no
        # device sync); DDP averages the processes' gradients, hence the factor `world`
        weight = world / max(1, sum(stage.labels[i] for i in indices))
        step_loss = torch.zeros((), device=device)
        for j, part in enumerate(parts):
            part = {key: value.to(device, non_blocking=True) for key, value in part.items()}
            last = j == len(parts) - 1  # gradients are synchronised once, with the last part
            with contextlib.nullcontext() if last else accelerator.no_sync(model):
                loss = loss_of(model, part) * weight
                accelerator.backward(loss)
            step_loss += loss.detach()
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
            mean_loss = accelerator.reduce(step_loss, "mean").item()
            rate = (progress["tokens_seen"] - tokens_at_start) / (time.perf_counter() - started)
            accelerator.print(
                f"step {step + 1}/{len(batches)} {stage.name} loss {mean_loss:.4f} "
                f"lr {scheduler.get_last_lr()[0]:.2e} words {progress['words_seen']:,} "
                f"tokens/s {rate:,.0f}"
            )
        if options.save_every_steps and (step + 1) % options.save_every_steps == 0 and (
            step + 1 < len(batches)
        ):
            _save_state(accelerator, options, progress)

    ahead.shutdown()
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


def _complete_states(out: Path) -> list[Path]:
    """The complete resume states (their progress.json is written last), oldest first."""
    states = [p.parent for p in (out / RESUME_DIR).glob("state_*/progress.json")]
    return sorted(states, key=lambda p: int(p.name.split("_")[1]))


def _latest_state(out: Path) -> Path | None:
    states = _complete_states(out)
    return states[-1] if states else None


def _load_state(accelerator: Accelerator, state: Path, options: Options,
                global_batch: int) -> dict:
    """Restore a resume state and return its progress; a damaged state, or one saved with
    other options, is a ResumeStateError that names it and the way out.

    Nothing in it is unpickled: accelerate loads the weights from safetensors and the
    optimizer and random states with `torch.load(weights_only=True)`; a custom-object
    pickle (`custom_checkpoint_<n>.pkl`, which accelerate would load unsafely) is refused."""
    out = options.out
    earlier = [p for p in _complete_states(out) if p != state]
    way_out = (f"Delete it and run again with --resume to continue from {earlier[-1]}"
               if earlier else
               f"Delete {out / RESUME_DIR} and run again without --resume to start over")
    try:
        saved = json.loads((state / "progress.json").read_text(encoding="utf-8"))
        int(saved["step"])  # a record of the step it was saved at
    except (OSError, ValueError, KeyError, TypeError):
        raise ResumeStateError(f"Resume state {state} is corrupt or incomplete: its "
                               f"progress.json is unreadable. {way_out}.") from None
    if saved.get("global_batch", global_batch) != global_batch:
        raise ResumeStateError(
            f"Resume state {state} was saved with a global batch of {saved['global_batch']} "
            f"examples; this run has {global_batch} (batch size x grad accum x processes). "
            "Resume with the same options, or start over in another --out."
        )
    _check_recipe(state, saved.pop("recipe", None), options)
    pickles = sorted(p.name for p in state.glob("custom_checkpoint_*.pkl"))
    if pickles:
        raise ResumeStateError(
            f"Resume state {state} holds {', '.join(pickles)}, a pickle that could run code "
            "when loaded: this package never writes one (an older version did, or the file "
            f"was put there), and never loads one. Delete {state / pickles[0]} (the schedule "
            "is rebuilt from the step) and run again with --resume."
        )
    try:
        accelerator.load_state(str(state))
    except Exception as err:  # whatever the file, the state cannot be used: say which
        damaged = damaged_file(state)
        if damaged is not None:
            detail = f"{damaged.name} is truncated or damaged"
        elif isinstance(err, pickle.UnpicklingError):  # its text suggests unsafe loading
            detail = "a file is not a valid saved state"
        else:
            detail = f"{type(err).__name__}: {first_line(err)}"
        raise ResumeStateError(
            f"Resume state {state} is corrupt or incomplete ({detail}). {way_out}."
        ) from None
    return saved


# Options a resumed run must keep: they make the batches and the schedule it continues
FIXED_ON_RESUME = ("lr", "epochs", "warmup_steps", "batch_size", "grad_accum", "weight_decay",
                   "max_grad_norm", "seed", "max_steps", "schedule", "milestones")


def _check_recipe(state: Path, saved: dict | None, options: Options) -> None:
    """A ResumeStateError naming each option of FIXED_ON_RESUME that differs from the
    state's (a state saved before the recipe was recorded is not checked)."""
    if not isinstance(saved, dict):
        return
    now = json.loads(json.dumps(options.recipe()))  # as the state recorded it
    changed = [f"--{key.replace('_', '-')} {now[key]} (saved: {saved[key]})"
               for key in FIXED_ON_RESUME if key in saved and saved[key] != now[key]]
    if changed:
        raise ResumeStateError(
            f"Resume state {state} was saved with other options; this run has "
            f"{'; '.join(changed)}. A resumed run continues the batches and schedule it "
            "started with: resume with the saved options, or start over in another --out."
        )


def _save_state(accelerator: Accelerator, options: Options, progress: dict) -> None:
    """Save a resume state: accelerate's files (safetensors weights, the optimizer and
    random states as torch files; no custom-object pickle: nothing is registered) and
    progress.json with the recipe. Its files are flushed to disk before progress.json,
    written last and atomically, marks it complete: a run killed at any moment (even by a
    power cut) leaves complete states and unmarked folders, never a marked half state."""
    out = options.out
    folder = out / RESUME_DIR / f"state_{progress['step']}"
    if accelerator.is_main_process:
        shutil.rmtree(folder, ignore_errors=True)  # an unmarked leftover of a killed run
    accelerator.wait_for_everyone()
    accelerator.save_state(str(folder))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        for path in folder.iterdir():
            _fsync(path)
        marker = folder / "progress.json"
        temporary = marker.with_name("progress.json.tmp")
        temporary.write_text(json.dumps({**progress, "recipe": options.recipe()}),
                             encoding="utf-8")
        _fsync(temporary)
        os.replace(temporary, marker)
        _fsync(folder)
        keep = _complete_states(out)[-KEEP_STATES:]
        for old in (out / RESUME_DIR).glob("state_*"):
            if old not in keep:  # unmark it first: a kill mid-removal leaves no half state
                (old / "progress.json").unlink(missing_ok=True)
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def _fsync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

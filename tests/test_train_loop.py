"""The loop's declared options, gradient accumulation, and resume states that are damaged
or were interrupted: tiny models, a few steps each."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from classit_eval import cli
from classit_eval import cli as dispatcher
from classit_eval.errors import ResumeStateError
from classit_eval.train import instruct, loop, metadata, pretrain
from tests.tiny import tiny_pretrain_argv

RECORD = ("step", "total_steps", "words_seen", "tokens_seen", "global_batch", "milestone")


def pretrain_argv(shared_data: Path, tokenizer: Path, out: Path, *extra: str) -> list[str]:
    text = shared_data / "corpora" / "babylm-samples" / "train_100k" / "open_subtitles.train"
    return tiny_pretrain_argv(text, tokenizer, out, "--seq-len", "32", "--lr", "1e-3",
                              "--warmup-steps", "2", "--checkpoint-words", "300",
                              "--max-steps", "6", *extra)


def parse(argv: list[str]):
    """The options of `classit-train ARGV`, as the dispatcher parses them."""
    return dispatcher.build_parser(argv, job="train").parse_args(argv)


def run_step(argv: list[str]) -> int:
    """Run a step without the command's error handling: errors reach the test as raised."""
    args = parse(argv)
    return {"pretrain": pretrain, "instruct": instruct}[args._step].run(args)


def max_difference(a: Path, b: Path) -> float:
    left, right = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert left.keys() == right.keys()
    return max((left[k] - right[k]).abs().max().item() for k in left)


def test_options_are_declared_once(tmp_path: Path) -> None:
    args = parse(["pretrain", "x.train", "--config", "c", "--tokenizer", "t",
                  "--out", str(tmp_path)])
    options = loop.Options.from_args(args, schedule="linear")
    assert (options.lr, options.epochs, options.warmup_steps) == (2e-4, 8, 5000)
    assert (options.batch_size, options.grad_accum) == (8, 1)
    args = parse(["instruct", "p.jsonl", "--model", "m", "--out", str(tmp_path),
                  "--grad-accum", "4"])
    options = loop.Options.from_args(args, schedule="cosine_restarts")
    assert (options.lr, options.epochs, options.warmup_steps) == (2e-5, 10, 500)
    recipe = options.recipe()
    assert recipe["grad_accum"] == 4 and recipe["batch_size"] == 8 and recipe["seed"] == 42
    assert "out" not in recipe and "resume" not in recipe


def test_auto_precision_and_compile_follow_the_device(tmp_path: Path) -> None:
    """`auto` is resolved when the options are made, so the metadata records what ran."""
    gpu = torch.cuda.is_available()
    expected = ("bf16" if gpu and torch.cuda.is_bf16_supported() else "no", "on" if gpu else "off")
    options = loop.Options(out=tmp_path, schedule="linear", lr=1e-3, epochs=1, warmup_steps=0)
    assert (options.mixed_precision, options.compile) == expected
    options = loop.Options(out=tmp_path, schedule="linear", lr=1e-3, epochs=1, warmup_steps=0,
                           cpu=True)
    assert (options.recipe()["mixed_precision"], options.recipe()["compile"]) == ("no", "off")


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--batch-size", "0", "--batch-size must be at least 1, not 0."),
    ("--grad-accum", "0", "--grad-accum must be at least 1, not 0."),
    ("--epochs", "0", "--epochs must be at least 1, not 0."),
    ("--lr", "0", "--lr must be above 0, not 0.0."),
    ("--warmup-steps", "-1", "--warmup-steps must be at least 0, not -1."),
])
def test_option_ranges_are_checked_first(tmp_path: Path, capsys: pytest.CaptureFixture,
                                         option: str, value: str, message: str) -> None:
    """Before any data is read: the files here do not even exist."""
    argv = ["pretrain", str(tmp_path / "none.train"), "--config", "none.json",
            "--tokenizer", "none", "--out", str(tmp_path / "out"), option, value]
    assert cli.train_main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_grad_accum_gives_the_weights_of_the_bigger_batch(
    shared_data: Path, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4 micro-batches of 2 = one batch of 8: weights, words, milestones, steps. A run of
    the accumulating recipe that crashes and resumes ends with the same weights too."""
    whole = tmp_path / "batch8"
    assert run_step(pretrain_argv(shared_data, tiny_model, whole, "--batch-size", "8")) == 0
    accumulated = tmp_path / "accum"
    accum = ("--batch-size", "2", "--grad-accum", "4")
    assert run_step(pretrain_argv(shared_data, tiny_model, accumulated, *accum)) == 0
    difference = max_difference(whole, accumulated)
    print(f"max abs weight difference, batch 8 vs 4 x 2: {difference:.2e}")
    assert difference < 1e-5
    assert max_difference(whole / "chck_300", accumulated / "chck_300") < 1e-5
    a, b = metadata.read(whole), metadata.read(accumulated)
    assert {k: a[k] for k in RECORD} == {k: b[k] for k in RECORD}
    assert (a["step"], a["global_batch"], b["grad_accum"]) == (6, 8, 4)
    assert metadata.read(whole / "chck_300")["step"] == metadata.read(accumulated / "chck_300")[
        "step"] < 6

    # a crash while saving the milestone, after a resume state at step 2
    crashed = tmp_path / "crashed"
    real_write = metadata.write

    def crash_at_milestone(folder: Path, *args, **kwargs) -> Path:
        if Path(folder).name.startswith("chck_"):
            raise RuntimeError("simulated crash")
        return real_write(folder, *args, **kwargs)

    argv = pretrain_argv(shared_data, tiny_model, crashed, *accum, "--save-every-steps", "2")
    monkeypatch.setattr(metadata, "write", crash_at_milestone)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_step(argv)
    monkeypatch.setattr(metadata, "write", real_write)
    assert list((crashed / "resume").glob("state_*/progress.json"))
    assert run_step([*argv, "--resume"]) == 0
    assert max_difference(accumulated, crashed) < 1e-5
    assert max_difference(accumulated / "chck_300", crashed / "chck_300") < 1e-5
    c = metadata.read(crashed)
    assert {k: b[k] for k in RECORD} == {k: c[k] for k in RECORD}


def test_grad_accum_weighs_every_reply_token_the_same(
    switchboard_pairs: Path, tiny_model: Path, tmp_path: Path
) -> None:
    """Pairs differ in length and only reply tokens carry loss: the loss is the mean over
    the tokens of the whole global batch, however it is split."""
    def tune(out: Path, *extra: str) -> Path:
        assert run_step(["instruct", str(switchboard_pairs), "--model", str(tiny_model),
                         "--out", str(out), "--lr", "1e-3", "--warmup-steps", "1",
                         "--max-steps", "4", "--log-every", "1000", *extra]) == 0
        return out

    whole = tune(tmp_path / "batch4", "--batch-size", "4")
    accumulated = tune(tmp_path / "accum", "--batch-size", "1", "--grad-accum", "4")
    difference = max_difference(whole, accumulated)
    print(f"max abs weight difference, instruct batch 4 vs 4 x 1: {difference:.2e}")
    assert difference < 1e-5


@pytest.fixture()
def switchboard_pairs(shared_data: Path, tmp_path: Path) -> Path:
    out = tmp_path / "sw.jsonl"
    switchboard = shared_data / "corpora" / "babylm-samples" / "train_10M" / "switchboard.train"
    assert cli.train_main(["instructions", "switchboard", str(switchboard), "--out", str(out),
                     "--max-words", "1k"]) == 0
    return out


@pytest.mark.slow
def test_damaged_resume_states_are_named_with_the_way_out(
    shared_data: Path, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    argv = pretrain_argv(shared_data, tiny_model, out, "--batch-size", "4",
                         "--save-every-steps", "2", "--checkpoint-words", "100k")
    real_save = loop._save_state

    def save_then_crash(accelerator, folder, progress):
        real_save(accelerator, folder, progress)
        if progress["step"] == 4:
            raise RuntimeError("simulated crash")

    monkeypatch.setattr(loop, "_save_state", save_then_crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_step(argv)
    monkeypatch.setattr(loop, "_save_state", real_save)
    resume = out / "resume"
    assert sorted(p.name for p in resume.iterdir()) == ["state_2", "state_4"]  # two kept
    latest = resume / "state_4"

    # a truncated weights file
    weights = latest / "model.safetensors"
    intact = weights.read_bytes()
    weights.write_bytes(intact[: len(intact) // 2])
    with pytest.raises(ResumeStateError) as caught:
        run_step([*argv, "--resume"])
    message = str(caught.value)
    print(message)
    assert f"Resume state {latest} is corrupt or incomplete" in message
    assert "model.safetensors is truncated or damaged" in message
    assert f"Delete it and run again with --resume to continue from {resume / 'state_2'}" in (
        message)
    weights.write_bytes(intact)

    # garbage in the optimizer state: torch's own message would suggest unsafe loading
    (latest / "optimizer.bin").write_bytes(b"not a torch file, just garbage" * 100)
    with pytest.raises(ResumeStateError) as caught:
        run_step([*argv, "--resume"])
    message = str(caught.value)
    print(message)
    assert "optimizer.bin is truncated or damaged" in message and str(latest) in message
    assert "weights_only" not in message and "trust" not in message

    # the way out works: without the damaged state, the one before it resumes
    shutil.rmtree(latest)
    assert run_step([*argv, "--resume"]) == 0
    assert metadata.read(out)["step"] == 6 and not resume.exists()

    # a resume state of another global batch is refused
    other = tmp_path / "other"
    argv = pretrain_argv(shared_data, tiny_model, other, "--batch-size", "4",
                         "--save-every-steps", "2", "--checkpoint-words", "100k")
    monkeypatch.setattr(loop, "_save_state", save_then_crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_step(argv)
    monkeypatch.setattr(loop, "_save_state", real_save)
    with pytest.raises(ResumeStateError, match="global batch of 4 examples; this run has 8"):
        run_step([*argv, "--resume", "--grad-accum", "2"])


def test_a_bad_line_of_a_pairs_file_says_how_to_fix_it(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"prompt": "Hi", "reply": "Hello", "source": "wiki"}\n{"prompt": "Hi", "r')
    assert cli.train_main(["instruct", str(pairs), "--model", str(tiny_model),
                     "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{pairs}, line 2: not valid JSON" in err and "classit-train instructions" in err
    assert "download-data" not in err



class Planted:
    """A crafted pickle: loading it unsafely creates `marker` (a stand-in for any code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


CRASHED = ("--batch-size", "2", "--save-every-steps", "2", "--checkpoint-words", "100k")


@pytest.fixture(scope="module")
def crashed(shared_data: Path, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Path:
    """A pretraining run that crashed right after its resume state of step 2."""
    out = tmp_path_factory.mktemp("crashed") / "run"
    real_save = loop._save_state

    def save_then_crash(accelerator, options, progress):
        real_save(accelerator, options, progress)
        raise RuntimeError("simulated crash")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop, "_save_state", save_then_crash)
        with pytest.raises(RuntimeError, match="simulated crash"):
            run_step(pretrain_argv(shared_data, tiny_model, out, *CRASHED))
    return out


def copy_of(crashed: Path, tmp_path: Path, shared_data: Path, tiny_model: Path
            ) -> tuple[Path, list[str]]:
    """A copy of the crashed run, and the command that resumes it."""
    out = tmp_path / "run"
    shutil.copytree(crashed, out)
    return out, [*pretrain_argv(shared_data, tiny_model, out, *CRASHED), "--resume"]


def test_a_crafted_pickle_in_a_resume_state_is_never_run(
    crashed: Path, shared_data: Path, tiny_model: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture
) -> None:
    """A state holds no custom-object pickle; one planted there is refused unread, and a
    pickle in place of the optimizer or random states is loaded with weights_only."""
    out, argv = copy_of(crashed, tmp_path, shared_data, tiny_model)
    state = out / "resume" / "state_2"
    assert (state / "progress.json").is_file() and not list(state.glob("*custom*"))

    marker = tmp_path / "the-pickle-ran"
    torch.save(Planted(marker), state / "custom_checkpoint_0.pkl")
    capsys.readouterr()
    assert cli.train_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert not marker.exists()
    assert len(err) == 1 and f"Resume state {state} holds custom_checkpoint_0.pkl" in err[0]

    (state / "custom_checkpoint_0.pkl").unlink()
    for name in ("random_states_0.pkl", "optimizer.bin"):
        torch.save(Planted(marker), state / name)
    assert cli.train_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert not marker.exists()
    assert len(err) == 1 and f"Resume state {state} is corrupt or incomplete" in err[0]


@pytest.mark.slow
def test_a_resumed_run_keeps_the_options_of_its_state(
    crashed: Path, shared_data: Path, tiny_model: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture
) -> None:
    out, argv = copy_of(crashed, tmp_path, shared_data, tiny_model)
    capsys.readouterr()
    assert cli.train_main([*argv, "--lr", "5e-4", "--max-steps", "9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "--lr 0.0005 (saved: 0.001); --max-steps 9 (saved: 6)" in err[0]
    assert not (out / "model.safetensors").exists()
    assert cli.train_main([*argv, "--log-every", "1"]) == 0  # not part of the recipe
    assert metadata.read(out)["step"] == 6

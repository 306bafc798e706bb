"""classit-finetune end to end: a tiny LLaMA fine-tuned for a few steps on real RTE and WSC;
a GPT-BERT-style hybrid (remote code) and a DeBERTa encoder on RTE."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef
from transformers import Trainer

from classit_eval.cli import finetune_main as main
from classit_eval.data.files import find_file, read_jsonl
from tests.tiny import build_tiny_masked

QUICK = ["--max-train-examples", "64", "--epochs", "2", "--batch-size", "16",
         "--max-length", "128"]


def run(model: Path, out: Path, tasks: str, *extra: str) -> int:
    return main(["--model", str(model), "--tasks", tasks, "--output_path", str(out),
                 *QUICK, *extra])


def outputs(out: Path, task: str) -> tuple[dict, list[dict]]:
    """The results document and predictions of `task`: there must be exactly one of each."""
    (results,) = [p for p in out.rglob("results_*.json")
                  if f"classit_finetune_{task}" in json.loads(p.read_text())["results"]]
    (predictions,) = out.rglob(f"predictions_classit_finetune_{task}_*.jsonl")
    return json.loads(results.read_text()), [json.loads(x) for x in predictions.open()]


@pytest.fixture(scope="module")
def finetuned(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("finetune")
    assert run(tiny_model, out, "rte,wsc") == 0
    return out


@pytest.mark.slow
@pytest.mark.parametrize("task,size", [("rte", 139), ("wsc", 52)])
def test_written_metrics_match_predictions(finetuned: Path, tiny_model: Path, task: str,
                                           size: int) -> None:
    document, predictions = outputs(finetuned, task)
    name = f"classit_finetune_{task}"
    gold = read_jsonl(find_file(f"full_eval/glue_filtered/{task}.valid.jsonl"))
    assert [p["doc_id"] for p in predictions] == list(range(size))
    assert [p["gold"] for p in predictions] == [r["label"] for r in gold]
    assert [p["idx"] for p in predictions] == [r["idx"] for r in gold]
    preds, labels = [p["pred"] for p in predictions], [p["gold"] for p in predictions]
    assert set(preds) <= {0, 1}
    metrics = document["results"][name]
    assert metrics["acc,none"] == pytest.approx(accuracy_score(labels, preds))
    assert metrics["f1,none"] == pytest.approx(f1_score(labels, preds))
    assert metrics["mcc,none"] == pytest.approx(matthews_corrcoef(labels, preds))
    assert document["n-samples"][name] == {"original": size, "effective": size}
    meta = document["configs"][name]["metadata"]
    assert meta["pooling"] == "last" and meta["learning_rate"] == 3e-5
    assert meta["epochs"] == 2 and meta["train_examples"] == 64
    (best,) = [e for e in meta["validation_per_epoch"] if e["epoch"] == meta["best_epoch"]]
    assert best["acc"] == metrics["acc,none"]  # predictions come from the best epoch
    assert best["f1"] == metrics["f1,none"]
    assert document["model_name"] == str(tiny_model)
    assert document["config"]["model_args"].startswith(f"pretrained={tiny_model}")
    assert document["config"]["model_num_parameters"] > 0
    assert document["tokenizer_pad_token"][0] == "<pad>" and document["max_length"] == 128


@pytest.mark.slow
def test_results_path_follows_lm_eval(finetuned: Path, tiny_model: Path) -> None:
    folder = finetuned / str(tiny_model).replace("/", "__")
    assert len(list(folder.glob("results_*.json"))) == 2
    assert len(list(folder.glob("predictions_classit_finetune_*.jsonl"))) == 2


@pytest.mark.slow
def test_same_seed_same_numbers_and_resume(finetuned: Path, tiny_model: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A rerun gives the same predictions; so does a run interrupted after epoch 1 and resumed."""
    expected = outputs(finetuned, "wsc")
    assert run(tiny_model, tmp_path / "again", "wsc") == 0
    assert outputs(tmp_path / "again", "wsc")[1] == expected[1]

    save = Trainer._save_checkpoint

    def save_then_crash(self, *args, **kwargs):
        save(self, *args, **kwargs)
        raise KeyboardInterrupt("simulated interruption after the first epoch")

    monkeypatch.setattr(Trainer, "_save_checkpoint", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        run(tiny_model, tmp_path / "resumed", "wsc")
    monkeypatch.setattr(Trainer, "_save_checkpoint", save)
    assert list((tmp_path / "resumed").rglob("checkpoint-4"))
    step, steps = Trainer.training_step, []

    def counted_step(self, *args, **kwargs):
        steps.append(self.state.global_step)
        return step(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "training_step", counted_step)
    assert run(tiny_model, tmp_path / "resumed", "wsc", "--resume") == 0
    assert steps == [4, 5, 6, 7]  # 64 examples / 16 = 4 steps an epoch: only epoch 2 reran
    resumed = outputs(tmp_path / "resumed", "wsc")
    assert resumed[1] == expected[1]
    assert resumed[0]["results"] == expected[0]["results"]


def check_metrics(document: dict, predictions: list[dict], task: str) -> None:
    """The written metrics are the predictions scored, against the file's gold labels."""
    gold = read_jsonl(find_file(f"full_eval/glue_filtered/{task}.valid.jsonl"))
    assert [p["gold"] for p in predictions] == [r["label"] for r in gold]
    preds, labels = [p["pred"] for p in predictions], [p["gold"] for p in predictions]
    metrics = document["results"][f"classit_finetune_{task}"]
    assert metrics["acc,none"] == pytest.approx(accuracy_score(labels, preds))
    assert metrics["f1,none"] == pytest.approx(f1_score(labels, preds))
    assert metrics["mcc,none"] == pytest.approx(matthews_corrcoef(labels, preds))


@pytest.fixture(scope="module")
def tiny_deberta(corpus_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DeBERTa encoder with a GPT-BERT-style tokenizer, as scored by backend=mntp."""
    return build_tiny_masked(tmp_path_factory.mktemp("deberta"), corpus_file, "gptbert",
                             "deberta")


@pytest.mark.parametrize("name", ["tiny_hybrid", "tiny_deberta"])
def test_hybrid_and_encoder_fine_tune_on_their_first_token(
        name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """As the official pipeline: the hybrid's AutoModel runs its own code, position 0 is read."""
    model = request.getfixturevalue(name)
    extra = ["--trust_remote_code"] if name == "tiny_hybrid" else []
    assert run(model, tmp_path, "rte", "--max-train-examples", "32", "--epochs", "1",
               *extra) == 0
    document, predictions = outputs(tmp_path, "rte")
    check_metrics(document, predictions, "rte")
    meta = document["configs"]["classit_finetune_rte"]["metadata"]
    assert meta["pooling"] == "first" and meta["trust_remote_code"] == bool(extra)
    assert document["config"]["model_args"].endswith(
        "pooling=first" + (",trust_remote_code=True" if extra else ""))


def test_remote_code_without_the_flag_is_one_line(tiny_hybrid: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    assert run(tiny_hybrid, tmp_path, "rte") == 2
    (message,) = capsys.readouterr().err.splitlines()
    assert message.startswith(f"classit-finetune: error: --model {tiny_hybrid} runs its own "
                              "code (model_type 'gpt_bert', code in configuration_gpt_bert.py")
    assert message.endswith("pass --trust_remote_code if you trust it.")
    assert not list(tmp_path.iterdir())


def test_missing_train_file_names_it_and_nothing_runs(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Every task's data is checked first: no task trains, no results file is written."""
    code = run(tiny_model, tmp_path, "boolq,wsc,multirc", "--epochs", "1")
    assert code == 2
    errors = capsys.readouterr().err
    assert errors.count("\n") == 1 and errors.startswith("classit-finetune: error: ")
    assert "glue_filtered/boolq.train.jsonl is missing" in errors
    assert "glue_filtered/multirc.train.jsonl is missing" in errors
    assert "https://osf.io/ryjfm/" in errors and "--multirc-train-from" in errors
    assert not list(tmp_path.rglob("results_*.json"))
    assert not list(tmp_path.rglob("predictions_classit_finetune_*"))


def test_unknown_task_is_an_argument_error(tiny_model: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(tiny_model, tmp_path, "rte,superglue_cb")
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--tasks" in err and "'superglue_cb'" in err and "boolq, multirc, rte" in err
    assert not list(tmp_path.iterdir())


def test_label_outside_label_set(eval_data: Path, tiny_model: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture) -> None:
    glue = tmp_path / "data" / "full_eval" / "glue_filtered"
    glue.mkdir(parents=True)
    real = eval_data / "full_eval" / "glue_filtered"
    lines = (real / "rte.train.jsonl").read_text().splitlines()[:20]
    bad = json.loads(lines[6]) | {"label": 2}
    lines[6] = json.dumps(bad)
    (glue / "rte.train.jsonl").write_text("\n".join(lines) + "\n")
    (glue / "rte.valid.jsonl").write_text((real / "rte.valid.jsonl").read_text())
    code = run(tiny_model, tmp_path / "out", "rte", "--data-dir", str(tmp_path / "data"))
    assert code == 2
    (message,) = capsys.readouterr().err.splitlines()
    assert "rte.train.jsonl, line 7: label 2 is not a rte label" in message
    assert "0..1" in message
    assert not (tmp_path / "out").exists()


def rte_data(eval_data: Path, root: Path, edit=lambda lines: lines) -> Path:
    """A data root holding the real RTE valid file and the first 20 train lines, edited."""
    glue = root / "full_eval" / "glue_filtered"
    glue.mkdir(parents=True)
    real = eval_data / "full_eval" / "glue_filtered"
    lines = (real / "rte.train.jsonl").read_text().splitlines()[:20]
    (glue / "rte.train.jsonl").write_text("".join(line + "\n" for line in edit(lines)))
    (glue / "rte.valid.jsonl").write_text((real / "rte.valid.jsonl").read_text())
    return root


def float_label(lines: list[str]) -> list[str]:
    lines[4] = json.dumps(json.loads(lines[4]) | {"label": 1.0})
    return lines


@pytest.mark.parametrize(("case", "message"), [
    ("empty", "rte.train.jsonl: no rte examples (the file holds no JSON line)"),
    ("float", "rte.train.jsonl, line 5: label 1.0 is not a rte label"),
    ("output_file", "argument --output_path: {out} is a file, not a folder"),
    ("inside_a_file", "argument --output_path: {out}/results: {out} is a file"),
])
def test_bad_train_data_or_output_path_is_one_line_and_no_file(
        eval_data: Path, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
        case: str, message: str) -> None:
    """An empty train file and a float label failed mid-training (leaving a checkpoints
    folder); an --output_path naming a file failed after training."""
    edit = {"empty": lambda lines: [], "float": float_label}.get(case, lambda lines: lines)
    data = rte_data(eval_data, tmp_path / "data", edit)
    out = tmp_path / "out"
    if case in ("output_file", "inside_a_file"):
        out.write_text("a user's file\n")
    before = sorted(tmp_path.rglob("*"))
    target = out / "results" if case == "inside_a_file" else out
    try:
        code = run(tiny_model, target, "rte", "--data-dir", str(data))
    except SystemExit as exit_:  # a bad option is refused by the parser
        code = exit_.code
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert message.format(out=out) in line
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere


@pytest.fixture(scope="module")
def interrupted_wsc(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A WSC run with its default 30 epochs (one step each), stopped after epoch 1."""
    out = tmp_path_factory.mktemp("wsc30")
    save = Trainer._save_checkpoint

    def save_then_stop(self, *args, **kwargs):
        save(self, *args, **kwargs)
        raise KeyboardInterrupt("simulated interruption after the first epoch")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Trainer, "_save_checkpoint", save_then_stop)
        with pytest.raises(KeyboardInterrupt):
            main(["--model", str(tiny_model), "--tasks", "wsc", "--output_path", str(out),
                  "--max-train-examples", "16", "--batch-size", "16", "--max-length", "64"])
    return out


@pytest.mark.slow
def test_resume_with_other_settings_is_one_line(interrupted_wsc: Path, tiny_model: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    """`--resume --epochs 2` on a 30-epoch run's checkpoint trained on within the 30-epoch
    schedule and recorded 2 epochs; what a resumed run cannot change is compared."""
    out = interrupted_wsc
    before = sorted(out.rglob("*"))
    code = main(["--model", str(tiny_model), "--tasks", "wsc", "--output_path", str(out),
                 "--max-train-examples", "16", "--batch-size", "16", "--max-length", "64",
                 "--resume", "--epochs", "2", "--learning-rate", "1e-4"])
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("classit-finetune: error: wsc: --resume continues the checkpoints")
    assert "--learning-rate 0.0001 (saved: 3e-05); --epochs 2.0 (saved: 30)" in line
    assert sorted(out.rglob("*")) == before and not list(out.rglob("results_*.json"))


@pytest.mark.slow
def test_two_torchrun_processes_train_data_parallel(tiny_model: Path, tmp_path: Path) -> None:
    """`torchrun --nproc_per_node 2` (no code change) splits each epoch between two processes
    on the CPU: half the optimizer steps, one results file from rank 0, all predictions."""
    import subprocess
    import sys

    torchrun = Path(sys.executable).parent / "torchrun"
    subprocess.run([str(torchrun), "--nproc_per_node", "2", "-m", "classit_eval.finetune",
                    "--model", str(tiny_model), "--tasks", "rte", "--output_path", str(tmp_path),
                    "--max-train-examples", "64", "--epochs", "1", "--batch-size", "4",
                    "--max-length", "128"], check=True, capture_output=True,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    results, predictions = outputs(tmp_path, "rte")
    (state,) = tmp_path.rglob("trainer_state.json")
    assert json.loads(state.read_text())["global_step"] == 64 // (4 * 2)
    assert len(predictions) == 139 and sorted(p["doc_id"] for p in predictions) == list(range(139))
    gold, pred = [p["gold"] for p in predictions], [p["pred"] for p in predictions]
    assert results["results"]["classit_finetune_rte"]["acc,none"] == pytest.approx(
        accuracy_score(gold, pred))

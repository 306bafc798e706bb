"""`babylm run` keeps to its run folder: revision names that are paths, linked folders,
files that are not folders, reserved fine-tuning options and a changed resume are refused
with one line before anything is written; a cut-off unit's rerun removes only the files the
package recorded writing. Fast: the model is a folder of empty checkpoint configs, and each
refusal comes before any model is loaded."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from classit_eval import cli
from classit_eval.errors import ResultsError
from classit_eval.leaderboard import series
from classit_eval.leaderboard.run_folder import RUN_MANIFEST, model_identity


def tree_hashes(root: Path) -> dict[str, str]:
    """Every file and link under `root`, by relative path: its bytes' hash (a link: where
    it points)."""
    out = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[name] = "-> " + str(path.readlink())
        elif path.is_file():
            out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[name] = "dir"
    return out


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """A model folder of two (empty) checkpoints, a model beside it, a folder of someone
    else's, each holding a file."""
    for name in ("model/chck_1M", "model/chck_2M", "tiny"):
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / "config.json").write_text("{}")
    (tmp_path / "elsewhere" / "classit_wug_adj_fast").mkdir(parents=True)
    (tmp_path / "elsewhere" / "classit_wug_adj_fast" / "precious.txt").write_text("keep me")
    return tmp_path


def run_argv(world: Path, *extra: str, revisions: str = "chck_1M,chck_2M") -> list[str]:
    return ["babylm", "run", "--model", str(world / "model"), "--track", "strict-small",
            "--output-dir", str(world / "run"), "--revisions", revisions,
            "--tasks", "wug_adj", "--no-export", *extra]


def one_error(capsys, code: int | None, expected_code: int = 2) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == expected_code and len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def main_or_exit(argv: list[str]) -> int:
    """cli.main's status, whether it returns it or an option error exits with it."""
    try:
        return cli.main(argv)
    except SystemExit as exit_:
        return exit_.code


@pytest.mark.parametrize("revisions", ["../tiny", "ABSOLUTE", "chck_1M/../../tiny", "a..b",
                                       "chck_1M,../tiny"])
def test_a_revision_that_is_a_path_is_refused(world: Path, capsys, revisions: str) -> None:
    revisions = revisions.replace("ABSOLUTE", str(world / "tiny"))
    before = tree_hashes(world)
    error = one_error(capsys, main_or_exit(run_argv(world, revisions=revisions)))
    assert "--revisions" in error and "not a path" in error
    assert tree_hashes(world) == before and not (world / "run").exists()


@pytest.mark.parametrize(("revisions", "said"), [
    ("chck_1M,chck_1M", "revision chck_1M is listed twice"),
    ("chck_1M,chck_1000K", "revision chck_1000K and chck_1M name the same checkpoint "
                           "(1,000,000 words)")])
def test_a_revision_listed_twice_is_refused(world: Path, capsys, revisions: str,
                                            said: str) -> None:
    (world / "model" / "chck_1000K").mkdir()
    (world / "model" / "chck_1000K" / "config.json").write_text("{}")
    error = one_error(capsys, main_or_exit(run_argv(world, revisions=revisions)))
    assert said in error and not (world / "run").exists()


def test_an_output_dir_that_is_a_file_is_refused(world: Path, capsys) -> None:
    (world / "run").write_text("my notes")
    error = one_error(capsys, main_or_exit(run_argv(world)))
    assert f"--output-dir {world / 'run'}: a file, not a folder" in error
    assert (world / "run").read_text() == "my notes"


@pytest.mark.parametrize("extra", ["--output_path elsewhere", "--tasks rte",
                                   "--model other", "--checkpoint-dir=elsewhere"])
def test_finetune_options_the_run_sets_itself_are_refused(world: Path, capsys,
                                                          extra: str) -> None:
    before = tree_hashes(world)
    code = main_or_exit(run_argv(world, f"--finetune-args={extra}"))
    error = one_error(capsys, code)
    assert f"--finetune-args: {extra.split()[0].split('=')[0]} is set by babylm run itself" in (
        error)
    assert tree_hashes(world) == before


def test_a_linked_revision_folder_is_refused_and_nothing_behind_it_touched(
        world: Path, capsys) -> None:
    (world / "run").mkdir()
    (world / "run" / "chck_1M").symlink_to(world / "elsewhere")
    before = tree_hashes(world)
    error = one_error(capsys, main_or_exit(run_argv(world)))
    assert f"{world / 'run' / 'chck_1M'} is a symbolic link" in error
    assert tree_hashes(world) == before  # no manifest either


def test_ctrl_c_is_one_line_and_status_130(world: Path, capsys, monkeypatch) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(series, "make_plan", interrupted)
    error = one_error(capsys, main_or_exit(run_argv(world)), expected_code=130)
    assert error == ("classit-eval babylm run: interrupted; rerun the same command to "
                     "resume")


def manifest(world: Path, **changes) -> Path:
    (world / "run").mkdir()
    path = world / "run" / RUN_MANIFEST
    path.write_text(json.dumps({"model": model_identity(str(world / "model")),
                                "backend": "causal", "scoring": "babylm2025",
                                "model_args": {}, "finetune_args": ["--epochs", "3"],
                                **changes}))
    return path


def test_a_resumed_run_with_other_fine_tuning_options_is_refused(world: Path,
                                                                 capsys) -> None:
    path = manifest(world)
    before = path.read_bytes()
    error = one_error(capsys, main_or_exit(run_argv(world, "--finetune-args", "--epochs 2")))
    assert "holds the results of another run (finetune_args=['--epochs', '3'] here, " \
           "['--epochs', '2'] asked)" in error
    assert path.read_bytes() == before
    path.write_text("{not json")
    error = one_error(capsys, main_or_exit(run_argv(world, "--finetune-args", "--epochs 3")))
    assert f"{path}: not a readable run manifest" in error


def test_a_rerun_removes_only_the_files_the_ledger_recorded(tmp_path: Path) -> None:
    from classit_eval.leaderboard import sandbox

    folder = tmp_path / "chck_1M" / "classit_wug_adj_fast"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "results_old.json").write_text("a user's file, there before")
    (folder / "notes.txt").write_text("a user's file")
    sandbox.record(folder, ["classit_babylm_done.json"],
                   [sandbox.expect(folder, "model", ["results_*.json", "samples_*.jsonl"])])
    (folder / "model" / "results_new.json").write_text("{}")  # written by lm-eval, then killed
    (folder / "model" / "samples_t_new.jsonl").write_text("")
    (folder / "classit_babylm_files.json.tmp123").write_text("")  # a ledger cut off
    removed = sandbox.clear(folder)
    assert sorted(p.name for p in removed) == ["results_new.json", "samples_t_new.jsonl"]
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "model", "model/results_old.json", "notes.txt"]


def test_paths_leave_neither_the_folder_nor_through_a_link(tmp_path: Path) -> None:
    from classit_eval.leaderboard import sandbox

    (tmp_path / "other").mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "link").symlink_to(tmp_path / "other")
    for parts in (("..", "x"), ("/etc",), ("a/../../x",), ("link",), ("link", "x")):
        with pytest.raises(ResultsError):
            sandbox.inside(tmp_path / "run", *parts)
    assert sandbox.inside(tmp_path / "run", "chck_1M", "t") == tmp_path / "run/chck_1M/t"


def own_files(out: Path) -> set[str]:
    """The files the run says are its own: the manifest, each unit's ledger and the files
    it lists (the marker among them)."""
    from classit_eval.leaderboard import sandbox

    own = {RUN_MANIFEST}
    for ledger in out.glob(f"*/*/{sandbox.LEDGER}"):
        folder = ledger.parent
        own |= {p.relative_to(out).as_posix() for p in [ledger, *sandbox.own_files(folder)]}
    return own


@pytest.mark.slow
def test_a_hostile_run_leaves_every_byte_outside_its_own_files(
        pretrained: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    """A revision that is a path, a linked task folder, a user's file in a task folder and
    a run interrupted while lm-eval writes its files, then resumed: every file that was
    there before is byte for byte the same, and every new file is one the run recorded."""
    out = tmp_path / "run"
    elsewhere = tmp_path / "elsewhere" / "classit_wug_adj_fast"
    elsewhere.mkdir(parents=True)
    (elsewhere / "precious.txt").write_text("keep me")
    argv = ["babylm", "run", "--model", str(pretrained), "--track", "strict-small",
            "--output-dir", str(out), "--revisions", "chck_2K", "--tasks", "wug_adj",
            "--model-args", "dtype=float32", "--device", "cpu", "--no-export"]
    hostile = [a if a != "chck_2K" else "../elsewhere" for a in argv]
    model_before = tree_hashes(pretrained)

    (out / "chck_2K").mkdir(parents=True)
    (out / "chck_2K" / "classit_wug_adj_fast").symlink_to(elsewhere)
    before = tree_hashes(tmp_path)
    assert "is a symbolic link" in one_error(capsys, main_or_exit(argv))
    assert "not a path" in one_error(capsys, main_or_exit(hostile))
    assert tree_hashes(tmp_path) == before

    (out / "chck_2K" / "classit_wug_adj_fast").unlink()  # the user's fix
    (out / "chck_2K" / "classit_wug_adj_fast").mkdir()
    (out / "chck_2K" / "classit_wug_adj_fast" / "notes.txt").write_text("the user's")
    before = tree_hashes(tmp_path)
    from lm_eval.loggers import EvaluationTracker

    save = EvaluationTracker.save_results_samples
    calls = []

    def interrupted(self, *args, **kwargs):  # Ctrl-C after lm-eval wrote its results file
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return save(self, *args, **kwargs)

    monkeypatch.setattr(EvaluationTracker, "save_results_samples", interrupted)
    code, err = main_or_exit(argv), capsys.readouterr().err  # progress bars, then the line
    assert code == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == ("classit-eval babylm run: interrupted; rerun the "
                                            "same command to resume")
    cut_off = sorted(p.name for p in out.rglob("results_*.json"))
    assert len(cut_off) == 1  # the results file of the interrupted unit, recorded as pending
    assert cli.main(argv) == 0
    after = tree_hashes(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before
    new = {k.removeprefix("run/") for k, v in after.items() if k not in before and v != "dir"}
    assert new and new <= own_files(out), new - own_files(out)
    assert cut_off[0] not in {Path(k).name for k in new}  # removed, not kept beside the new
    assert tree_hashes(pretrained) == model_before

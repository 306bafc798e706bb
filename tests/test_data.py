"""The data root, zipped files and bad input, on the real BabyLM 2025 files."""

from __future__ import annotations

import shutil
import zipfile

import lm_eval
import pytest

from classit_eval.data.files import (
    DataError,
    MissingDataError,
    data_root,
    find_file,
    find_files,
    read_jsonl,
)
from classit_eval.lmeval.plugin import task_manager
from classit_eval.zero_shot.tasks import load_ewok, load_pairs


def test_reads_plain_and_zipped_files(eval_data):
    blimp = read_jsonl(find_file("full_eval/blimp_filtered/adjunct_island.jsonl", eval_data))
    assert len(blimp) > 900 and {"sentence_good", "sentence_bad"} <= set(blimp[0])
    ewok = find_files("full_eval/ewok_filtered", eval_data)
    assert len(ewok) == 11 and all(s.member for s in ewok)  # read from the password zip
    assert sum(len(read_jsonl(s)) for s in ewok) == 7618  # SOURCES.md: 7,618 lines
    docs = load_ewok("fast_eval/ewok_fast/social-relations.jsonl", data_dir=eval_data)["test"]
    assert len(docs) == 100 and docs[0]["context"] and docs[0]["target_good"]


def test_data_root_order(eval_data, tmp_path, monkeypatch):
    monkeypatch.setenv("CLASSIT_DATA_DIR", str(eval_data))
    assert data_root() == eval_data
    (tmp_path / "evaluation_data").mkdir()
    assert data_root(tmp_path) == tmp_path / "evaluation_data"  # argument wins, parent accepted
    monkeypatch.delenv("CLASSIT_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(MissingDataError, match="user cache.*download-data"):
        data_root()


def test_missing_data_names_task_path_and_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("CLASSIT_DATA_DIR", str(tmp_path))
    tm = task_manager(classit_only=True)
    with pytest.raises(MissingDataError) as err:
        lm_eval.simple_evaluate(model="dummy", tasks=["classit_blimp_adjunct_island"],
                                task_manager=tm, limit=1)
    message = str(err.value)
    assert "classit_blimp_adjunct_island" in message
    assert str(tmp_path / "full_eval/blimp_filtered/adjunct_island.jsonl") in message
    assert "download-data" in message and "CLASSIT_DATA_DIR" in message


def copy_blimp(eval_data, tmp_path, edit):
    root = tmp_path / "data"
    folder = root / "full_eval" / "blimp_filtered"
    folder.mkdir(parents=True)
    src = eval_data / "full_eval" / "blimp_filtered" / "causative.jsonl"
    lines = src.read_text().splitlines()
    lines = edit(lines)
    (folder / "causative.jsonl").write_text("\n".join(lines) + "\n")
    return root


def test_corrupt_jsonl_line_names_file_and_line(eval_data, tmp_path):
    root = copy_blimp(eval_data, tmp_path, lambda ls: ls[:2] + [ls[2][:-5]] + ls[3:])
    with pytest.raises(DataError, match=r"causative\.jsonl, line 3: not valid JSON"):
        load_pairs("full_eval/blimp_filtered/causative.jsonl", data_dir=root)


def test_missing_field_names_file_line_and_field(eval_data, tmp_path):
    root = copy_blimp(eval_data, tmp_path,
                      lambda ls: ls[:4] + [ls[4].replace('"sentence_bad"', '"sentence_wrong"')]
                      + ls[5:])
    message = r"causative\.jsonl, line 5: missing field\(s\) sentence_bad"
    with pytest.raises(DataError, match=message):
        load_pairs("full_eval/blimp_filtered/causative.jsonl", data_dir=root)


def test_wrong_zip_password_is_explained(eval_data, tmp_path, monkeypatch):
    (tmp_path / "fast_eval").mkdir()
    shutil.copy(eval_data / "fast_eval" / "ewok_fast.zip", tmp_path / "fast_eval")
    monkeypatch.setenv("CLASSIT_ZIP_PASSWORD", "not-the-password")
    source = find_files("fast_eval/ewok_fast", tmp_path)[0]
    with pytest.raises(DataError, match="CLASSIT_ZIP_PASSWORD"):
        source.read_bytes()
    with zipfile.ZipFile(source.path) as zf:  # the archive itself is intact
        assert zf.getinfo(source.member).flag_bits & 0x1  # encrypted


def test_metadata_data_dir_wins_over_the_environment(eval_data, tmp_path, monkeypatch):
    """`--metadata data_dir=...` (lm-eval passes it to the task loader) beats $CLASSIT_DATA_DIR.
    (lm-eval's `evaluate`, not `simple_evaluate`: the latter asks the hub for the dummy
    model's tokenizer, which costs 46 s of network time-outs offline.)"""
    from lm_eval.evaluator import evaluate
    from lm_eval.models.dummy import DummyLM
    from lm_eval.tasks import get_task_dict

    monkeypatch.setenv("CLASSIT_DATA_DIR", str(tmp_path / "nowhere"))
    tm = task_manager(classit_only=True, metadata={"data_dir": str(eval_data)})
    tasks = get_task_dict(["classit_blimp_fast_causative"], tm)
    out = evaluate(lm=DummyLM(), task_dict=tasks, limit=2)
    assert out["results"]["classit_blimp_fast_causative"]["sample_len"] == 2

"""Property-based tests of the files users hand to the package: reading predictions, the
CDI table, fine-tuning data and pretraining configs. Each starts from a real file (the
official prediction.jsonl, the RTE train lines, a CDI table in the official layout, the
tiny LLaMA config of the tests) and applies random mutations; the reader must give a
correct result or a UserError (which the commands print as one line, exit 2), never
another exception, and write nothing. Fast lane: a few dozen examples each."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classit_eval.aoa import human
from classit_eval.errors import UserError
from classit_eval.finetune.tasks import TASKS, load_split
from classit_eval.reading import dataset
from classit_eval.train import pretrain
from classit_eval.train.common import load_config
from tests.test_aoa import hand_made_cdi
from tests.tiny import TINY_LLAMA

PREDICTIONS = ("reference/babylm-2025-pipeline-outputs/opt-128/main/zero_shot/causal/reading/"
               "prediction.jsonl")
# the fast lane runs the same 30 examples each time; CLASSIT_PROPERTY_EXAMPLES=500 runs
# that many fresh random ones (how the readers' checks were found)
EXAMPLES = int(os.environ.get("CLASSIT_PROPERTY_EXAMPLES", "30"))
FAST = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 30,
                suppress_health_check=[HealthCheck.too_slow])

# any JSON value a hand-edited field may end up holding
JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 2000), st.text(max_size=6),
    st.floats(allow_nan=True, allow_infinity=True), st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1))


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def mutate_lines(draw, lines: list[str], fields: list[str]) -> list[str | bytes]:
    """One to three mutations of JSON lines: a field set to any JSON value or removed, a
    line dropped, repeated, swapped, cut, replaced by text or by bytes that are not UTF-8."""
    lines: list[str | bytes] = list(lines)
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["set", "set", "delete", "drop", "repeat", "swap", "cut",
                                     "text", "bytes"]))
        line = lines[i]
        record = _record(line) if kind in ("set", "delete") else None
        if record is not None:
            field = draw(st.sampled_from(fields))
            if kind == "set":
                record[field] = draw(JSON_VALUES)
            else:
                record.pop(field, None)
            lines[i] = json.dumps(record)
        elif kind == "drop":
            del lines[i]
        elif kind == "repeat":
            lines.insert(i, line)
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], line
        elif kind == "cut" and isinstance(line, str):
            lines[i] = line[: draw(st.integers(0, max(0, len(line) - 1)))]
        elif kind == "text":
            lines[i] = draw(st.text(max_size=12))
        else:
            lines[i] = draw(st.binary(min_size=1, max_size=4)) + b"\xff"
    return lines


def _record(line: str | bytes) -> dict | None:
    """The JSON object of a line, or None for a line that is not one (cut, replaced)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def write_lines(path: Path, lines: list[str | bytes]) -> None:
    path.write_bytes(b"".join((x.encode() if isinstance(x, str) else x) + b"\n"
                              for x in lines))


@pytest.fixture(scope="module")
def reading(shared_data: Path, eval_data: Path):
    csv = dataset.load_csv(dataset.find_csv(str(eval_data)))
    return csv, (shared_data / PREDICTIONS).read_text().splitlines()


@FAST
@given(data=st.data())
def test_reading_predictions(reading, data) -> None:
    """Accepted: one finite, non-negative surprisal per csv row, each line naming its own
    row (Index, Word, Sentence where given). Otherwise a UserError."""
    csv, official = reading
    lines = mutate_lines(data.draw, official,
                         ["Index", "Word", "Sentence", "Logprob", "Prev_Logprob"])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "prediction.jsonl"
        write_lines(path, lines)
        try:
            preds = dataset.load_predictions(path, len(csv), csv)
            frame = dataset.with_surprisals(csv, preds["pred"], preds["prev_pred"])
        except UserError:
            assert files_under(Path(folder)) == {path}
            return
    records = [json.loads(x) for x in lines if x.strip()]
    assert len(records) == len(csv) == len(frame)
    for row, record in enumerate(records):
        assert record.get("Index", row) == row
        assert record.get("Word", csv["word"][row]) == csv["word"][row]
        assert frame["pred"][row] == record["Logprob"] >= 0


@pytest.fixture(scope="module")
def cdi_words(eval_data: Path) -> list[str]:
    return list(json.loads((eval_data / "full_eval/aoa/cdi_childes.json").read_text()))[:12]


@FAST
@given(data=st.data())
def test_cdi_table(cdi_words: list[str], data) -> None:
    """Accepted: proportions in [0, 1] (NaN where empty) and child AoAs within the ages,
    or None; the pairing check passes or is a UserError."""
    with tempfile.TemporaryDirectory() as folder:
        path = hand_made_cdi(Path(folder) / "cdi_human.csv", cdi_words)
        rows = [row.split(",") for row in path.read_text().splitlines()]
        for _ in range(data.draw(st.integers(1, 3))):
            kind = data.draw(st.sampled_from(["cell", "cell", "header", "drop_cell", "row",
                                              "latin1", "bom"]))
            r = data.draw(st.integers(0, len(rows) - 1))
            c = data.draw(st.integers(0, len(rows[r]) - 1)) if rows[r] else 0
            if kind == "cell" and rows[r]:
                rows[r][c] = data.draw(st.one_of(
                    st.sampled_from(["", "NA", "nan", "inf", "-0.1", "1.5", "x", '"1,2"']),
                    st.floats(-2, 2).map(str), st.text(max_size=4)))
            elif kind == "header" and rows[0]:
                rows[0][data.draw(st.integers(0, len(rows[0]) - 1))] = data.draw(
                    st.sampled_from(["Word", "16 ", "31", "", "word"]))
            elif kind == "drop_cell" and rows[r]:
                del rows[r][c]
            elif kind == "row":
                rows.insert(r, data.draw(st.lists(st.text(max_size=4), max_size=4)))
        text = "\n".join(",".join(row) for row in rows) + "\n"
        encoding = {"latin1": "latin-1", "bom": "utf-8-sig"}.get(kind, "utf-8")
        path.write_bytes(text.encode(encoding, errors="replace"))
        try:
            table = human.read_human(path)
            child = human.child_aoas(table, cdi_words)
            human.check_pairs(path, child, cdi_words)
        except UserError:
            assert files_under(Path(folder)) == {path}
            return
    assert table.ages and all(16 <= a <= 30 for a in table.ages)
    for values in table.rows.values():
        assert all(math.isnan(v) or 0 <= v <= 1 for v in values)
    assert all(a is None or table.ages[0] <= a <= table.ages[-1] for a in child.values())
    assert sum(a is not None for a in child.values()) >= human.MIN_PAIRS


@pytest.fixture(scope="module")
def rte_lines(eval_data: Path) -> list[str]:
    return (eval_data / "full_eval/glue_filtered/rte.train.jsonl").read_text().splitlines()[:8]


@FAST
@given(data=st.data())
def test_finetune_data(rte_lines: list[str], data) -> None:
    """Accepted: one example per JSON line, texts that are strings, an integer label of
    the task (what training needs: 1.0 and true were accepted and failed mid-training)."""
    task = TASKS["rte"]
    lines = mutate_lines(data.draw, rte_lines, ["sentence1", "sentence2", "label", "idx"])
    with tempfile.TemporaryDirectory() as folder:
        glue = Path(folder) / "full_eval" / "glue_filtered"
        glue.mkdir(parents=True)
        path = glue / "rte.train.jsonl"
        write_lines(path, lines)
        try:
            examples = load_split(task, "train", folder)
        except UserError:
            assert files_under(Path(folder)) == {glue.parent, glue, path}
            return
    assert len(examples) == sum(1 for x in lines if x.strip()) > 0
    for example in examples:
        assert isinstance(example.text_a, str) and isinstance(example.text_b, str)
        assert type(example.label) is int and example.label in (0, 1)


SIZES = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
         "num_attention_heads", "num_key_value_heads", "max_position_embeddings", "head_dim"]


@FAST
@given(data=st.data())
def test_pretrain_config(data) -> None:
    """Accepted: a config whose model builds and runs a forward pass. Otherwise a
    UserError naming the file (a misspelled key was silently ignored)."""
    config = dict(TINY_LLAMA)
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["size", "value", "delete", "key"]))
        if kind == "size":
            config[data.draw(st.sampled_from(SIZES))] = data.draw(st.integers(-2, 40))
        elif kind == "value":
            key = data.draw(st.sampled_from([*TINY_LLAMA, "hidden_act", "rope_theta",
                                             "rms_norm_eps", "attention_dropout"]))
            config[key] = data.draw(JSON_VALUES)
        elif kind == "delete" and config:
            config.pop(data.draw(st.sampled_from(sorted(config))))
        else:
            config[data.draw(st.text(min_size=1, max_size=12))] = data.draw(JSON_VALUES)
    for size in ("vocab_size", "intermediate_size", "hidden_size"):  # no default of 32,000
        config.setdefault(size, TINY_LLAMA[size])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.json"
        path.write_text(json.dumps(config))
        try:
            model = pretrain.new_model(load_config(path), path)
            ids = torch.tensor([[1, 2, 3]]) % model.config.vocab_size
            logits = model(input_ids=ids).logits
        except UserError:
            assert files_under(Path(folder)) == {path}
            return
    assert logits.shape == (1, 3, model.config.vocab_size)
    for key in set(config) & set(SIZES):
        if config[key] is not None:
            assert getattr(model.config, key) == config[key]

"""The (Super)GLUE tasks of the BabyLM 2025 fine-tuning: files, input templates, labels.

Each task reads `full_eval/glue_filtered/<task>.{train,valid}.jsonl` under the evaluation
data root; its label count and the metric that picks the best epoch (the organisers'
score) are its family's (classit_eval.families.GLUE). An example becomes a text pair
(A, B) handed to the tokenizer as a pair, the way the official pipeline builds its inputs
(e.g. MultiRC: A = "Question: q Answer: a", B = the paragraph).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from classit_eval.data.files import DataError, MissingDataError, Source, find_file, read_jsonl
from classit_eval.families import GLUE, GLUE_FOLDER

log = logging.getLogger(__name__)

OSF_HINT = (
    "It is part of the official BabyLM 2025 evaluation data (https://osf.io/ryjfm/, "
    "evaluation_data/full_eval/glue_filtered/); put it there or run `classit-eval download-data`."
)
MULTIRC_HINT = (
    " Or build an (unfiltered) MultiRC train set from the original SuperGLUE "
    "MultiRC/train.jsonl: `classit-finetune --multirc-train-from PATH/train.jsonl ...`."
)


@dataclass(frozen=True)
class Example:
    """One labelled input: a text pair, its gold label and its `idx` in the file."""

    text_a: str
    text_b: str | None
    label: int
    idx: int | dict | None


@dataclass(frozen=True)
class Task:
    """A fine-tuning task (`name`: a key of families.GLUE) and its official defaults."""

    name: str
    fields: tuple[str, ...]
    pair: Callable[[dict], tuple[str, str | None]]
    batch_size: int = 32
    epochs: int = 10

    @property
    def num_labels(self) -> int:
        return GLUE[self.name].labels

    @property
    def valid_metric(self) -> str:
        """The metric that picks the best epoch: the organisers' score of the task."""
        return GLUE[self.name].metrics[0]

    @property
    def metrics(self) -> tuple[str, ...]:
        """Metrics reported: acc, f1, mcc (binary tasks); acc and mcc for 3-way MNLI."""
        return ("acc", "f1", "mcc") if self.num_labels == 2 else ("acc", "mcc")

    @property
    def lm_eval_name(self) -> str:
        return GLUE[self.name].task


def _fields(a: str, b: str) -> Callable[[dict], tuple[str, str]]:
    return lambda r: (r[a], r[b])


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task("boolq", ("question", "passage"), _fields("question", "passage"), batch_size=16),
        Task(
            "multirc", ("paragraph", "question", "answer"),
            lambda r: (f"Question: {r['question']} Answer: {r['answer']}", r["paragraph"]),
            batch_size=16,
        ),
        Task("rte", ("sentence1", "sentence2"), _fields("sentence1", "sentence2")),
        Task(
            "wsc", ("text", "span1_text", "span2_text"),
            lambda r: (f'Does "{r["span2_text"]}" refer to "{r["span1_text"]}" in this passage?',
                       r["text"]),
            epochs=30,
        ),
        Task("mrpc", ("sentence1", "sentence2"), _fields("sentence1", "sentence2")),
        Task("qqp", ("question1", "question2"), _fields("question1", "question2")),
        Task("mnli", ("premise", "hypothesis"), _fields("premise", "hypothesis")),
    )
}


def get_task(name: str) -> Task:
    """The task called `name`; an unknown name raises ValueError listing the known ones."""
    try:
        return TASKS[name.strip().lower()]
    except KeyError:
        raise ValueError(
            f"Unknown fine-tuning task {name!r}. Known tasks: {', '.join(TASKS)}."
        ) from None


def _examples(task: Task, source: Source, records: list[dict]) -> list[Example]:
    """Records to examples, checking each label is in the task's label set (an integer:
    1.0 or true would pass `in range(...)` and fail mid-training); no examples is an error."""
    if not records:
        raise DataError(f"{source}: no {task.name} examples (the file holds no JSON line). "
                        "Give the task's file with its examples.")
    out = []
    for number, record in enumerate(records, start=1):
        label = record["label"]
        if type(label) is not int or label not in range(task.num_labels):
            raise DataError(
                f"{source}, line {number}: label {label!r} is not a {task.name} label "
                f"(expected an integer in 0..{task.num_labels - 1}). Fix or remove the line."
            )
        texts = [f for f in task.fields if not isinstance(record[f], str)]
        if texts:
            raise DataError(f"{source}, line {number}: {texts[0]} is "
                            f"{json.dumps(record[texts[0]])[:40]}, not a text. Fix or remove "
                            "the line.")
        out.append(Example(*task.pair(record), label=label, idx=record.get("idx")))
    return out


def load_split(task: Task, split: str, data_dir: str | os.PathLike | None = None) -> list[Example]:
    """The `split` ("train" or "valid") examples of `task` from the evaluation data root."""
    relative = f"{GLUE_FOLDER}/{task.name}.{split}.jsonl"
    try:
        source = find_file(relative, data_dir, task=task.lm_eval_name)
    except MissingDataError as err:
        hint = OSF_HINT + (MULTIRC_HINT if task.name == "multirc" and split == "train" else "")
        raise MissingDataError(f"{task.name}: {relative} is missing. {err} {hint}") from err
    return _examples(task, source, read_jsonl(source, (*task.fields, "label")))


def multirc_from_superglue(path: str | os.PathLike) -> list[Example]:
    """MultiRC train examples flattened from the original nested SuperGLUE file.

    The result is the whole SuperGLUE split, not the filtered BabyLM subset.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"--multirc-train-from: {path} does not exist.")
    task, records = TASKS["multirc"], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            passage = item["passage"]
            records += [
                {"paragraph": passage["text"], "question": q["question"], "answer": a["text"],
                 "label": a["label"],
                 "idx": {"paragraph": item["idx"], "question": q["idx"], "answer": a["idx"]}}
                for q in passage["questions"] for a in q["answers"]
            ]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise DataError(
                f"{path}, line {number}: not a SuperGLUE MultiRC record ({err!r}); expected "
                "{idx, passage: {text, questions: [{question, idx, "
                "answers: [{text, idx, label}]}]}}."
            ) from err
    log.warning("multirc: training on %d answers flattened from %s (the unfiltered SuperGLUE "
                "split, not the official BabyLM subset).", len(records), path)
    return _examples(task, Source(path), records)

"""Write a fine-tuning run as lm-eval results, and its per-example predictions.

`<output_path>/<model>/results_<timestamp>.json` has the keys and layout of the file
`lm_eval --output_path` writes (task `classit_finetune_<task>`, metrics as `"acc,none"`),
so tools that read lm-eval results (`classit-zscore`) read it beside zero-shot results.
`predictions_classit_finetune_<task>_<timestamp>.jsonl` beside it has one line per
validation example: `doc_id` (its index in the file), `id`, `idx`, `pred`, `gold`.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import lm_eval
import numpy as np
import torch
import transformers
from lm_eval.api.metrics import mean_stderr
from lm_eval.utils import handle_non_serializable, sanitize_model_name

from classit_eval.finetune.tasks import GLUE_FOLDER, Example, Task
from classit_eval.finetune.train import Run

VERSION = 1.0


def model_folder(output_path: str | Path, model: str) -> Path:
    """`<output_path>/<model name sanitized as lm-eval does>`."""
    return Path(output_path) / sanitize_model_name(model)


def results_dict(model: str, task: Task, run: Run, start: float, end: float) -> dict:
    """The lm-eval results document of one task."""
    name = task.lm_eval_name
    correct = (np.array(run.predictions) == np.array(run.labels)).astype(float).tolist()
    metrics: dict[str, object] = {"alias": name}
    for metric, value in run.metrics.items():
        metrics[f"{metric},none"] = value
        metrics[f"{metric}_stderr,none"] = mean_stderr(correct) if metric == "acc" else "N/A"
    n = len(run.labels)
    config = {
        "task": name,
        "tag": ["classit_finetune"],
        "dataset_path": f"{GLUE_FOLDER}/{task.name}",
        "training_split": "train",
        "validation_split": "valid",
        "output_type": "fine-tune",
        "num_fewshot": 0,
        "metric_list": [{"metric": m, "aggregation": m, "higher_is_better": True}
                        for m in task.metrics],
        "metadata": {
            "version": VERSION, **run.settings, "pooling": run.pooling,
            "best_epoch": run.best_epoch, "train_examples": run.train_examples,
            "validation_per_epoch": run.epochs,
        },
    }
    return {
        "results": {name: metrics},
        "group_subtasks": {name: []},
        "configs": {name: config},
        "versions": {name: VERSION},
        "n-shot": {name: 0},
        "higher_is_better": {name: {m: True for m in task.metrics}},
        "n-samples": {name: {"original": n, "effective": n}},
        "config": {
            "model": "classit-finetune",
            "model_args": f"pretrained={model},pooling={run.pooling}",
            "batch_size": run.settings["batch_size"],
            "device": "cuda" if torch.cuda.is_available() else "cpu",
            "random_seed": run.settings["seed"],
            "numpy_seed": run.settings["seed"],
            "torch_seed": run.settings["seed"],
            **run.model_info,
        },
        **run.tokenizer_info,
        "date": start,
        "transformers_version": transformers.__version__,
        "lm_eval_version": lm_eval.__version__,
        "model_name": model,
        "model_name_sanitized": sanitize_model_name(model),
        "start_time": start,
        "end_time": end,
        "total_evaluation_time_seconds": str(end - start),
    }


def write(output_path: str | Path, model: str, task: Task, valid: list[Example], run: Run,
          start: float) -> tuple[Path, Path]:
    """Write the results JSON and the predictions file; return their paths."""
    folder = model_folder(output_path, model)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().isoformat().replace(":", "-")
    results = folder / f"results_{stamp}.json"
    document = results_dict(model, task, run, start, time.time())
    results.write_text(json.dumps(document, indent=2, default=handle_non_serializable) + "\n")
    predictions = folder / f"predictions_{task.lm_eval_name}_{stamp}.jsonl"
    with predictions.open("w", encoding="utf-8") as out:
        for i, (example, pred, gold) in enumerate(zip(valid, run.predictions, run.labels,
                                                      strict=True)):
            line = {"doc_id": i, "id": f"{task.name}_{i}", "idx": example.idx,
                    "pred": pred, "gold": gold}
            out.write(json.dumps(line) + "\n")
    return results, predictions

"""Write a fine-tuning run as lm-eval results, and its per-example predictions.

lm-eval's own pieces write the results file: `TaskConfig` gives the config entry,
`EvaluationTracker` the run's general fields (model name, times) and the file
`<output_path>/<model>/results_<timestamp>.json`, `lmeval.results` the versions. So tools
that read lm-eval results (`classit-zscore`) read it beside zero-shot results; the task is
`classit_finetune_<task>`, metrics keyed `"acc,none"` as lm-eval keys them.

`predictions_classit_finetune_<task>_<timestamp>.jsonl` beside it has one line per
validation example: `doc_id` (its index in the file), `id`, `idx`, `pred`, `gold`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from lm_eval.api.metrics import mean_stderr
from lm_eval.api.task import TaskConfig
from lm_eval.loggers import EvaluationTracker
from lm_eval.utils import sanitize_model_name

from classit_eval.errors import ResultsError
from classit_eval.finetune.tasks import GLUE_FOLDER, Example, Task
from classit_eval.finetune.train import Finetuned
from classit_eval.lmeval.results import env_info, task_document

VERSION = 1.0
MODEL_SOURCE = "classit-finetune"


def model_folder(output_path: str | Path, model: str) -> Path:
    """`<output_path>/<model name sanitized as lm-eval does>`."""
    return Path(output_path) / sanitize_model_name(model)


def results_dict(model: str, task: Task, run: Finetuned, start: float) -> dict:
    """The task-level part of the lm-eval results document of one fine-tuned task."""
    name = task.lm_eval_name
    correct = (np.array(run.predictions) == np.array(run.labels)).astype(float).tolist()
    metrics: dict[str, object] = {"alias": name}
    for metric, value in run.metrics.items():
        metrics[f"{metric},none"] = value
        metrics[f"{metric}_stderr,none"] = mean_stderr(correct) if metric == "acc" else "N/A"
    n = len(run.labels)
    config = TaskConfig(
        task=name, tag=["classit_finetune"], dataset_path=f"{GLUE_FOLDER}/{task.name}",
        training_split="train", validation_split="valid", output_type="fine-tune",
        num_fewshot=0,
        metric_list=[{"metric": m, "aggregation": m, "higher_is_better": True}
                     for m in task.metrics],
        metadata={
            "version": VERSION, **run.settings, "pooling": run.pooling,
            "best_epoch": run.best_epoch, "train_examples": run.train_examples,
            "validation_per_epoch": run.epochs,
        },
    )
    run_config = {
        "model": MODEL_SOURCE,
        "model_args": f"pretrained={model},pooling={run.pooling}"
                      + (",trust_remote_code=True" if run.settings.get("trust_remote_code")
                         else ""),
        "batch_size": run.settings["batch_size"],
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "random_seed": run.settings["seed"],
        "numpy_seed": run.settings["seed"],
        "torch_seed": run.settings["seed"],
        **run.model_info,
    }
    document = task_document(name, metrics, config.to_dict(), VERSION,
                             {m: True for m in task.metrics}, n, run_config, start)
    return {**document, **run.tokenizer_info}


def write(output_path: str | Path, model: str, task: Task, valid: list[Example], run: Finetuned,
          start: float) -> tuple[Path, Path]:
    """Write the results JSON and the predictions file; return their paths."""
    tracker = EvaluationTracker(output_path=str(output_path))
    general = tracker.general_config_tracker
    general.log_experiment_args(model_source=MODEL_SOURCE, model_args=f"pretrained={model}",
                                system_instruction=None, chat_template=None,
                                fewshot_as_multiturn=False)
    general.start_time -= time.time() - start  # the tracker times from its creation
    document = results_dict(model, task, run, start)
    document.update(env_info())
    tracker.save_results_aggregated(results=document)
    folder = model_folder(output_path, model)
    results = folder / f"results_{tracker.date_id}.json"
    if not results.is_file():  # lm-eval logs a failed save as a warning only
        raise ResultsError(f"lm-eval could not write {results}: check that {folder} is writable.")
    predictions = folder / f"predictions_{task.lm_eval_name}_{tracker.date_id}.jsonl"
    with predictions.open("w", encoding="utf-8") as out:
        for i, (example, pred, gold) in enumerate(zip(valid, run.predictions, run.labels,
                                                      strict=True)):
            line = {"doc_id": i, "id": f"{task.name}_{i}", "idx": example.idx,
                    "pred": pred, "gold": gold}
            out.write(json.dumps(line) + "\n")
    return results, predictions

"""The small metadata file every training step writes into its output folder.

`classit_train.json` records what made the folder: the command, its inputs (config, data
files with sha256), seed, curriculum, words seen. Keys read by other tools
(`classit-zscore` groups models by them):

- `command`: tokenizer | pretrain | instruct | instructions-switchboard | instructions-wiki
- `step`, `total_steps`: optimizer steps done and planned; `global_batch`: examples per
  step (batch_size x grad_accum x processes)
- `model_size`: parameter count rounded to millions, e.g. "100M" (pretrain, instruct)
- `curriculum`: none for a pretrained model; merged | switch_wiki | wiki_switch | <source>
- `words_seen`: words of training data seen (BabyLM counting), `revision`: e.g. chck_1M
- `base`: for instruct, the metadata of the pretrained checkpoint it started from
- the recipe, the loop's options (`loop.Options.recipe`): lr, batch_size, grad_accum,
  epochs, warmup_steps, weight_decay, seed, schedule, ...
"""

from __future__ import annotations

import datetime
import json
import platform
from collections.abc import Sequence
from pathlib import Path

import classit_eval
from classit_eval.names import TRAINING_METADATA as FILENAME
from classit_eval.train.common import file_records


def model_size(parameters: int) -> str:
    """A parameter count as the paper labels it (truncated): 100684288 -> "100M"."""
    if parameters >= 10**6:
        return f"{parameters // 10**6}M"
    return f"{parameters // 10**3}K"


def write(folder: Path, command: str, files: Sequence[Path | dict] = (), filename: str = FILENAME,
          **fields) -> Path:
    """Write `folder/classit_train.json` (or `folder/filename`) and return its path.

    `files` are paths (hashed here) or records already made by `common.file_records`.
    """
    paths = [f for f in files if not isinstance(f, dict)]
    record = {
        "command": command,
        **fields,
        "files": [f for f in files if isinstance(f, dict)] + file_records(paths),
        "classit_eval_version": classit_eval.__version__,
        "python": platform.python_version(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path = Path(folder) / filename
    path.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def read(folder: Path) -> dict:
    """The metadata of a checkpoint folder, or {} when it has none."""
    path = Path(folder) / FILENAME
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

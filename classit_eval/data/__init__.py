"""Everything the package reads from outside: the BabyLM 2025 evaluation data (where it
lives, how its files are read, its download and manifest) and the offline SmolLM2 model.

The file API is re-exported here (`from classit_eval.data import find_file`).
"""

from classit_eval.data.files import (
    DATA_DIR_ENV,
    DataError,
    MissingDataError,
    Source,
    cache_dir,
    data_root,
    find_file,
    find_files,
    iter_jsonl,
    read_jsonl,
)

__all__ = [
    "DATA_DIR_ENV", "DataError", "MissingDataError", "Source", "cache_dir", "data_root",
    "find_file", "find_files", "iter_jsonl", "read_jsonl",
]

"""Shared fixtures: where the real data is, and tiny models built from it.

The shared data root (the folder holding `babylm-2025/`, `corpora/`, `reference/`) comes
from $CLASSIT_SHARED_DATA, else `../shared/data` beside the repository. The evaluation
data root handed to the package is `$CLASSIT_DATA_DIR`, else `<shared>/babylm-2025`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

# before anything imports huggingface_hub, which reads these once: online, every hub look-up
# of a model that is not there waits for network time-outs (46 s for lm-eval's dummy model)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402

from classit_eval import cli  # noqa: E402
from classit_eval.train.corpus import CACHE_ENV  # noqa: E402
from tests.tiny import build_tiny_hybrid, build_tiny_model, tiny_pretrain_argv  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CLASSIT_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("CLASSIT_DATA_DIR", str(SHARED / "babylm-2025"))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED / "babylm-2025").is_dir():
        pytest.fail(
            f"Real test data not found at {SHARED}. Set CLASSIT_SHARED_DATA to the folder "
            "that holds babylm-2025/, corpora/ and reference/."
        )
    return SHARED


@pytest.fixture(scope="session")
def eval_data(shared_data: Path) -> Path:
    """The BabyLM 2025 evaluation data root (official `evaluation_data/` layout)."""
    return Path(os.environ["CLASSIT_DATA_DIR"])


@pytest.fixture(scope="session")
def corpus_file(shared_data: Path) -> Path:
    return shared_data / "corpora" / "babylm-samples" / "train_100k" / "simple_wiki.train"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, corpus_file: Path) -> Path:
    """A tiny LLaMA whose tokenizer prepends BOS (as LLaMA tokenizers do)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), corpus_file, add_bos=True)


@pytest.fixture(scope="session")
def tiny_model_nobos(tmp_path_factory: pytest.TempPathFactory, corpus_file: Path) -> Path:
    """A tiny LLaMA whose tokenizer adds no special token (as GPT-2's does)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-nobos"), corpus_file, add_bos=False)


@pytest.fixture(scope="session")
def tiny_hybrid(tmp_path_factory: pytest.TempPathFactory, corpus_file: Path) -> Path:
    """A tiny GPT-BERT-style model with remote code (tests/tiny.py, build_tiny_hybrid)."""
    return build_tiny_hybrid(tmp_path_factory.mktemp("tiny-hybrid"), corpus_file)


@pytest.fixture(scope="session")
def pretrained(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path,
               shared_data: Path) -> Path:
    """A tiny LLaMA pretrained on 8k words, with chck_2K, chck_4K and chck_6K saved."""
    folder = tmp_path_factory.mktemp("pretrain")
    text = shared_data / "corpora" / "babylm-samples" / "train_100k" / "bnc_spoken.train"
    out = folder / "model"
    assert cli.train_main(tiny_pretrain_argv(
        text, tiny_model, out, "--seq-len", "64", "--max-steps", "40", "--warmup-steps", "5",
        "--checkpoint-words", "2k,4k,6k", positions=512)) == 0
    return out


@pytest.fixture(scope="session", autouse=True)
def token_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Pretraining, in any test or fixture, tokenises into a temporary cache, never the
    user's (a test that needs a cache of its own overrides this fixture)."""
    cache = tmp_path_factory.getbasetemp() / "tokens"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(cache))
        yield cache


@pytest.fixture(autouse=True)
def no_stale_log_streams():
    """lm-eval's CLI gives its loggers a StreamHandler on the sys.stderr of the moment:
    under capsys, a stream closed after that test, so a later test's log lines would
    print 'Logging error' tracebacks into its captured stderr. Drop such handlers."""
    loggers = [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values()
                                      if isinstance(lg, logging.Logger))]
    for logger in loggers:
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler) and getattr(handler.stream,
                                                                      "closed", False):
                logger.removeHandler(handler)
    yield

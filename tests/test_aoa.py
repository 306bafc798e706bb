"""The AoA task (`classit-eval aoa`) on a tiny LLaMA trained by `classit-train pretrain`
with four checkpoint milestones, on the real `full_eval/aoa/cdi_childes.json` (its first
words for the fast tests, all 8,005 contexts in the slow one), against the independent
restatement of the official computation (tests/oracles/official_aoa.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from classit_eval import cli
from classit_eval.aoa import fit, surprisal
from classit_eval.aoa.cli import loader
from classit_eval.aoa.words import WordContext, Words, read_words
from classit_eval.data.series import Checkpoint
from classit_eval.errors import DataError, OptionError
from classit_eval.leaderboard import check
from classit_eval.leaderboard.export import read_aoa
from classit_eval.scoring import boundary_ids
from tests.oracles import official_aoa
from tests.tiny import tiny_pretrain_argv

STEPS = ["chck_1K", "chck_3K", "chck_10K", "chck_30K"]
SUBSET = 12  # the real file's first words (and "alligator", which has no context)


@pytest.fixture(scope="module")
def series(tmp_path_factory, tiny_model: Path, shared_data: Path) -> Path:
    """A tiny LLaMA pretrained on 43k words of BNC with chck_1K, 3K, 10K and 30K saved (a
    high learning rate, so that some words are learned: 4 of the subset's 12 get an
    official AoA)."""
    folder = tmp_path_factory.mktemp("aoa-pretrain")
    text = shared_data / "corpora" / "babylm-samples" / "train_100k" / "bnc_spoken.train"
    out = folder / "model"
    assert cli.train_main(tiny_pretrain_argv(
        text, tiny_model, out, "--seq-len", "64", "--max-steps", "200", "--lr", "3e-3",
        "--warmup-steps", "10", "--checkpoint-words", "1k,3k,10k,30k",
        positions=1024)) == 0  # 1024 positions: the longest context is 583 tokens
    return out


@pytest.fixture(scope="module")
def words_file(tmp_path_factory, eval_data: Path) -> Path:
    """The first SUBSET words of the real file and their contexts, plus `alligator`."""
    data = json.loads((eval_data / "full_eval/aoa/cdi_childes.json").read_text())
    keep = [*list(data)[:SUBSET], "alligator"]
    path = tmp_path_factory.mktemp("aoa-words") / "cdi_subset.json"
    path.write_text(json.dumps({w: data[w] for w in keep}))
    return path


def hand_made_cdi(path: Path, words: list[str]) -> Path:
    """A hand-made CDI table in the official layout (NOT Wordbank data): each word's share
    of children producing it rises along a logistic whose midpoint moves with the word's
    position; some cells are empty, one word appears twice (the first row counts) and the
    last word is left out."""
    lines = ["word," + ",".join(str(a) for a in range(16, 31))]
    for i, word in enumerate(words[:-1]):
        middle, slope = 17 + (i * 7) % 12, 0.4 + (i % 5) * 0.15
        cells = [f"{1 / (1 + math.exp(-slope * (age - middle))):.4f}" for age in range(16, 31)]
        if i % 4 == 1:
            cells[3] = ""
        lines.append(f"{word}," + ",".join(cells))
    lines.append(f"{words[0]}," + ",".join(["0.9"] * 15))
    path.write_text("\n".join(lines) + "\n")
    return path


def run_aoa(model: Path, out: Path, *extra: str) -> int:
    device = [] if "--device" in extra else ["--device", "cpu"]
    return cli.main(["aoa", "--model", str(model), "--output-dir", str(out),
                     "--batch-size", "128", *device, *extra])


@pytest.fixture(scope="module")
def official_run(series: Path, words_file: Path, tmp_path_factory) -> Path:
    """`classit-eval aoa --mode babylm2025` on the subset, with the hand-made CDI table."""
    out = tmp_path_factory.mktemp("aoa-official")
    words = list(json.loads(words_file.read_text()))
    cdi = hand_made_cdi(out.parent / "cdi_human.csv", words)
    assert run_aoa(series, out, "--mode", "babylm2025", "--words-file", str(words_file),
                   "--human", str(cdi), "--null-permutations", "4") == 0
    return out


def test_babylm2025_surprisals_equal_the_official_computation(series: Path, words_file: Path):
    """In float64, every surprisal equals the official per-context forward pass."""
    words = read_words(words_file)
    checkpoint = Checkpoint("chck_3K", str(series / "chck_3K"))
    tokenizer = AutoTokenizer.from_pretrained(checkpoint.pretrained)
    scored = surprisal.score_series(words, [checkpoint], "babylm2025",
                                    loader("cpu", "float64"), tokenizer, batch_size=16,
                                    progress=lambda _: None)
    model = AutoModelForCausalLM.from_pretrained(checkpoint.pretrained,
                                                 dtype=torch.float64).eval()
    for item, value in zip(words.items, scored.surprisal["chck_3K"], strict=True):
        assert value == pytest.approx(
            official_aoa.surprisal(model, tokenizer, item.context, item.word), abs=1e-9)


def test_full_mode_scores_every_word_token_after_bos(series: Path, words_file: Path):
    """`full`: [BOS] + the running text, the word's tokens (leading space included) summed;
    and an empty context is the word after BOS alone."""
    words = read_words(words_file)
    items = [*words.items[:20], WordContext("ball", 0, "   ")]
    checkpoint = Checkpoint("chck_30K", str(series / "chck_30K"))
    tokenizer = AutoTokenizer.from_pretrained(checkpoint.pretrained)
    runs = {wp: surprisal.score_series(Words(items, ["x"]), [checkpoint], "full",
                                       loader("cpu", "float64"), tokenizer,
                                       progress=lambda _: None, word_prob=wp)
            for wp in ("raw", None)}  # None: the default, corrected
    model = AutoModelForCausalLM.from_pretrained(checkpoint.pretrained,
                                                 dtype=torch.float64).eval()
    starts = torch.tensor(boundary_ids(tokenizer))
    assert runs[None].word_prob == "corrected"
    for k, item in enumerate(items):
        context = item.context.strip()
        enc = tokenizer(context + " " + item.word, add_special_tokens=False,
                        return_offsets_mapping=True)
        ids = [tokenizer.bos_token_id, *enc["input_ids"]]
        scored_at = [k + 1 for k, (_, end) in enumerate(enc["offset_mapping"])
                     if end > len(context)]
        with torch.no_grad():
            logp = model(torch.tensor([ids])).logits[0].log_softmax(-1)
        raw = -sum(float(logp[p - 1, ids[p]]) for p in scored_at)
        assert runs["raw"].surprisal["chck_30K"][k] == pytest.approx(raw, abs=1e-9)
        # corrected: the word must end (a word start or EOS next), given that one began
        after = float(logp[len(ids) - 1, starts].logsumexp(-1))
        before = float(logp[scored_at[0] - 1, starts].logsumexp(-1)) if context else 0.0
        assert runs[None].surprisal["chck_30K"][k] == pytest.approx(raw - after + before,
                                                                    abs=1e-9)


def test_word_prob_option() -> None:
    assert surprisal.word_prob_for("babylm2025", None) == "raw"
    assert surprisal.word_prob_for("full", None) == "corrected"
    assert surprisal.word_prob_for("full", "raw") == "raw"
    with pytest.raises(OptionError, match="--word-prob corrected needs --mode full"):
        surprisal.word_prob_for("babylm2025", "corrected")


def test_official_json_fits_and_pearson_equal_the_restatement(official_run: Path,
                                                               words_file: Path):
    data = read_aoa(official_run / "surprisal.json")
    rows = data["results"]
    words = read_words(words_file)
    assert [r["step"] for r in rows[:: len(words.items)]] == STEPS
    assert len(rows) == 4 * len(words.items) and rows[0].keys() == {
        "step", "word_count", "target_word", "context_id", "context", "surprisal"}
    assert {r["word_count"] for r in rows} == {1000, 3000, 10000, 30000}
    ours = {f.word: f for f in fit.fit_rows(rows, "babylm2025", words.words)}
    theirs = official_aoa.model_aoas(data)
    assert set(theirs) == {w for w in words.words if words.contexts[w]}
    for word, aoa in theirs.items():
        assert (ours[word].aoa is None) == (aoa is None), word
        if aoa is not None:
            assert ours[word].aoa == pytest.approx(aoa, abs=1e-6)
    assert sum(a is not None for a in theirs.values()) >= 3  # the comparison bites
    assert ours["alligator"].reason == "no contexts in the words file"
    table = json.loads((official_run / "aoa_words.json").read_text())
    fitness = official_aoa.curve_fitness(data, official_run.parent / "cdi_human.csv")
    assert table["paired_words"] == fitness["words"] and len(fitness["words"]) >= 3
    assert table["pearson"] == pytest.approx(fitness["curve_fitness"], abs=1e-6)
    results = json.loads((official_run / "results_classit_aoa.json").read_text())
    assert results["results"]["classit_aoa"]["pearson,none"] == table["pearson"]
    null = table["null"]  # --null-permutations 4: the same null in both files
    assert null["pearson_null_n"] == 4 and null["pearson_null_p"] in {k / 5 for k in range(1, 6)}
    assert results["results"]["classit_aoa"]["pearson_null_p,none"] == null["pearson_null_p"]


def test_full_mode_run_and_the_missing_cdi_table(series: Path, words_file: Path,
                                                 tmp_path: Path, capsys):
    out = tmp_path / "out"
    assert run_aoa(series, out, "--words-file", str(words_file)) == 0
    captured = capsys.readouterr()
    notes = [line for line in captured.err.splitlines() if "cdi_human.csv" in line]
    assert notes == [line for line in captured.err.splitlines() if "note:" in line]
    assert len(notes) == 1 and "no Pearson r" in notes[0] and "download-data" in notes[0]
    results = json.loads((out / "results_classit_aoa.json").read_text())
    assert "pearson,none" not in results["results"]["classit_aoa"]
    table = json.loads((out / "aoa_words.json").read_text())
    words = read_words(words_file)
    reasons = {w["word"]: w["reason"] for w in table["words"]}
    assert list(reasons) == words.words  # every word is reported, none dropped
    for word, n in words.contexts.items():
        if 0 < n < 20:
            assert reasons[word] == f"{n} contexts, fewer than 20"
    assert reasons["alligator"] == "no contexts in the words file"
    assert (out / "aoa.png").stat().st_size > 10_000
    metadata = json.loads((out / "surprisal.json").read_text())["metadata"]
    assert metadata["classit"]["mode"] == "full" and metadata["completed_steps"] == 4


@pytest.mark.slow
def test_a_table_of_words_the_model_has_no_aoa_for_is_a_note(series: Path, words_file: Path,
                                                             tmp_path: Path, capsys):
    """Full mode gives no AoA to a word with fewer than 20 contexts: with only such words
    (the subset's five with the fewest, 48 contexts) a CDI table of them pairs none, so
    there is no Pearson r (it was a NaN that failed the write, after surprisal.json)."""
    data = json.loads(words_file.read_text())
    few = sorted((w for w in data if 0 < len(data[w]) < 20), key=lambda w: len(data[w]))[:5]
    small = tmp_path / "few.json"
    small.write_text(json.dumps({w: data[w] for w in few}))
    cdi = hand_made_cdi(tmp_path / "cdi.csv", few)
    out = tmp_path / "out"
    assert run_aoa(series, out, "--words-file", str(small), "--human", str(cdi)) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "note:" in line]
    assert notes == ["classit-eval aoa: note: no Pearson r: 0 word(s) have both a model AoA "
                     "and a child AoA, and a correlation needs 3. The surprisals and the model "
                     "AoAs are written."]
    table = json.loads((out / "aoa_words.json").read_text())
    assert table["pearson"] is None and table["paired_words"] == []
    assert sum(w["child_aoa"] is not None for w in table["words"]) >= 3
    results = json.loads((out / "results_classit_aoa.json").read_text())
    assert "pearson,none" not in results["results"]["classit_aoa"]


def test_corrected_fit_recovers_a_known_sigmoid():
    """Mean surprisals on an exact sigmoid over 8 checkpoints: the AoA is where it crosses
    halfway between chance and its lowest value, to 1e-6."""
    seen = [10.0 ** k for k in (3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5)]
    a, b, c, d = 8.0, 2.5, 4.7, -14.0
    curve = [-float(fit.sigmoid(np.log10(w), a, b, c, d)) for w in seen]
    chance = 2 * math.log(600)
    got = fit.corrected_aoa("dog", seen, curve, chance, contexts=20, min_contexts=20)
    lowest = -float(fit.sigmoid(6.5, a, b, c, d))
    level = -(chance - 0.5 * (chance - lowest))
    assert got.aoa == pytest.approx(c - math.log(a / (level - d) - 1) / b, abs=1e-6)
    few = fit.corrected_aoa("dog", seen[:3], curve[:3], chance, contexts=20, min_contexts=20)
    assert few.aoa is None and few.reason == "3 checkpoints, a sigmoid needs 4"
    flat = fit.corrected_aoa("dog", seen, [20.0] * 8, chance, contexts=20, min_contexts=20)
    assert flat.aoa is None and flat.reason is not None


def test_same_results_whatever_the_batch_size(series: Path, words_file: Path):
    words = read_words(words_file)
    checkpoint = Checkpoint("chck_10K", str(series / "chck_10K"))
    tokenizer = AutoTokenizer.from_pretrained(checkpoint.pretrained)
    runs = {(dtype, size): surprisal.score_series(
        words, [checkpoint], "full", loader("cpu", dtype), tokenizer, batch_size=size,
        progress=lambda _: None).surprisal["chck_10K"]
        for dtype in ("float32", "float64") for size in (1, 64)}
    for dtype, tolerance in (("float64", 1e-10), ("float32", 1e-4)):
        one, many = np.array(runs[dtype, 1]), np.array(runs[dtype, 64])
        assert np.abs(one - many).max() < tolerance


def test_empty_context_without_bos(tiny_model_nobos: Path):
    """babylm2025 with a tokenizer that adds no BOS: an empty context leaves the word's
    first token unscored (the official rule, counted); a one-token word has nothing scored
    (an error naming it). `full` puts the EOS prefix in front and scores it all."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_nobos)
    checkpoint = Checkpoint("chck_1K", str(tiny_model_nobos))
    load = loader("cpu", "float32")
    one = next(w for w in ("the", "a", "and") if len(tokenizer(" " + w)["input_ids"]) == 1)
    two = "zebra"
    assert len(tokenizer(" " + two)["input_ids"]) > 1
    scored = surprisal.score_series(Words([WordContext(two, 0, " ")], [two]), [checkpoint],
                                    "babylm2025", load, tokenizer, progress=lambda _: None)
    assert scored.unscored_first == 1
    assert scored.word_tokens == [len(tokenizer(" " + two)["input_ids"]) - 1]
    with pytest.raises(DataError, match=f"AoA word '{one}', context 0: no token"):
        surprisal.score_series(Words([WordContext(one, 0, "")], [one]), [checkpoint], "babylm2025",
                               load, tokenizer, progress=lambda _: None)
    full = surprisal.score_series(Words([WordContext(one, 0, "")], [one]), [checkpoint], "full",
                                  load, tokenizer, progress=lambda _: None)
    assert full.word_tokens == [1] and full.unscored_first == 0


@pytest.mark.parametrize(("case", "message"), [
    ("three", "3 checkpoint(s) (chck_1K, chck_3K, chck_10K); a learning curve needs at least 4"),
    ("unnamed", "main: a checkpoint name must say the words it has seen"),
    ("twice", "revision chck_1K is listed twice"),
    ("same_words", "revision chck_1000 and chck_1K name the same checkpoint"),
    ("words", "context 0 of 'dog' has no \"context\" text"),
    ("words_encoding", "the AoA words file is not UTF-8 text (byte 5)"),
    ("cdi", "expected a `word` column and age columns 16..30"),
    ("cdi_encoding", "the CDI table is not UTF-8 text (byte "),
    ("cdi_pairs", "the CDI table gives a child AoA to 2 of the 12 words of the words file (2 "
                  "found in its `word` column), and a Pearson r needs 3"),
    ("cuda", "argument --device: cuda: this machine has no CUDA device"),
])
def test_bad_input_is_one_line_and_no_file(series: Path, words_file: Path, tmp_path: Path,
                                           capsys, case: str, message: str):
    """Each refused before a checkpoint is scored: duplicate revisions passed the 4-checkpoint
    minimum, and a CDI table pairing under 3 words ended in a NaN after surprisal.json."""
    out, extra = tmp_path / "out", ["--words-file", str(words_file)]
    words = list(json.loads(words_file.read_text()))
    bad = tmp_path / "bad"
    if case == "three":
        extra += ["--revisions", "chck_1K,chck_3K,chck_10K"]
    elif case == "unnamed":
        extra += ["--revisions", "chck_1K,chck_3K,chck_10K,main"]
    elif case == "twice":
        extra += ["--revisions", "chck_1K,chck_1K,chck_3K,chck_10K"]
    elif case == "same_words":  # a series where chck_1000 is chck_1K under another name
        copy = tmp_path / "model"
        for name, target in (("chck_1K", "chck_1K"), ("chck_1000", "chck_1K"),
                             ("chck_3K", "chck_3K"), ("chck_10K", "chck_10K")):
            (copy / name).mkdir(parents=True)
            for item in (series / target).iterdir():
                (copy / name / item.name).symlink_to(item)
        series = copy
        extra += ["--revisions", "chck_1K,chck_1000,chck_3K,chck_10K"]
    elif case == "words":
        bad.write_text(json.dumps({"dog": [{"text": "a"}]}))
        extra = ["--words-file", str(bad)]
    elif case == "words_encoding":
        bad.write_bytes('{"caf\u00e9": [{"context": "a"}]}'.encode("latin-1"))
        extra = ["--words-file", str(bad)]
    elif case == "cdi":
        bad.write_text("item,16,17\ndog,0.1,0.2\n")
        extra += ["--human", str(bad)]
    elif case == "cdi_encoding":
        hand_made_cdi(bad, words)
        text = bad.read_text().replace(words[1], "caf\u00e9", 1)
        bad.write_bytes(text.encode("latin-1"))
        extra += ["--human", str(bad)]
    elif case == "cdi_pairs":  # the table of the first two words only
        hand_made_cdi(bad, words[:3])
        extra += ["--human", str(bad)]
    else:
        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
        extra += ["--device", "cuda"]
    try:
        code = run_aoa(series, out, *extra)
    except SystemExit as exit_:  # an option refused by the parser
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


@pytest.mark.slow
def test_real_file_over_the_series(series: Path, tmp_path: Path, eval_data: Path):
    """All 8,005 contexts at every checkpoint: the official file passes the leaderboard
    check, and the fits and r equal the restatement's."""
    out = tmp_path / "out"
    words = read_words()
    cdi = hand_made_cdi(tmp_path / "cdi_human.csv", words.words)
    assert run_aoa(series, out, "--mode", "babylm2025", "--human", str(cdi)) == 0
    data = read_aoa(out / "surprisal.json")
    report = check.Report()
    check.check_aoa(report, data, STEPS)
    assert report.problems == [] and len(data["results"]) == 4 * 8005
    ours = {f.word: f.aoa for f in fit.fit_rows(data["results"], "babylm2025", words.words)}
    theirs = official_aoa.model_aoas(data)
    assert sum(a is not None for a in theirs.values()) >= 3
    for word, aoa in theirs.items():
        assert (ours[word] is None) == (aoa is None), word
        if aoa is not None:
            assert ours[word] == pytest.approx(aoa, abs=1e-6)
    table = json.loads((out / "aoa_words.json").read_text())
    fitness = official_aoa.curve_fitness(data, cdi)
    assert table["pearson"] == pytest.approx(fitness["curve_fitness"], abs=1e-6)


def test_manifest_lists_both_aoa_files(eval_data: Path):
    """cdi_childes.json by its full hash; cdi_human.csv by the abbreviated one SOURCES.md
    gives (fd6e4795...2037), which `verify` checks digit for digit at both ends."""
    import hashlib

    from classit_eval.data import download

    manifest = json.loads(download.DATA_MANIFEST.read_text())
    digest = hashlib.sha256((eval_data / "full_eval/aoa/cdi_childes.json").read_bytes())
    assert manifest["full_eval/aoa/cdi_childes.json"] == digest.hexdigest()
    assert manifest["full_eval/aoa/cdi_human.csv"] == "fd6e4795...2037"
    short = f"{digest.hexdigest()[:8]}...{digest.hexdigest()[-4:]}"
    assert download.matches(digest.hexdigest(), short)
    assert not download.matches(digest.hexdigest(), short[:-1] + "x")


@pytest.mark.slow
def test_babylm_run_runs_the_aoa_task_and_export_carries_it(series: Path, words_file: Path,
                                                            tmp_path: Path, capsys):
    """`babylm run --tasks aoa` runs the AoA task over the checkpoints into
    OUT/aoa/classit_aoa/ (a data root holding only the words subset), a rerun skips it, and
    the export carries its surprisal.json without --aoa; three checkpoints are one line."""
    data = tmp_path / "data"
    (data / "full_eval" / "aoa").mkdir(parents=True)
    (data / "full_eval" / "aoa" / "cdi_childes.json").write_bytes(words_file.read_bytes())
    out = tmp_path / "run"
    argv = ["babylm", "run", "--model", str(series), "--track", "strict-small",
            "--output-dir", str(out), "--revisions", ",".join(STEPS), "--tasks", "aoa",
            "--data-dir", str(data), "--batch-size", "64", "--device", "cpu",
            "--allow-missing"]
    assert cli.main(argv) == 0
    first = capsys.readouterr().out
    assert "aoa/classit_aoa: " in first
    submission = json.loads((out / "all_full_preds_and_fast_scores_causal.json").read_text())
    rows = submission["aoa"]["results"]
    assert len(rows) == len(STEPS) * len(read_words(words_file).items)
    official = read_aoa(out / "aoa" / "classit_aoa" / "surprisal.json")
    assert rows == official["results"]  # the run's scoring (babylm2025) is the AoA mode
    assert cli.main(argv) == 0
    assert "aoa/classit_aoa: done before, skipped" in capsys.readouterr().out

    three = [*argv[:argv.index("--revisions") + 1], ",".join(STEPS[:3]),
             *argv[argv.index("--revisions") + 2:]]
    three[three.index("--output-dir") + 1] = str(tmp_path / "three")
    assert cli.main(three) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--tasks aoa: 3 checkpoint(s); a learning curve needs" in err[0]
    assert not (tmp_path / "three" / "aoa").exists()


@pytest.mark.slow
def test_permutation_null_of_the_aoa_fit_is_seeded_and_below_a_learned_series():
    """Eight words learned at known times (a sigmoid each, three noisy contexts, six
    checkpoints), the child AoA rising with them: r is near 1, above every shuffling of
    each context's surprisals across the checkpoints, and the null repeats with its seed."""
    rng = np.random.default_rng(0)
    seen = [10.0 ** k for k in (3, 3.5, 4, 4.5, 5, 5.5)]
    words = [f"w{k}" for k in range(8)]
    centres = dict(zip(words, np.linspace(3.6, 5.0, 8), strict=True))
    rows = [{"step": f"chck_{int(w)}", "word_count": w, "target_word": word, "context_id": c,
             "surprisal": -float(fit.sigmoid(np.log10(w), 8.0, 3.0, centres[word], -14.0))
             + float(rng.normal(0, 0.2))}
            for w in seen for word in words for c in range(3)]
    child = {word: 16 + 2.5 * (centre - 3) for word, centre in centres.items()}
    args = {"words": words, "vocab_size": 600, "word_tokens": dict.fromkeys(words, 2.0),
            "min_contexts": 1}
    r, paired = fit.pearson(fit.fit_rows(rows, "full", **args), child, "full")
    assert r > 0.9 and len(paired) >= 6
    null = fit.permutation_null(rows, "full", child, 5, seed=3, **args)
    np.testing.assert_array_equal(null, fit.permutation_null(rows, "full", child, 5, seed=3,
                                                             **args))
    summary = fit.null_summary(r, null)
    assert summary["pearson_null_p"] == 1 / 6 and summary["pearson_null_n"] == 5
    assert not summary["pearson_null_p95"] >= r  # NaN (no shuffling has an r) or below r

"""The training steps on the real BabyLM samples: models, tokenizer, packing, instruction
data, curricula and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, LlamaForCausalLM

from classit_eval import cli
from classit_eval.train import instructions, metadata
from classit_eval.train.common import load_config
from classit_eval.train.instruct import encode, read_pairs, stages_of
from classit_eval.train.pretrain import pack
from tests.tiny import tiny_pretrain_argv, write_tiny_config

REPO = Path(__file__).resolve().parent.parent
@pytest.fixture(scope="session")
def samples(shared_data: Path) -> Path:
    return shared_data / "corpora" / "babylm-samples"


@pytest.fixture(scope="session")
def switchboard(samples: Path) -> Path:
    return samples / "train_10M" / "switchboard.train"


@pytest.mark.parametrize(("name", "parameters"), [("100m", 100_684_288), ("140m", 140_231_872)])
def test_paper_configs_have_the_posters_parameter_counts(name: str, parameters: int) -> None:
    config = load_config(REPO / "models" / f"llama-{name}.json")
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    assert sum(p.numel() for p in model.parameters()) == parameters
    assert metadata.model_size(parameters) == name.upper()


def test_tokenizer_step_trains_a_bpe_that_prepends_bos(tmp_path: Path, corpus_file: Path) -> None:
    assert cli.train_main(["tokenizer", str(corpus_file), "--vocab-size", "800",
                     "--out", str(tmp_path)]) == 0
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert len(tokenizer) == 800
    ids = tokenizer("Bangui is a river port.")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True) == "Bangui is a river port."
    record = metadata.read(tmp_path)
    assert record["command"] == "tokenizer" and record["files"][0]["path"] == str(corpus_file)


def test_pack_counts_every_word_of_the_corpus_once(tiny_model: Path, switchboard: Path,
                                                   tmp_path: Path) -> None:
    lines = switchboard.read_text(encoding="utf-8").splitlines()[:300]
    part = tmp_path / "part.train"
    part.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    rows, words = pack(tokenizer, [part], seq_len=1)  # one token per row: nothing dropped
    assert sum(words) == sum(len(line.split()) for line in lines)
    first = tokenizer(lines[0].strip())["input_ids"] + [tokenizer.eos_token_id]
    assert rows[: len(first), 0].tolist() == first
    rows, words = pack(tokenizer, [part], seq_len=64)
    assert rows.shape[1] == 64 and len(words) == rows.shape[0]
    assert 0 < sum(words) <= sum(len(line.split()) for line in lines)


def test_switchboard_pairs_join_a_speakers_lines(switchboard: Path, tmp_path: Path) -> None:
    out = tmp_path / "sw.jsonl"
    assert cli.train_main(["instructions", "switchboard", str(switchboard), "--out", str(out),
                     "--max-words", "5k"]) == 0
    pairs = read_pairs([out])
    # The file starts with A: x3, B: x1, A: x2: the first pair is A's three lines -> B.
    assert pairs[0]["prompt"] == ("I'm sure they are. That's right, I'm sure that true. "
                                  "It's a lot different than working in a kids preschool.")
    assert pairs[0]["reply"] == pairs[1]["prompt"] == "A lot different."
    assert pairs[1]["reply"] == "That's right. Well, you all have a nice day there."
    words = sum(len(p["prompt"].split()) + len(p["reply"].split()) for p in pairs)
    assert 4_900 < words <= 5_000
    assert {p["source"] for p in pairs} == {"switchboard"}
    record = json.loads((tmp_path / "sw.jsonl.classit_train.json").read_text())
    assert record["words"] == words and record["command"] == "instructions-switchboard"


# Where the detected conversations of the 10M file start (line numbers), each read by hand:
# the line after a closing ("Bye-bye." / "Bye."), or the first line of an opening
# ("Hello." / "Hello.", "Hi, Cynthia.", "Good morning" / "Good morning.").
SWITCHBOARD_STARTS = [14, 883, 1141, 2693, 3864, 3988, 4162, 5110, 5391, 6158, 6556, 7389,
                      9496, 9728, 9966, 10434, 10921, 11196, 11514, 12332, 12637, 14288,
                      14619, 16245, 17048, 17291]


def test_switchboard_pairs_stay_within_a_conversation(switchboard: Path) -> None:
    turns = instructions.switchboard_turns(switchboard)
    starts = [turn[0] for before, turn in zip(turns, turns[1:], strict=False)
              if turn[3] != before[3]]
    assert starts == SWITCHBOARD_STARTS
    line = {turn[0]: turn for turn in turns}
    # "Hello." mid-call (lines 5666, 8351) and "... just bye-bye the fact ..." (1398) end
    # nothing: they stay in their speaker's turn
    assert line[5664][2].endswith("But I like this Sandy Johnson. Hello.")
    assert line[8350][2] == "Oh, oh, me too. Hello"
    assert "just bye-bye the fact" in line[1396][2]
    # B says "Bye." (line 13) and, in the next conversation, "Do you have any?" (line 14):
    # two turns, and no pair from one to the other
    assert (line[13][2], line[14][2]) == ("Bye.", "Do you have any?")
    pairs = {p["id"]: p for p in instructions.switchboard_pairs(switchboard)}
    assert pairs["switchboard.train:12"]["reply"] == "Bye."
    assert "switchboard.train:13" not in pairs
    assert pairs["switchboard.train:14"]["prompt"] == "Do you have any?"
    assert len(pairs) == len(turns) - 1 - len(SWITCHBOARD_STARTS)


def test_wiki_paragraphs_are_whole_sentences_without_headings(samples: Path) -> None:
    paragraphs = instructions.wiki_paragraphs([samples / "train_100k" / "simple_wiki.train"])
    assert len(paragraphs) > 500
    assert not any("= = =" in p for p in paragraphs)
    assert all(40 <= len(p.split()) for p in paragraphs)
    assert paragraphs[1].startswith("ITV (first known as Independent Television)")


def test_generated_text_cleaning() -> None:
    assert instructions.clean_question(
        "What is the answer to this question? What is ITV?") == "What is ITV?"
    assert instructions.clean_question("Question: Where is Bangui?\n") == "Where is Bangui?"
    assert instructions.clean_question("What is the answer to this question?") is None
    assert instructions.clean_answer("It is a port.\n\nMore text.") == "It is a port."
    assert instructions.clean_answer("The answer to this question is: x") is None


@pytest.fixture()
def chat_model(tiny_model: Path, tmp_path: Path) -> Path:
    """The tiny model with a simple chat template, as an instruct model has."""
    folder = tmp_path / "chat"
    shutil.copytree(tiny_model, folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant:{% endif %}"
    )
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_wiki_generation_batches_resumes_and_stops_at_the_budget(
    chat_model: Path, corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tiny random model really generates; its output becomes a usable question and
    answer here (a random model writes neither), so the mechanics can be checked."""
    calls: list[int] = []
    real_generate = instructions.generate

    def generate(lm, tokenizer, prompts, max_new_tokens):
        replies = real_generate(lm, tokenizer, prompts, max_new_tokens)
        calls.append(len(prompts))
        question = "Write only the question" in prompts[0]
        return [f"What is {r.split()[0] if r.split() else 'it'}?" if question
                else "It is in the text." for r in replies]

    monkeypatch.setattr(instructions, "generate", generate)
    out = tmp_path / "wiki.jsonl"
    base = ["instructions", "wiki", str(corpus_file), "--model", str(chat_model), "--out",
            str(out), "--paragraphs", "10", "--batch-size", "4", "--max-new-tokens", "4"]
    assert cli.train_main([*base, "--max-words", "20"]) == 0
    first = read_pairs([out])
    assert calls == [4, 4]  # one batch: a question call and an answer call
    assert len(first) == 4 and all(p["reply"] == "It is in the text." for p in first)
    paragraphs = instructions.wiki_paragraphs([corpus_file])[:10]
    assert [p["paragraph"] for p in first] == paragraphs[:4]

    calls.clear()
    assert cli.train_main(base) == 0  # resumes: only the 6 paragraphs not done, no budget
    pairs = read_pairs([out])
    assert calls == [4, 4, 2, 2]
    assert [p["paragraph"] for p in pairs] == paragraphs
    assert len({p["id"] for p in pairs}) == 10
    calls.clear()
    assert cli.train_main(base) == 0 and calls == []  # all done


def test_wiki_generation_skips_unusable_output(chat_model: Path, corpus_file: Path,
                                               tmp_path: Path) -> None:
    """The random tiny model writes no question: every paragraph is skipped, once."""
    out = tmp_path / "wiki.jsonl"
    args = ["instructions", "wiki", str(corpus_file), "--model", str(chat_model), "--out",
            str(out), "--paragraphs", "3", "--max-new-tokens", "3"]
    assert cli.train_main(args) == 0
    assert not out.exists() or out.read_text() == ""
    skipped = out.with_name("wiki.jsonl.skipped").read_text().split()
    assert len(skipped) == 3
    assert cli.train_main(args) == 0
    assert out.with_name("wiki.jsonl.skipped").read_text().split() == skipped


def test_curricula_order_the_sources() -> None:
    sources = ["switchboard", "wiki"]
    assert stages_of("merged", sources) == [("merged", ("switchboard", "wiki"))]
    assert stages_of("switch_wiki", sources) == [("switchboard", ("switchboard",)),
                                                 ("wiki", ("wiki",))]
    assert stages_of("wiki_switch", sources)[0] == ("wiki", ("wiki",))
    assert stages_of("wiki", sources) == [("wiki", ("wiki",))]


def test_reply_only_loss_masks_the_prompt(tiny_model: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    ids, labels = encode(tokenizer, {"prompt": "How are you?", "reply": "Fine."}, 512, True)
    prompt = tokenizer("User: How are you?\nAssistant:")["input_ids"]
    assert ids[: len(prompt)] == prompt and ids[-1] == tokenizer.eos_token_id
    assert labels[: len(prompt)] == [-100] * len(prompt)
    assert labels[len(prompt):] == ids[len(prompt):]
    assert tokenizer.decode(ids[len(prompt):], skip_special_tokens=True) == " Fine."
    assert encode(tokenizer, {"prompt": "word " * 100, "reply": "Fine."}, 20, True) is None


@pytest.mark.slow
def test_pretrain_then_instruct_saves_loadable_checkpoints(
    tiny_model: Path, samples: Path, switchboard: Path, tmp_path: Path
) -> None:
    text = samples / "train_100k" / "bnc_spoken.train"
    pre = tmp_path / "pre"
    assert cli.train_main(tiny_pretrain_argv(text, tiny_model, pre, "--seq-len", "64",
                                             "--max-steps", "40", "--warmup-steps", "5",
                                             "--checkpoint-words", "4k,8k")) == 0
    assert (pre / "chck_4K" / "model.safetensors").is_file()
    assert (pre / "chck_8K" / "config.json").is_file() and not (pre / "resume").exists()
    record = metadata.read(pre)
    assert record["step"] == 40 and record["words_seen"] > 8_000 and record["curriculum"] is None
    assert metadata.read(pre / "chck_4K")["words_seen"] >= 4_000
    assert record["files"][0]["sha256"] and record["model_size"] == "59K"
    LlamaForCausalLM.from_pretrained(pre / "chck_4K")

    data = tmp_path / "sw.jsonl"
    cli.train_main(["instructions", "switchboard", str(switchboard), "--out", str(data),
              "--max-words", "2k"])
    wiki = tmp_path / "wiki.jsonl"
    wiki.write_text("".join(
        json.dumps({"prompt": f"What is {w}?", "reply": f"{w} is a word.", "source": "wiki"})
        + "\n" for w in "abcdefghijklmnop"))
    out = tmp_path / "sw_wiki"
    assert cli.train_main(["instruct", str(data), str(wiki), "--model", str(pre), "--out", str(out),
                     "--curriculum", "switch_wiki", "--epochs", "1", "--warmup-steps", "2",
                     "--log-every", "1000"]) == 0
    record = metadata.read(out)
    assert record["curriculum"] == "switch_wiki" and record["base"]["command"] == "pretrain"
    assert [s["name"] for s in record["stages"]] == ["switchboard", "wiki"]
    assert record["stages"][1]["pairs"] == 16 and record["model_size"] == "59K"
    tokenizer = AutoTokenizer.from_pretrained(out)
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False,
                                         add_generation_prompt=True)
    assert chat == "<s>User: Hi\nAssistant:"


def error_of(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    assert cli.train_main(argv) == 2
    return capsys.readouterr().err


def test_bad_input_gives_clear_errors(tiny_model: Path, corpus_file: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty.train"
    empty.write_text("\n  \n")
    err = error_of(capsys, ["tokenizer", str(empty), "--out", str(tmp_path / "t")])
    assert "corpus is empty" in err and str(empty) in err
    config = write_tiny_config(tmp_path / "tiny.json")
    err = error_of(capsys, ["pretrain", str(empty), "--config", str(config),
                            "--tokenizer", str(tiny_model), "--out", str(tmp_path / "p")])
    assert "corpus is empty" in err

    broken = tmp_path / "broken.json"
    broken.write_text('{"model_type": "llama", "hidden_size": 32,\n "vocab_size": }')
    err = error_of(capsys, ["pretrain", str(corpus_file), "--config", str(broken),
                            "--tokenizer", str(tiny_model), "--out", str(tmp_path / "p")])
    assert f"{broken}, line 2: not valid JSON" in err

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"prompt": "Hi", "reply": "Hello", "source": "wiki"}\n'
                     '{"prompt": "Hi", "source": "wiki"}\n')
    instruct = ["instruct", str(pairs), "--model", str(tiny_model), "--out", str(tmp_path / "i")]
    err = error_of(capsys, instruct)
    assert f"{pairs}, line 2: missing field(s) reply" in err

    pairs.write_text('{"prompt": "Hi", "reply": "Hello", "source": "wiki"}\n')
    err = error_of(capsys, [*instruct, "--curriculum", "wiki_first"])
    assert "Unknown curriculum 'wiki_first'" in err and "switch_wiki" in err
    err = error_of(capsys, [*instruct, "--curriculum", "switch_wiki"])
    assert "needs pairs of source(s) switchboard" in err


@pytest.mark.parametrize(("changes", "message"), [
    ({"hiden_size": 48}, "unknown key 'hiden_size' (did you mean 'hidden_size'?); a "
                         "LlamaConfig has vocab_size, hidden_size, intermediate_size"),
    ({"hidden_size": 30, "num_attention_heads": 4},
     "The hidden size (30) is not a multiple of the number of attention heads (4)."),
])
def test_a_config_that_does_not_make_the_model_asked_for_is_one_line(
    tiny_model: Path, corpus_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
    changes: dict, message: str
) -> None:
    """A misspelled key would build the 4,096-wide default; heads that do not divide the
    width fail in transformers' validator. Both are refused before anything is written."""
    config = write_tiny_config(tmp_path / "tiny.json", **changes)
    out = tmp_path / "p"
    err = error_of(capsys, ["pretrain", str(corpus_file), "--config", str(config),
                            "--tokenizer", str(tiny_model), "--out", str(out),
                            "--max-steps", "1"]).strip()
    assert len(err.splitlines()) == 1 and f"Model config {config}" in err and message in err
    assert not out.exists()


def test_every_key_transformers_writes_into_a_llama_config_is_accepted(tiny_model: Path
                                                                       ) -> None:
    """The keys of a saved checkpoint's config.json and of the paper's configs (which
    carry the older rope_theta) all pass the key check."""
    for path in (tiny_model, REPO / "models" / "llama-100m.json",
                 REPO / "models" / "llama-140m.json"):
        assert load_config(path).num_hidden_layers > 0

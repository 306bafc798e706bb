"""`classit-eval surprisal`: per-word (or per-token) surprisal of your own texts.

    classit-eval surprisal stimuli.txt --model DIR --output out.csv
    classit-eval surprisal items.csv --text-column sentence --item-column story \
        --context item --model DIR --output out.jsonl --bits --entropy --plot story.png

Reads one sentence a line (a blank line ends an item), or a CSV/TSV with a text column;
scores every line alone (`--context line`) or an item's lines as one running text
(`--context item`) through the scoring engine, in batches, each shared prefix once; writes
item, line, position, word, tokens, surprisal (and entropy) as CSV, TSV or JSONL (by the
output's suffix). Words' probabilities are corrected for where a word ends unless
`--word-prob raw` (docs/surprisal.md). Everything is checked before the model is loaded;
bad input leaves no file.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from classit_eval import options
from classit_eval.data.files import write_atomically
from classit_eval.errors import OptionError
from classit_eval.names import BACKENDS
from classit_eval.surprisal.core import UNITS, Row
from classit_eval.surprisal.inputs import CONTEXTS, read_texts

OUTPUTS = {".csv": ",", ".tsv": "\t", ".jsonl": None}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = __doc__.split("\n\n")[2]
    p.add_argument("input", type=options.existing_file,
                   help="a text file (one sentence a line) or a .csv / .tsv")
    p.add_argument("--model", required=True, help="a model folder or hub name")
    p.add_argument("--output", required=True, type=Path,
                   help="the result: .csv, .tsv or .jsonl")
    p.add_argument("--context", choices=CONTEXTS, default="line",
                   help="line: each line alone (default); item: an item's lines as one "
                        "running text")
    p.add_argument("--text-column", default="text", help="the CSV/TSV column with the text")
    p.add_argument("--item-column", default=None,
                   help="the CSV/TSV column naming each row's item (default: one item)")
    p.add_argument("--unit", choices=UNITS, default="word", help="a row per word or token")
    p.add_argument("--word-prob", choices=["corrected", "raw"], default="corrected",
                   help="corrected (default): a word's probability includes where it ends; "
                        "raw: the sum of its tokens'")
    p.add_argument("--text-ends-word", action="store_true",
                   help="with --word-prob corrected, the end of the text (EOS) also ends a word "
                        "(default: only a token that starts a new word does, as minicons)")
    p.add_argument("--bits", action="store_true", help="surprisal in bits (default: nats)")
    p.add_argument("--entropy", action="store_true",
                   help="add the entropy of the next-token distribution before each row")
    p.add_argument("--backend", choices=(*BACKENDS, "auto"), default="causal",
                   help="how the model is scored (the classit backend's; non-causal "
                        "backends give raw word surprisals only)")
    p.add_argument("--batch-size", type=options.positive_int, default=32)
    p.add_argument("--device", default=None, help="cpu, cuda (default: cuda if any)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                   help="float64: values independent of the batch size to ~1e-12")
    p.add_argument("--plot", type=Path, default=None, metavar="PNG",
                   help="draw the surprisal along one item's words into PNG")
    p.add_argument("--plot-item", default=None, help="the item drawn (default: the first)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def check_outputs(args: argparse.Namespace) -> None:
    if args.output.suffix.lower() not in OUTPUTS:
        raise OptionError(f"--output {args.output}: give a .csv, .tsv or .jsonl file.")
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise OptionError(f"--plot {args.plot}: give a .png file.")
    paths = [args.output.resolve(), *([args.plot.resolve()] if args.plot else [])]
    if args.input.resolve() in paths:
        raise OptionError(f"{args.input}: the input would be overwritten; write elsewhere.")
    for path in paths:
        if not path.parent.is_dir():
            raise OptionError(f"{path.parent}: no such folder for the output.")


def run(args: argparse.Namespace) -> int:
    check_outputs(args)
    texts = read_texts(args.input, args.context, args.text_column, args.item_column)
    items = [t.item for t in texts]
    if args.plot_item is not None and args.plot_item not in items:
        raise OptionError(f"--plot-item {args.plot_item!r}: no such item in {args.input}.")
    import torch

    from classit_eval.lmeval.backend import ClassitLM
    from classit_eval.surprisal.core import surprisals

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    lm = ClassitLM(pretrained=args.model, backend=args.backend, dtype=args.dtype,
                   device=device, batch_size=args.batch_size)
    lm.scorer.progress = not args.no_progress
    if args.text_ends_word:
        from classit_eval.scoring import boundary_ids

        lm.scorer.boundary_ids = boundary_ids(lm.scorer.tokenizer, eos=True)
    rows = surprisals(lm.scorer, texts, args.unit, args.word_prob,
                      "bits" if args.bits else "nats", args.entropy)
    flat = [row for per_text in rows for row in per_text]
    write_rows(flat, args.output, args.entropy)
    if args.plot is not None:
        from classit_eval.surprisal.plot import plot

        item = args.plot_item if args.plot_item is not None else items[0]
        plot([r for r in flat if r.item == item], args.plot, "bits" if args.bits else "nats",
             tokens=args.unit == "token")
    print(f"surprisal: {len(flat)} {args.unit}s of {len(texts)} texts; wrote {args.output}",
          file=sys.stderr)
    return 0


def write_rows(rows: list[Row], path: Path, entropy: bool) -> None:
    """Write whole or not at all (a kill leaves no half file)."""
    fields = ["item", "line", "position", "word", "tokens", "surprisal",
              *(["entropy"] if entropy else [])]
    separator = OUTPUTS[path.suffix.lower()]
    buffer = io.StringIO()
    if separator is None:
        for r in rows:
            record = {"item": r.item, "line": r.line, "position": r.position, "word": r.word,
                      "tokens": list(r.tokens), "surprisal": r.surprisal}
            if entropy:
                record["entropy"] = r.entropy
            buffer.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        writer = csv.writer(buffer, delimiter=separator, lineterminator="\n")
        writer.writerow(fields)
        for r in rows:
            writer.writerow([r.item, r.line, r.position, r.word, " ".join(r.tokens),
                             repr(r.surprisal), *([repr(r.entropy)] if entropy else [])])
    write_atomically(path, buffer.getvalue())

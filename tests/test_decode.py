"""Stage: softmax, per-word tags/confidences, spans with exact character offsets."""

import numpy as np
import pytest

from geobatch.decode.spans import decode_spans, decode_word_tags, softmax
from geobatch.text.words import split_words

LABELS = ["O", "B-geo", "I-geo", "B-gpe", "I-gpe"]


def test_softmax_rows_sum_to_one():
    p = softmax(np.array([[[1.0, 2.0, 3.0], [1000.0, 0.0, 0.0]]]))
    assert np.allclose(p.sum(-1), 1) and p[0, 1, 0] == pytest.approx(1.0)


def test_word_tags_take_argmax_and_its_probability():
    probs = np.array([[0.7, 0.2, 0.1, 0, 0], [0.1, 0.6, 0.3, 0, 0], [0.2, 0.2, 0.2, 0.4, 0]], np.float32)
    tags, conf = decode_word_tags(probs, LABELS, np.array([True, True, False]))
    assert tags == ["O", "B-geo", "O"]
    assert conf[0] == pytest.approx(0.7) and conf[1] == pytest.approx(0.6) and np.isnan(conf[2])


def test_spans_iob_rules():
    text = "a b c d e f g"
    _, offsets = split_words(text)
    tags = ["B-geo", "I-geo", "I-gpe", "O", "I-geo", "B-geo", "I-geo"]
    conf = [0.9, 0.7, 0.8, 0.99, 0.6, 0.5, 0.3]
    spans = decode_spans(text, offsets, tags, conf)
    assert [(s["text"], s["label"]) for s in spans] == [("a b", "geo"), ("c", "gpe"), ("e", "geo"), ("f g", "geo")]
    assert spans[0]["confidence"] == pytest.approx(0.8) and spans[0]["confidence_min"] == pytest.approx(0.7)
    assert spans[3]["confidence"] == pytest.approx(0.4) and spans[3]["confidence_min"] == pytest.approx(0.3)


@pytest.mark.parametrize("text", [
    "Flights 🛫 to São Paulo 🇧🇷 and 東京 today",
    "Cafe\u0301 near Zu\u0308rich, 👩‍👩‍👧 in New York",
    "مرحبا Paris שלום 北京市 ok",
])
def test_span_offsets_slice_original_text(text):
    words, offsets = split_words(text)
    tags = ["B-geo" if i % 3 == 0 else ("I-geo" if i % 3 == 1 else "O") for i in range(len(words))]
    spans = decode_spans(text, offsets, tags, [0.5] * len(words))
    assert spans
    for s in spans:
        assert text[s["start_char"]:s["end_char"]] == s["text"]
        assert s["text"].startswith(words[s["word_start"]]) and s["text"].endswith(words[s["word_end"] - 1])


@pytest.mark.parametrize("place_types", [(), ("geo", "gpe")])
def test_chunk_spans_equal_decode_spans_for_random_tag_sequences(place_types):
    """The array decoder over many documents end to end gives decode_spans' spans for each, with the
    lenient IOB2 rules (stray I-, type changes, place-type continuation, the non-place dem type,
    document boundaries) and NaN confidences."""
    from geobatch.decode.arrays import TagCodes, chunk_spans

    labels = ["O", "B-geo", "I-geo", "B-gpe", "I-gpe", "B-dem", "I-dem", "S-per", "E-per"]
    codes = TagCodes(labels)
    rng = np.random.default_rng(7)
    for _ in range(80):
        n_docs = int(rng.integers(1, 6))
        lens = rng.integers(0, 12, n_docs)
        tags = rng.integers(0, len(labels) + 1, int(lens.sum()))  # + the "O" of a word without a wordpiece
        conf = rng.random(tags.size).astype(np.float32)
        conf[rng.random(tags.size) < 0.2] = np.nan
        doc_of_word = np.repeat(np.arange(n_docs), lens)
        got = chunk_spans(tags, conf, doc_of_word, codes, place_types)
        bounds = np.r_[0, np.cumsum(lens)]
        want = []
        for d in range(n_docs):
            a, b = bounds[d], bounds[d + 1]
            names = codes.names[tags[a:b]].tolist()
            offsets = [(2 * i, 2 * i + 1) for i in range(b - a)]
            want += [(d, s["word_start"] + a, s["word_end"] + a, s["label"], s["confidence"], s["confidence_min"])
                     for s in decode_spans("x " * (b - a), offsets, names, conf[a:b], place_types)]
        assert len(got.doc) == len(want)
        for k, (d, ws, we, label, c, cmin) in enumerate(want):
            assert (got.doc[k], got.word_start[k], got.word_end[k], codes.types[got.type[k]]) == (d, ws, we, label)
            np.testing.assert_allclose([got.confidence[k], got.confidence_min[k]], [c, cmin], rtol=1e-12, equal_nan=True)


def test_word_labels_are_decode_word_tags_as_indices():
    from geobatch.decode.arrays import TagCodes, word_labels

    codes = TagCodes(LABELS)
    probs = np.random.default_rng(1).random((30, len(LABELS))).astype(np.float32)
    has = np.arange(30) % 4 != 0
    tags, conf = decode_word_tags(probs, LABELS, has)
    idx, conf2 = word_labels(probs, has, codes.none)
    assert codes.names[idx].tolist() == tags
    np.testing.assert_array_equal(conf, conf2)


def test_a_place_continues_across_a_change_of_place_type():
    """"South"/B-geo "Africa"/I-gpe is one place of doubtful kind, not two fragments for the resolver;
    other types still break a span, and so does a place type after a non-place one."""
    text = "Aid reached South Africa and Acme Corp Kenya"
    words = text.split()
    offsets, pos = [], 0
    for w in words:
        pos = text.index(w, pos)
        offsets.append((pos, pos + len(w)))
        pos += len(w)
    tags = ["O", "O", "B-geo", "I-gpe", "O", "B-org", "I-org", "I-geo"]
    spans = decode_spans(text, offsets, tags, [0.9] * len(words), place_types=("geo", "gpe"))
    assert [(s["text"], s["label"]) for s in spans] == [("South Africa", "geo"), ("Acme Corp", "org"), ("Kenya", "geo")]
    # without place types (the old rule), a type change starts a new span
    assert [s["text"] for s in decode_spans(text, offsets, tags, [0.9] * len(words))] == ["South", "Africa", "Acme Corp", "Kenya"]


@pytest.mark.parametrize("place_types", [(), ("geo", "gpe")])
def test_array_decoder_agrees_on_place_type_changes_and_dem(place_types):
    """The place-type rule in both decoders: B-geo I-gpe is one place (with place types), dem is not a
    place type (B-dem I-gpe, B-gpe I-dem break), and a place type after org breaks."""
    from geobatch.decode.arrays import TagCodes, chunk_spans

    labels = ["O", "B-geo", "I-geo", "B-gpe", "I-gpe", "B-dem", "I-dem", "B-org", "I-org"]
    codes = TagCodes(labels)
    text = "South Africa Kenyan Nairobi Acme Kenya French Paris Ivory Coast"
    words = text.split()
    offsets, pos = [], 0
    for w in words:
        pos = text.index(w, pos)
        offsets.append((pos, pos + len(w)))
        pos += len(w)
    tags = ["B-geo", "I-gpe", "B-dem", "I-gpe", "B-org", "I-geo", "B-gpe", "I-dem", "B-gpe", "I-geo"]
    conf = np.linspace(0.5, 0.95, len(tags))
    want = decode_spans(text, offsets, tags, conf, place_types)
    got = chunk_spans(np.array([labels.index(t) for t in tags]), conf.astype(np.float32), np.zeros(len(tags), np.int64),
                      codes, place_types)
    assert [(int(a), int(b), codes.types[t]) for a, b, t in zip(got.word_start, got.word_end, got.type)] == \
        [(s["word_start"], s["word_end"], s["label"]) for s in want]
    texts = [s["text"] for s in want]
    if place_types:
        assert texts == ["South Africa", "Kenyan", "Nairobi", "Acme", "Kenya", "French", "Paris", "Ivory Coast"]
        assert want[0]["label"] == "geo" and want[-1]["label"] == "gpe"
    else:
        assert texts == ["South", "Africa", "Kenyan", "Nairobi", "Acme", "Kenya", "French", "Paris", "Ivory", "Coast"]


def test_a_span_never_runs_across_a_line_break():
    """"Vienna" closing one line and "Porgy & Bess" opening the next reach the model as one phrase (it
    reads no whitespace); whatever it tags them, they are two spans. Both decoders agree."""
    from geobatch.decode.arrays import ChunkWords, TagCodes, chunk_spans, line_break_before

    labels = ["O", "B-geo", "I-geo", "B-gpe", "I-gpe"]
    codes = TagCodes(labels)
    texts = ["www.hideaway.co.uk\n\nVienna\n\nPorgy Bess", "New York\u2028Boston Harbor", "Rio de Janeiro"]
    tags_by_doc = [["O", "B-geo", "I-geo", "I-geo"], ["B-geo", "I-geo", "I-gpe", "I-geo"], ["B-geo", "I-geo", "I-geo"]]
    offsets = [split_words(t)[1] for t in texts]
    want = [[s["text"] for s in decode_spans(t, o, tg, [0.9] * len(tg), ("geo", "gpe"))]
            for t, o, tg in zip(texts, offsets, tags_by_doc)]
    assert want == [["Vienna", "Porgy Bess"], ["New York", "Boston Harbor"], ["Rio de Janeiro"]]
    lens = [len(o) for o in offsets]
    words = ChunkWords(
        [0, 1, 2], np.r_[0, np.cumsum(lens)], np.repeat(np.arange(3), lens),
        np.array([labels.index(t) for tg in tags_by_doc for t in tg]), np.full(sum(lens), 0.9, np.float32),
        np.array([a for o in offsets for a, _ in o]), np.array([b for o in offsets for _, b in o]))
    broken = line_break_before(texts, words)
    assert broken.tolist() == [False, True, True, False, False, False, True, False, False, False, False]
    got = chunk_spans(words.tags, words.conf, words.doc, codes, ("geo", "gpe"), broken)
    texts_got = [texts[d][words.starts[a]:words.ends[b - 1]] for d, a, b in zip(got.doc, got.word_start, got.word_end)]
    assert texts_got == [x for w in want for x in w]

"""Stage: softmax, per-word tags/confidences, spans with exact character offsets."""

import numpy as np
import pytest

from geobatch.decode import decode_spans, decode_word_tags, softmax
from geobatch.words import split_words

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

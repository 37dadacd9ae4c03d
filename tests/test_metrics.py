"""Metrics against values worked out by hand, seqeval agreement, and merging of partials."""

import json

import pytest
from seqeval.metrics import classification_report

from geobatch.evaluate.metrics import MetricsAccumulator, format_report

GOLD = [["B-geo", "I-geo", "O", "B-gpe", "O"], ["O", "B-geo", "O", "B-per"]]
PRED = [["B-geo", "I-geo", "O", "B-geo", "O"], ["B-geo", "B-geo", "O", "O"]]


def _acc(pairs=None):
    m = MetricsAccumulator(("geo", "gpe"))
    for g, p in pairs if pairs is not None else zip(GOLD, PRED):
        m.add(g, p)
    return m


def test_token_level_by_hand():
    rep = _acc().report()
    assert rep["words"] == 9 and rep["word_accuracy"] == pytest.approx(6 / 9)
    cat = rep["token_level"]["per_category"]
    # geo: gold words d1w0 d1w1 d2w1; predicted geo d1w0 d1w1 d1w3 d2w0 d2w1
    assert (cat["geo"]["tp"], cat["geo"]["fp"], cat["geo"]["fn"]) == (3, 2, 0)
    assert cat["geo"]["accuracy"] == pytest.approx(7 / 9)
    assert cat["geo"]["precision"] == pytest.approx(0.6) and cat["geo"]["recall"] == 1.0 and cat["geo"]["f1"] == pytest.approx(0.75)
    assert cat["gpe"]["accuracy"] == pytest.approx(8 / 9) and cat["gpe"]["recall"] == 0.0
    assert cat["per"]["support"] == 1 and cat["per"]["f1"] == 0.0
    assert cat["O"]["precision"] == pytest.approx(0.75) and cat["O"]["recall"] == pytest.approx(0.75)
    micro, macro = rep["token_level"]["micro"], rep["token_level"]["macro"]
    assert micro["precision"] == pytest.approx(0.6) and micro["recall"] == pytest.approx(0.6) and micro["f1"] == pytest.approx(0.6)
    assert macro["precision"] == pytest.approx(0.2) and macro["recall"] == pytest.approx(1 / 3) and macro["f1"] == pytest.approx(0.25)
    loc = rep["token_level"]["location"]  # geo+gpe words: gold 4, predicted 5, both 4
    assert loc["precision"] == pytest.approx(0.8) and loc["recall"] == 1.0
    exact = rep["exact_tag"]
    assert exact["B-geo"]["precision"] == pytest.approx(0.5) and exact["B-geo"]["recall"] == 1.0
    assert exact["I-geo"]["f1"] == 1.0 and exact["B-gpe"]["recall"] == 0.0


def test_entity_level_by_hand_and_equal_to_seqeval():
    ent = _acc().report()["entity_level"]
    assert ent["per_label"]["geo"]["precision"] == pytest.approx(0.5) and ent["per_label"]["geo"]["recall"] == 1.0
    assert ent["per_label"]["gpe"]["support"] == 1 and ent["per_label"]["gpe"]["f1"] == 0.0
    assert ent["micro"]["precision"] == pytest.approx(0.5) and ent["micro"]["recall"] == pytest.approx(0.5)
    # geo and gpe merged: gold 3 locations, 4 predicted, 3 exact
    assert ent["location"]["precision"] == pytest.approx(0.75) and ent["location"]["recall"] == 1.0
    assert ent["location"]["f1"] == pytest.approx(6 / 7)
    ref = classification_report(GOLD, PRED, output_dict=True, zero_division=0)
    for label in ("geo", "gpe", "per"):
        for k in ("precision", "recall", "f1"):
            assert ent["per_label"][label][k] == pytest.approx(ref[label][k if k != "f1" else "f1-score"])
    assert ent["micro"]["f1"] == pytest.approx(ref["micro avg"]["f1-score"])


def test_partials_merge_and_round_trip_json():
    whole = _acc().report()
    a, b = _acc([(GOLD[0], PRED[0])]), _acc([(GOLD[1], PRED[1])])
    merged = MetricsAccumulator.from_dict(json.loads(json.dumps(a.to_dict()))).merge(MetricsAccumulator.from_dict(b.to_dict()))
    assert merged.report() == whole
    assert "locations*" in format_report(whole)


def test_length_mismatch_refused():
    with pytest.raises(ValueError):
        MetricsAccumulator().add(["O"], ["O", "O"])


def test_untyped_gold_is_scored_as_one_location_type():
    """Gold spans without labels (the geoparsing corpora) against a geo/gpe/org tagger: per-type and
    micro figures are those of the merged location type, not zeros from comparing 'location' with 'geo'."""
    gold = [["B-location", "I-location", "O", "B-location", "O"], ["O", "B-location", "O", "O"]]
    pred = [["B-geo", "I-geo", "O", "B-gpe", "O"], ["B-gpe", "O", "O", "B-org"]]
    m = _acc(zip(gold, pred))
    rep = m.report()
    assert rep["gold_typed"] is False and _acc().report()["gold_typed"] is True
    # words: gold locations d1w0 d1w1 d1w3 d2w1; predicted locations d1w0 d1w1 d1w3 d2w0 (org is not scored)
    cat = rep["token_level"]["per_category"]
    assert set(cat) == {"location", "O"}
    assert (cat["location"]["tp"], cat["location"]["fp"], cat["location"]["fn"]) == (3, 1, 1)
    assert rep["token_level"]["micro"]["f1"] == pytest.approx(0.75) == rep["token_level"]["location"]["f1"]
    assert rep["word_accuracy"] == pytest.approx(7 / 9)
    ent = rep["entity_level"]  # gold spans 3, predicted 3 (geo, gpe, gpe), exact 2
    assert set(ent["per_label"]) == {"location"}
    assert ent["micro"]["precision"] == pytest.approx(2 / 3) == ent["location"]["precision"]
    assert ent["micro"]["recall"] == pytest.approx(2 / 3)
    assert set(rep["exact_tag"]) == {"B-location", "I-location"} and rep["exact_tag"]["I-location"]["f1"] == 1.0
    assert "gold places carry no type" in format_report(rep)

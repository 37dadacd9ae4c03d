"""Gold mapped onto the model's types before scoring (geobatch/evaluate/gold_map.py), and the metrics'
account of gold types the model does not predict.

Found as a user: `geobatch run --format gmb` with the recommended model (trained by a spec: GMB's org
untaught, demonyms a type of their own) printed a `?` row of 3,707 gold words (the training marker
leaking into the tables), a `dem` row with no support and 1,613 false positives, gpe recall 0.08 and
micro F1 0.49; CoNLL gold scored nothing at all (every type silently O).
"""

import json

import pytest

from geobatch.evaluate.gold_map import gold_mapper, gold_type
from geobatch.evaluate.metrics import MetricsAccumulator, format_report
from geobatch.labels import LabelScheme
from geobatch.pipeline import Pipeline, PipelineOptions

from run_helpers import run
from tiny_onnx import build_tiny_model_dir

SPEC_MAP = {"geo": "geo", "gpe": "gpe", "org": "?", "per": "O", "tim": "O", "art": "O", "eve": "O", "nat": "O"}
MODEL_TYPES = ("dem", "geo", "gpe")


def test_gold_types_follow_the_cards_map_and_name_the_rest():
    spec = LabelScheme("spec:geoparse.toml", SPEC_MAP)
    assert gold_type("geo", spec, MODEL_TYPES) == "geo" and gold_type("gpe", spec, MODEL_TYPES) == "gpe"
    # untaught or dropped by the map: the gold's own name (counted, scored as O), never the marker "?"
    assert gold_type("org", spec, MODEL_TYPES) == "org" and gold_type("per", spec, MODEL_TYPES) == "per"
    # not in the map: a place type by name is a place of no type; other names are kept
    assert gold_type("LOC", spec, MODEL_TYPES) == "location" and gold_type("GPE", spec, MODEL_TYPES) == "gpe"
    assert gold_type("MISC", spec, MODEL_TYPES) == "MISC" and gold_type("dem", spec, MODEL_TYPES) == "dem"
    assert gold_type("location", spec, MODEL_TYPES) == "location"
    # a spec's any-place type
    assert gold_type("Literal", LabelScheme("m", {"Literal": "*"}), MODEL_TYPES) == "location"
    # a named scheme: what the model predicts stays; a place type it has no name for is a place
    loc = LabelScheme("locations")
    assert gold_type("geo", loc, ("geo", "gpe")) == "geo" and gold_type("LOC", loc, ("geo", "gpe")) == "location"
    assert gold_type("org", loc, ("geo", "gpe")) == "org"
    # case aside, a type the model has is that type (CoNLL gold on a GMB `full` model)
    full = ("art", "eve", "geo", "gpe", "nat", "org", "per", "tim")
    assert [gold_type(t, LabelScheme("full"), full) for t in ("PER", "ORG", "LOC", "MISC")] == ["per", "org", "location", "MISC"]


def test_word_per_row_gold_gets_the_models_demonyms():
    mapped = gold_mapper(LabelScheme("spec", SPEC_MAP), MODEL_TYPES, "dem")
    words = ["Iraqi", "and", "European", "Union", "envoys", "met", "in", "Baghdad"]
    tags = ["B-gpe", "O", "B-org", "I-org", "O", "O", "O", "B-geo"]
    # "Iraqi" is GMB's gpe, retyped as training retyped it; "European" inside an organisation is not
    assert mapped(tags, words) == ["B-dem", "O", "B-org", "I-org", "O", "O", "O", "B-geo"]
    assert mapped(tags) == ["B-gpe", "O", "B-org", "I-org", "O", "O", "O", "B-geo"]  # gold spans: their own convention
    # no demonym type on the card (or one the model does not predict): nothing retyped
    assert gold_mapper(LabelScheme("spec", SPEC_MAP), ("geo", "gpe"), "dem")(tags, words)[0] == "B-gpe"
    # IOB2 repaired where a mapped type no longer continues
    assert gold_mapper(LabelScheme("m", {"LOC": "geo"}), ("geo",))(["I-LOC", "I-PER"]) == ["B-geo", "B-PER"]


def test_gold_the_model_cannot_predict_is_counted_and_scored_as_outside():
    m = MetricsAccumulator(("geo", "gpe"), MODEL_TYPES)
    m.add(["B-org", "I-org", "B-geo", "O", "B-per", "B-per"], ["B-geo", "O", "B-geo", "O", "O", "O"])
    rep = m.report()
    assert rep["gold_types_not_predicted"] == {"org": 1, "per": 2}
    cat = rep["token_level"]["per_category"]
    assert set(cat) == {"geo", "O"}  # no org/per rows of zeros pulling micro and macro down
    assert (cat["geo"]["tp"], cat["geo"]["fp"], cat["geo"]["fn"]) == (1, 1, 0)  # a place inside the org is wrong
    assert "gold types the model does not predict, scored as O: org (1 span), per (2 spans)" in format_report(rep)
    # partials carry the count through manifest.json
    other = MetricsAccumulator.from_dict(json.loads(json.dumps(m.to_dict())))
    assert other.merge(m).report()["gold_types_not_predicted"] == {"org": 2, "per": 4}
    # without predicted_types (callers that map gold themselves) every gold type is scored as before
    plain = MetricsAccumulator(("geo", "gpe"))
    plain.add(["B-org", "B-geo"], ["O", "B-geo"])
    assert plain.report()["token_level"]["per_category"]["org"]["support"] == 1


def test_untyped_places_beside_demonyms_are_scored_on_the_merged_view():
    m = MetricsAccumulator(("geo", "gpe"), MODEL_TYPES)
    m.add(["B-dem", "O", "B-location", "O", "B-location"], ["B-dem", "O", "B-geo", "O", "B-dem"])
    rep = m.report()
    assert rep["gold_typed"] is False
    cat = rep["token_level"]["per_category"]
    assert set(cat) == {"dem", "location", "O"}
    assert (cat["location"]["tp"], cat["location"]["fn"]) == (1, 1) and (cat["dem"]["tp"], cat["dem"]["fp"]) == (1, 1)
    assert rep["entity_level"]["per_label"]["dem"]["precision"] == pytest.approx(0.5)


GMB = """Sentence #,Word,POS,Tag
Sentence: 1,French,JJ,B-gpe
,envoys,NNS,O
,of,IN,O
,the,DT,O
,Paris,NNP,B-org
,Club,NNP,I-org
,met,VBD,O
,in,IN,O
,London,NNP,B-geo
,.,.,O
"""


def test_a_run_on_gmb_gold_scores_the_models_own_types(tmp_path):
    model = build_tiny_model_dir(
        tmp_path / "m", labels=["O", "B-dem", "I-dem", "B-geo", "I-geo", "B-gpe", "I-gpe"],
        word_labels={"french": "B-dem", "paris": "B-geo", "london": "B-geo"},
        card_extra={"label_scheme": "spec:geoparse.toml", "label_map": SPEC_MAP, "training": {"spec": {"demonym_type": "dem"}}},
    )
    src = tmp_path / "gmb.csv"
    src.write_text(GMB, encoding="utf-8")
    assert run("--model", model, "--input", src, "--format", "gmb", "--output", tmp_path / "out") == 0
    rep = json.loads((tmp_path / "out" / "metrics.json").read_text())
    cat = rep["token_level"]["per_category"]
    assert "?" not in cat and "org" not in cat
    assert cat["dem"]["support"] == 1 and cat["dem"]["f1"] == 1.0  # GMB's gpe "French" is the model's dem
    assert (cat["geo"]["tp"], cat["geo"]["fp"]) == (1, 1)  # "Paris" of "Paris Club" is no place by GMB's gold
    assert rep["gold_types_not_predicted"] == {"org": 1}


def test_gold_under_a_convention_that_kept_its_demonyms_is_not_retyped(tmp_path):
    """Under "gmb", trained with retype_demonyms = false, the model learnt GMB's "French" as gpe: gold read
    under it stays gpe. Under "news" (demonyms retyped in training) it is the model's dem."""
    corpora = [{"corpus": {"name": "gmb", "convention": "gmb", "retype_demonyms": False}},
               {"corpus": {"name": "geovirus", "convention": "news", "retype_demonyms": True}}]
    conventions = {"tokens": {"gmb": "[unused0]", "news": "[unused1]"}, "ids": {"gmb": 1, "news": 2}, "default": "news"}
    model = build_tiny_model_dir(
        tmp_path / "m", labels=["O", "B-dem", "I-dem", "B-geo", "I-geo", "B-gpe", "I-gpe"],
        card_extra={"label_scheme": "spec:geoparse.toml", "label_map": SPEC_MAP, "conventions": conventions,
                    "training": {"spec": {"demonym_type": "dem"}, "files": corpora}},
    )
    words, gold = ["French", "troops", "left", "Paris"], ["B-gpe", "O", "O", "B-geo"]
    got = {c: Pipeline(model, PipelineOptions(convention=c)).map_gold(gold, words) for c in ("gmb", "news", None)}
    assert got["gmb"] == ["B-gpe", "O", "O", "B-geo"]
    assert got["news"] == got[None] == ["B-dem", "O", "O", "B-geo"]

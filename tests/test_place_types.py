"""Which of a model's entity types are places: scored as `location` and looked up in the gazetteer.

A `full` GMB model also predicts per/org/tim spans; a person called Bush must not be given the
coordinates of a town called Bush, nor count as a location in the merged score. A model trained on
a scheme of the user's own (tar/inc: target and incidental locations) has only place types, so
every span is a place without the user having to say so.
"""

import json

import pyarrow.parquet as pq
import pytest
from tiny_onnx import LABELS, build_tiny_model_dir

from geobatch.cli import main
from geobatch.errors import GeobatchError
from geobatch.labels import place_types
from geobatch.pipeline import Pipeline, PipelineOptions


def test_place_types_of_common_schemes():
    full = ["O", "B-geo", "I-geo", "B-gpe", "I-gpe", "B-per", "I-per", "B-org", "B-tim"]
    assert place_types(full) == ("geo", "gpe")
    assert place_types(["O", "B-LOC", "I-LOC", "B-PER", "B-ORG", "B-MISC"]) == ("LOC",)
    assert place_types(["O", "B-tar", "I-tar", "B-inc", "I-inc"]) == ("inc", "tar")  # a scheme of one's own
    assert place_types(["O"]) == ()


def relabelled_model(tmp_path, labels):
    """The tiny model (france/germany -> 2nd type, paris/london/berlin -> 1st type) under other type names."""
    d = build_tiny_model_dir(tmp_path / "model")
    card = json.loads((d / "model_card.json").read_text())
    assert len(labels) == len(LABELS)
    card["labels"] = labels
    (d / "model_card.json").write_text(json.dumps(card))
    return d


class RecordingResolver:
    def __init__(self):
        self.seen = []

    def __call__(self, text, spans):
        self.seen += [text[s["start_char"]:s["end_char"]] for s in spans]
        return [{"geonameid": 7, "latitude": 1.0, "longitude": 2.0} for _ in spans]


def test_only_place_spans_are_resolved(tmp_path):
    model = relabelled_model(tmp_path, ["O", "B-geo", "I-geo", "B-per", "I-per"])
    resolver = RecordingResolver()
    pipe = Pipeline(model, PipelineOptions(provider="cpu"), resolver=resolver)
    assert pipe.location_labels == ("geo",)
    result = pipe.process([{"id": "a", "text": "Paris met France in Berlin."}])
    spans = result.spans.to_pylist()
    assert [(s["text"], s["label"]) for s in spans] == [("Paris", "geo"), ("France", "per"), ("Berlin", "geo")]
    assert resolver.seen == ["Paris", "Berlin"]  # the per span never reaches the gazetteer
    assert [s["geonameid"] for s in spans] == [7, None, 7]
    assert spans[1]["latitude"] is None and spans[1]["resolution_score"] is None


def test_demonyms_reach_the_resolver_as_context_only(tmp_path):
    # a spec's demonym type is no place: its spans are passed after the places, marked context_only,
    # so the resolver can read "French" as a hint of the country; whatever it returns for them is dropped
    d = build_tiny_model_dir(tmp_path / "model", labels=["O", "B-geo", "I-geo", "B-dem", "I-dem"],
                             word_labels={"paris": "B-geo", "berlin": "B-geo", "france": "B-dem"},
                             card_extra={"training": {"spec": {"demonym_type": "dem"}}})
    seen = []

    def resolver(text, spans):
        seen.extend((text[s["start_char"]:s["end_char"]], bool(s.get("context_only"))) for s in spans)
        return [{"geonameid": 7, "latitude": 1.0, "longitude": 2.0} for _ in spans]

    pipe = Pipeline(d, PipelineOptions(provider="cpu"), resolver=resolver)
    assert pipe.location_labels == ("geo",) and pipe.context_labels == ("dem",)
    spans = pipe.process([{"id": "a", "text": "Paris met France in Berlin."}]).spans.to_pylist()
    assert [(s["text"], s["label"]) for s in spans] == [("Paris", "geo"), ("France", "dem"), ("Berlin", "geo")]
    assert seen == [("Paris", False), ("Berlin", False), ("France", True)]
    assert [s["geonameid"] for s in spans] == [7, None, 7]


def test_own_scheme_is_all_places_and_scored_as_location(tmp_path):
    model = relabelled_model(tmp_path, ["O", "B-tar", "I-tar", "B-inc", "I-inc"])
    text = "Paris sent aid to France."
    inp = tmp_path / "docs.jsonl"
    inp.write_text(json.dumps({"id": "d", "text": text, "places": [
        {"start": 0, "end": 5}, {"start": text.index("France"), "end": text.index("France") + 6}]}) + "\n")
    out = tmp_path / "out"
    rc = main(["run", "--model", str(model), "--input", str(inp), "--spans-column", "places",
               "--output", str(out), "--no-resolve", "--quiet"])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    # gold spans without a label are `location`; both tar and inc predictions count as places
    assert metrics["entity_level"]["location"]["f1"] == pytest.approx(1.0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["job"]["settings"]["location_labels"] == ["inc", "tar"]
    assert len(pq.read_table(out / "spans")) == 2


def test_location_labels_the_model_lacks_are_refused(tmp_path):
    model = relabelled_model(tmp_path, ["O", "B-tar", "I-tar", "B-inc", "I-inc"])
    with pytest.raises(GeobatchError, match="predicts no such type"):
        Pipeline(model, PipelineOptions(provider="cpu", location_labels=("geo", "gpe")))
    inp = tmp_path / "docs.jsonl"
    inp.write_text(json.dumps({"id": "d", "text": "Paris."}) + "\n")
    rc = main(["run", "--model", str(model), "--input", str(inp), "--output", str(tmp_path / "o"),
               "--location-labels", "geo", "--no-resolve", "--quiet"])
    assert rc == 2
    assert not (tmp_path / "o" / "manifest.json").exists()

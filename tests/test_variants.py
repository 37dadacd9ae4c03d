"""Model variants inside a MODEL_DIR (`geobatch optimize --variant`), the CPU-default rule, the
runner's `--variant auto|fp32|NAME`, and the IO-binding path of the tagger (checked on CPU)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from geobatch.cli import main
from geobatch.errors import GeobatchError, ModelError
from geobatch.model import variants
from geobatch.model.infer import OnnxTagger
from geobatch.model.model_dir import load_model_dir
from geobatch.text.batching import make_batches
from geobatch.text.tokenize import WordpieceEncoder
from geobatch.text.words import split_words
from tiny_onnx import build_tiny_model_dir

pytest.importorskip("onnx", reason="geobatch optimize needs the onnx package")


def card(d):
    return json.loads((d / "model_card.json").read_text())


@pytest.fixture(scope="module")
def with_variants(tmp_path_factory):
    """A tiny MODEL_DIR with an int8 (CPU) and an fp16 (CUDA) variant, made by the real CLI."""
    root = build_tiny_model_dir(tmp_path_factory.mktemp("variants") / "model")
    assert main(["optimize", str(root), "--quantize", "int8", "--variant", "int8"]) == 0
    assert main(["optimize", str(root), "--fp16", "--variant", "fp16"]) == 0
    return root


@pytest.fixture
def model(with_variants, tmp_path):
    """A fresh copy per test (tests write the card)."""
    d = tmp_path / "model"
    shutil.copytree(with_variants, d)
    return d


def test_optimize_variant_writes_a_model_dir_inside_and_registers_it(model):
    c = card(model)
    assert set(c["variants"]) == {"int8", "fp16"}
    int8 = c["variants"]["int8"]
    assert int8["dir"] == "variants/int8" and int8["steps"] == ["quantize_int8"]
    assert int8["target_provider"] == "CPUExecutionProvider"
    assert c["variants"]["fp16"]["target_provider"] == "CUDAExecutionProvider"
    inner = load_model_dir(model / "variants" / "int8")  # a complete model directory of its own
    assert inner.sha256 == int8["onnx_sha256"] == inner.card["onnx_sha256"]
    assert not set(variants.CARD_KEYS) & set(inner.card), "the registry stays in the root card"
    assert load_model_dir(model).sha256 == variants.read_card(model)["onnx_sha256"], "the exported graph is untouched"


def test_optimize_option_mistakes(model, capsys):
    assert main(["optimize", str(model), "--quantize", "int8", "--variant", "int8"]) == 2  # exists already
    assert "already has a variant 'int8'" in capsys.readouterr().err  # not "--output ... already exists"
    assert main(["optimize", str(model), "--quantize", "int8", "--variant", "Bad Name"]) == 2
    assert main(["optimize", str(model), "--quantize", "int8", "--variant", "fp32"]) == 2
    assert main(["optimize", str(model), "--quantize", "int8", "--variant", "x", "--output", str(model) + "-o"]) == 2
    assert main(["optimize", str(model), "--default", "cpu"]) == 2
    assert main(["optimize", str(model), "--default", "tpu=int8"]) == 2
    assert main(["optimize", str(model), "--default", "cpu=nope"]) == 2
    assert main(["optimize", str(model), "--default", "cpu=fp16"]) == 2  # a CUDA variant
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error:") == 7
    assert not (model / "variants" / "x").exists()


def ev(f1, speed):
    return {"location_f1": f1, "docs_per_s": speed}


def test_rule_picks_the_fastest_variant_within_half_a_point(model):
    d = variants.record_evaluation(model, "a", {"fp32": ev(0.800, 10.0), "int8": ev(0.797, 25.0)})
    assert d["cpu"] == "int8" and d["cpu_set_by"] == "rule"
    assert d["cpu_table"]["int8"] == {"qualifies": True, "worst_f1_delta_points": -0.3, "speedup": 2.5}
    # a second corpus where int8 loses 0.6 points: it no longer qualifies anywhere
    d = variants.record_evaluation(model, "b", {"fp32": ev(0.700, 5.0), "int8": ev(0.694, 20.0)})
    assert d["cpu"] == "fp32" and not d["cpu_table"]["int8"]["qualifies"]
    # re-measured on b within the limit: int8 again
    d = variants.record_evaluation(model, "b", {"fp32": ev(0.700, 5.0), "int8": ev(0.6951, 20.0)})
    assert d["cpu"] == "int8"


def test_rule_breaks_speed_ties_by_f1(model):
    """Speeds within SPEED_TIE of the fastest are noise on a shared machine: the better F1 wins among them."""
    shutil.copytree(model / "variants" / "int8", model / "variants" / "int8b")
    variants.register_variant(model, "int8b", {"steps": ["quantize_int8"], "onnx_sha256": card(model)["variants"]["int8"]["onnx_sha256"]})
    d = variants.record_evaluation(model, "a", {"fp32": ev(0.800, 10.0), "int8": ev(0.799, 25.0), "int8b": ev(0.797, 26.0)})
    assert d["cpu"] == "int8" and "tie" in d["cpu_reason"]
    d = variants.record_evaluation(model, "a", {"fp32": ev(0.800, 10.0), "int8": ev(0.799, 20.0), "int8b": ev(0.797, 26.0)})
    assert d["cpu"] == "int8b" and "tie" not in d["cpu_reason"]  # 23 % faster: not a tie


def test_rule_ignores_cuda_variants_partial_and_stale_figures(model):
    d = variants.record_evaluation(model, "a", {"fp32": ev(0.8, 10.0), "fp16": ev(0.8, 99.0)})
    assert d["cpu"] == "fp32" and "fp16" not in d["cpu_table"]
    variants.record_evaluation(model, "a", {"fp32": ev(0.8, 10.0), "int8": ev(0.8, 20.0)})
    d = variants.record_evaluation(model, "b", {"fp32": ev(0.8, 10.0)})  # int8 not measured on b
    assert d["cpu"] == "fp32"
    d = variants.record_evaluation(model, "b", {"fp32": ev(0.8, 10.0), "int8": ev(0.8, 20.0)})
    assert d["cpu"] == "int8"
    # int8 rebuilt (another graph registered under the same name): its recorded figures stop counting
    import onnx

    graph = model / "variants" / "int8" / "model.onnx"
    m = onnx.load(str(graph))
    m.doc_string = "rebuilt"
    onnx.save(m, str(graph))
    variants.register_variant(model, "int8", {"steps": ["quantize_int8"], "onnx_sha256": variants.file_sha256(graph)})
    c = card(model)
    assert c["defaults"]["cpu"] == "fp32"
    assert c["evaluations"]["a"]["variants"]["int8"]["onnx_sha256"] != c["variants"]["int8"]["onnx_sha256"]


def test_record_evaluation_checks_its_figures(model):
    with pytest.raises(GeobatchError, match="no variant"):
        variants.record_evaluation(model, "a", {"fp32": ev(0.8, 1.0), "int4": ev(0.8, 2.0)})
    with pytest.raises(GeobatchError, match="docs_per_s"):
        variants.record_evaluation(model, "a", {"fp32": {"location_f1": 0.8}})


def test_hand_set_default_wins_until_auto(model):
    assert main(["optimize", str(model), "--default", "cpu=fp32", "--default", "cuda=fp16"]) == 0
    d = variants.record_evaluation(model, "a", {"fp32": ev(0.8, 10.0), "int8": ev(0.8, 20.0)})
    assert d["cpu"] == "fp32" and d["cpu_set_by"] == "hand" and d["cuda"] == "fp16"
    assert main(["optimize", str(model), "--default", "cpu=auto"]) == 0
    assert card(model)["defaults"]["cpu"] == "int8"
    assert main(["optimize", str(model), "--default", "cuda=auto"]) == 0
    assert "cuda" not in card(model)["defaults"]


def test_resolve_variant(model):
    r = variants.resolve_variant(model)
    assert (r.path, r.name) == (model, "fp32") and "no cpu default" in r.reason
    variants.set_default(model, "cpu", "int8")
    variants.set_default(model, "cuda", "fp16")
    assert variants.resolve_variant(model).path == model / "variants" / "int8"
    assert variants.resolve_variant(model, on_cuda=True).path == model / "variants" / "fp16"
    assert variants.resolve_variant(model, "fp32").path == model
    assert variants.resolve_variant(model, "fp16").name == "fp16"
    with pytest.raises(GeobatchError, match="no variant 'int4'"):
        variants.resolve_variant(model, "int4")
    (model / "variants" / "int8" / "model.onnx").write_bytes(b"not the registered graph")
    with pytest.raises(ModelError, match="does not match"):
        variants.resolve_variant(model)
    shutil.rmtree(model / "variants" / "int8")
    with pytest.raises(ModelError, match="missing"):
        variants.resolve_variant(model)


def _spans(out):
    t = pq.read_table(out / "spans").sort_by([("doc_id", "ascending"), ("span_index", "ascending")])
    return t.select(["doc_id", "start_char", "end_char", "label"]).to_pylist()


def test_run_uses_the_cpu_default_and_says_so(model, tmp_path, capsys):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(
        ["Flights from Paris to London and New York.", "Germany and France signed.", "Nothing here."])))
    args = ["run", "--input", str(corpus), "--no-resolve", "--provider", "cpu"]
    assert main(args + ["--model", str(model), "--output", str(tmp_path / "o1")]) == 0
    assert "variant" not in capsys.readouterr().err  # no default recorded: fp32, silently
    m1 = json.loads((tmp_path / "o1" / "manifest.json").read_text())
    assert m1["job"]["model_sha256"] == load_model_dir(model).sha256

    variants.set_default(model, "cpu", "int8")
    assert main(args + ["--model", str(model), "--output", str(tmp_path / "o2")]) == 0
    assert "note: model variant int8 (the card's cpu default" in capsys.readouterr().err
    m2 = json.loads((tmp_path / "o2" / "manifest.json").read_text())
    assert m2["job"]["model_sha256"] == card(model)["variants"]["int8"]["onnx_sha256"]
    assert m2["model_card"]["optimization"]["steps"] == ["quantize_int8"]
    assert _spans(tmp_path / "o1") == _spans(tmp_path / "o2") and len(_spans(tmp_path / "o1")) == 5

    # resuming into o2 with another variant is another job: refused, nothing mixed
    assert main(args + ["--model", str(model), "--output", str(tmp_path / "o2"), "--variant", "fp32"]) == 2
    assert "different job" in capsys.readouterr().err
    assert main(args + ["--model", str(model), "--output", str(tmp_path / "o3"), "--variant", "int4"]) == 2
    assert "no variant 'int4'" in capsys.readouterr().err
    assert not (tmp_path / "o3").exists()


def _batches(model_dir, texts, batch_size):
    enc = WordpieceEncoder(load_model_dir(model_dir).tokenizer_path)
    docs = enc.encode([split_words(t)[0] for t in texts])
    return make_batches([d.ids for d in docs], batch_size, enc.cls_id, enc.sep_id, enc.pad_id)


TEXTS = ["Paris", "Flights from Paris to London, then on to New York and Berlin.", "x " * 40,
         "The United Kingdom, Germany and France met in Berlin on Monday."]


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_io_binding_gives_the_same_logits_on_cpu(tmp_path, dtype):
    d = build_tiny_model_dir(tmp_path / "m", max_length=64, input_dtype=dtype)
    m = load_model_dir(d)
    plain, bound = OnnxTagger(m, "cpu"), OnnxTagger(m, "cpu", io_binding=True)
    assert not plain.io_binding and bound.io_binding
    for batch in _batches(d, TEXTS, 3):
        a, b = plain.run(batch), bound.run(batch)
        assert b.dtype == np.float32 and b.shape == a.shape
        np.testing.assert_array_equal(a, b)


def test_io_binding_on_a_transformer(request):
    """Same check on the tiny TF-exported BERT (attention over a padded batch)."""
    try:
        d = request.getfixturevalue("tiny_model_dir")
    except pytest.FixtureLookupError:
        pytest.skip("no tiny_model_dir fixture")
    m = load_model_dir(d)
    plain, bound = OnnxTagger(m, "cpu"), OnnxTagger(m, "cpu", io_binding=True)
    for batch in _batches(d, TEXTS, 4):
        np.testing.assert_array_equal(plain.run(batch), bound.run(batch))

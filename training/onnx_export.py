"""Checkpoint -> MODEL_DIR (model.onnx, tokenizer.json, model_card.json), parity-checked, written atomically."""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from geobatch.errors import GeobatchError, InputError

from . import checkpoint as ckpt
from .data import sha256_file
from .tf_env import keras, tf

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
INPUT_DTYPE = "int64"   # the Hugging Face ONNX convention; recorded in the card for the runtime
OUTPUT_NAME = "logits"
DEFAULT_OPSET = 17
PARITY_TOLERANCE = 1e-3


class ParityError(GeobatchError):
    """The exported graph does not reproduce TensorFlow's logits: nothing is written."""

    exit_code = 1


_ERFC_REGISTERED = False


def _register_erfc() -> None:
    """tf2onnx 1.17 has no handler for TF's Erfc (exact GELU emits it on TF 2.21): erfc(x) = 1 - erf(x)."""
    global _ERFC_REGISTERED
    if _ERFC_REGISTERED:
        return
    from tf2onnx import utils
    from tf2onnx.handler import tf_op

    @tf_op("Erfc")
    class Erfc:  # noqa: F841 - registered by the decorator
        @classmethod
        def version_9(cls, ctx, node, **kwargs):
            dtype = ctx.get_dtype(node.input[0])
            one = ctx.make_const(utils.make_name("erfc_one"), np.array(1, dtype=utils.map_onnx_to_numpy_type(dtype)))
            erf = ctx.make_node("Erf", [node.input[0]], op_name_scope=node.name)
            shapes, dtypes, outputs = node.output_shapes, node.output_dtypes, node.output
            ctx.remove_node(node.name)
            ctx.make_node("Sub", [one.output[0], erf.output[0]], outputs=outputs, name=node.name, shapes=shapes, dtypes=dtypes)

    _ERFC_REGISTERED = True


def _serving_function(model):
    specs = [tf.TensorSpec([None, None], tf.int64, name=n) for n in INPUT_NAMES]

    @tf.function(input_signature=specs)
    def serving(input_ids, attention_mask, token_type_ids):
        out = model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, training=False)
        return {OUTPUT_NAME: tf.cast(out.logits, tf.float32)}

    return serving, specs


def _rename_io(model_proto) -> None:
    """tf2onnx names graph inputs after the TensorSpecs ("input_ids:0" on some versions): normalise."""
    renames = {}
    for io in list(model_proto.graph.input) + list(model_proto.graph.output):
        clean = io.name.split(":")[0]
        if clean != io.name:
            renames[io.name] = clean
    if not renames:
        return
    for node in model_proto.graph.node:
        node.input[:] = [renames.get(x, x) for x in node.input]
        node.output[:] = [renames.get(x, x) for x in node.output]
    for io in list(model_proto.graph.input) + list(model_proto.graph.output):
        io.name = renames.get(io.name, io.name)


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("geobatch", "tensorflow", "tf-keras", "transformers", "tf2onnx", "onnx", "onnxruntime-gpu", "onnxruntime", "tokenizers", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def parity_max_abs_diff(model, onnx_path: Path, batch: dict) -> float:
    import onnxruntime as ort

    feeds = {n: batch[n].astype(np.int64) for n in INPUT_NAMES}
    tf_logits = model(**{k: tf.constant(v) for k, v in feeds.items()}, training=False).logits.numpy().astype(np.float32)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (ort_logits,) = sess.run([OUTPUT_NAME], feeds)
    if ort_logits.shape != tf_logits.shape:
        raise ParityError(f"ONNX logits have shape {ort_logits.shape}, TensorFlow {tf_logits.shape}", "report this export failure")
    return float(np.max(np.abs(ort_logits - tf_logits)))


MODEL_DIR_ENTRIES = ("model.onnx", "tokenizer.json", "model_card.json", "variants")


def check_output(output: str | Path) -> None:
    """--output must be new, empty, or a model directory holding nothing but a model (it is replaced
    whole: anything else in it would be deleted with it); and its parent must be writable. Checked
    before the model is loaded, and by `geobatch train --export` before training starts."""
    output = Path(output)
    if output.exists():
        if not output.is_dir() or (any(output.iterdir()) and not (output / "model_card.json").exists()):
            raise InputError(f"{output} exists and is not a model directory", "choose another --output or remove it")
        foreign = sorted(p.name for p in output.iterdir() if p.name not in MODEL_DIR_ENTRIES)
        if foreign:
            raise InputError(f"model directory {output} also holds {', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}, "
                             "which replacing it would delete", "move those files elsewhere, or choose another --output")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        probe = Path(tempfile.mkdtemp(prefix=f".{output.name}.tmp-", dir=output.parent))
        probe.rmdir()
    except OSError as e:
        raise InputError(f"cannot write {output}: {e.strerror or e}", "choose a --output in a writable directory") from None


def _replace_dir(tmp: Path, final: Path, log=print) -> None:
    """Put tmp at final in one rename; an existing model dir is moved aside first and removed after
    (put back if the rename fails, so a failed export never loses the model that was there)."""
    old = None
    if final.exists():
        variants = sorted(p.name for p in (final / "variants").iterdir()) if (final / "variants").is_dir() else []
        if variants:
            log(f"note: replacing {final}: its optimized variants ({', '.join(variants)}) were made from the old graph and go with it")
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.rename(final, old)
    try:
        os.rename(tmp, final)
    except BaseException:
        if old is not None:
            os.rename(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def model_card(meta: dict, opset: int, onnx_sha256: str, parity: float) -> dict:
    """The MODEL_DIR card from the checkpoint's metadata and the export's own figures."""
    return {
        "labels": meta["labels"],
        "label_scheme": meta["label_scheme"],
        # the type map itself (None for the named schemes): the runner maps gold tags through it
        "label_map": meta.get("label_map"),
        "max_length": meta["max_length"],
        # {"tokens", "ids", "default"}: the marker after [CLS] naming the annotation convention (training/spec.py)
        "conventions": meta.get("conventions"),
        # true: token_type_ids carry which words start with a capital (geobatch/text/case_types.py)
        "case_types": bool(meta.get("case_types")),
        "base_model": meta["base_model"],
        "lowercase": meta["lowercase"],
        "head": meta["head"],
        "inputs": [{"name": n, "dtype": INPUT_DTYPE} for n in INPUT_NAMES],
        "output": OUTPUT_NAME,
        "opset": opset,
        "onnx_sha256": onnx_sha256,
        "parity_max_abs_diff": parity,
        "training": {
            "files": meta["files"],
            "sentences": meta["sentences"],
            "validation_sentences": meta.get("validation_sentences"),
            "epochs": meta["epochs"],
            "best_epoch": meta.get("best_epoch"),
            "total_epochs": meta.get("total_epochs") or meta.get("best_epoch"),
            "continued_from": meta.get("continued_from"),
            "seed": meta.get("seed"),
            # the validation hold-out's seed and share: bench/selection_slice.py rebuilds the slice from them
            "split_seed": meta.get("split_seed"),
            "validation_fraction": (meta.get("options") or {}).get("validation_fraction"),
            "spec": meta.get("spec"),
            # depth: a student keeps `layers` of its base's `base_layers` (training/depth.py)
            "layers": meta.get("layers"),
            "base_layers": meta.get("base_layers"),
            "layers_kept": meta.get("layers_kept"),
            "distillation": meta.get("distillation"),
            "augment_copies": meta.get("augment_copies", 0),  # taught copies with place names swapped (--augment)
        },
        "validation_metrics": meta["validation_metrics"],
        "versions": _versions(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def export(checkpoint: str | Path, output: str | Path, opset: int = DEFAULT_OPSET, tolerance: float = PARITY_TOLERANCE, log=print) -> dict:
    """Convert, check parity, write MODEL_DIR. Returns the model card."""
    if opset < 17:
        raise InputError(f"--opset {opset} is below 17", "use 17 or later")
    checkpoint, output = Path(checkpoint), Path(output)
    meta = ckpt.read_metadata(checkpoint)
    check_output(output)
    import tf2onnx
    import onnx

    _register_erfc()
    keras.mixed_precision.set_global_policy("float32")  # export the float32 graph even after GPU training
    model = ckpt.load_model(checkpoint, meta["head"])
    serving, specs = _serving_function(model)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.tmp-", dir=output.parent))
    except OSError as e:
        raise InputError(f"cannot write {output}: {e.strerror or e}", "choose a --output in a writable directory") from None
    tmp.chmod(0o755)  # mkdtemp makes it private; a model dir is meant to be shared
    try:
        t0 = time.time()
        model_proto, _ = tf2onnx.convert.from_function(serving, input_signature=specs, opset=opset)
        _rename_io(model_proto)
        names = [i.name for i in model_proto.graph.input]
        outs = [o.name for o in model_proto.graph.output]
        if sorted(names) != sorted(INPUT_NAMES) or OUTPUT_NAME not in outs:
            raise ParityError(f"exported graph has inputs {names} and outputs {outs}", "report this export failure")
        onnx_path = tmp / "model.onnx"
        onnx.save(model_proto, str(onnx_path))
        log(f"converted to ONNX (opset {opset}) in {time.time() - t0:.1f}s")
        batch = ckpt.read_parity_batch(checkpoint)
        diff = parity_max_abs_diff(model, onnx_path, batch)
        lengths = batch["attention_mask"].sum(axis=1)
        log(f"parity: max |ONNX - TF| = {diff:.2e} over a batch of {len(lengths)} inputs, lengths {int(lengths.min())}..{int(lengths.max())}, padded to {batch['input_ids'].shape[1]}")
        if not diff <= tolerance:
            raise ParityError(f"ONNX logits differ from TensorFlow by {diff:.3g} (> {tolerance:g}); no model directory written", "report this export failure with the checkpoint")
        shutil.copyfile(checkpoint / "tokenizer.json", tmp / "tokenizer.json")
        card = model_card(meta, opset, sha256_file(onnx_path), diff)
        (tmp / "model_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        _replace_dir(tmp, output, log)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"wrote {output}")
    return card

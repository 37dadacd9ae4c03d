"""MODEL_DIR -> a new, optimized MODEL_DIR with its own card, parity-checked, written atomically.

Steps, in this order when several are asked for: fuse (fp32 graph rewrites + ORT fusions), then
int8 dynamic quantization *or* fp16 conversion of the (fused) fp32 graph. The new directory holds
model.onnx, the source tokenizer.json and the source card extended with an `optimization` section.
Nothing is written when a parity gate fails.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from ...errors import GeobatchError, InputError, ModelError
from ..model_dir import ModelDir, file_sha256, load_model_dir
from ..variants import CARD_KEYS as VARIANT_CARD_KEYS
from .parity import Parity, compare, parity_batches

FP32_TOLERANCE = 1e-3  # same gate as the TensorFlow -> ONNX export
DEFAULT_MIN_AGREEMENT = 0.99  # share of real tokens whose argmax label must not change (int8 / fp16)
QUANTIZE_CHOICES = ("int8",)


class ParityError(GeobatchError):
    """The optimized graph does not reproduce the source model: nothing is written."""

    exit_code = 1


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime.transformers  # noqa: F401
    except ImportError as e:
        raise GeobatchError(f"geobatch optimize needs the onnx package ({e})", "pip install onnx") from None


def _check_output(source: ModelDir, output: Path) -> None:
    if output.resolve() == source.path.resolve():
        raise InputError(f"--output {output} is the source model directory", "write the optimized model to a new directory")
    if output.exists() and not (output.is_dir() and not any(output.iterdir())):
        raise InputError(f"--output {output} already exists", "choose a new directory (optimize never overwrites)")


def _check_source_hash(source: ModelDir) -> None:
    claimed = source.card.get("onnx_sha256")
    if claimed and claimed != source.sha256:
        raise ModelError(
            f"{source.onnx_path} does not match its card (sha256 {source.sha256[:12]}..., card says {claimed[:12]}...)",
            "re-export the model directory",
        )


def _check_not_done_already(source: ModelDir, fuse: bool) -> None:
    """int8 or fp16 of a graph that is already int8 or fp16 compounds the loss behind a card whose
    parity only compares it with that lossy source (and fp16 twice does not even load); fusing a
    fused graph changes nothing but claims a step."""
    opt = source.card.get("optimization")
    if not isinstance(opt, dict):
        return
    steps = list(opt.get("steps") or [])
    origin = (opt.get("source") or {}).get("path")
    done_lossy = [s for s in steps if s in ("quantize_int8", "float16")]
    if done_lossy:
        raise InputError(f"{source.path} is already an optimized model ({' + '.join(steps)})",
                         f"optimize the fp32 model it was made from{f' ({origin})' if origin else ''}")
    if fuse and "fuse" in steps:
        raise InputError(f"{source.path} is already fused", "drop --fuse (--quantize int8 or --fp16 alone apply to the fused graph)")


def _versions() -> dict:
    import importlib.metadata as md

    out = {}
    for pkg in ("geobatch", "onnx", "onnxruntime-gpu", "onnxruntime"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _quantize_int8(model, work: Path, per_channel: bool, reduce_range: bool):
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = work / "int8.onnx"
    # ONNX shape inference cannot type the outputs of fused com.microsoft operators; they are all float32
    extra = {"DefaultTensorType": onnx.TensorProto.FLOAT}
    logging.disable(logging.WARNING)  # it recommends a pre-processing pass that needs sympy
    try:
        quantize_dynamic(model, out, per_channel=per_channel, reduce_range=reduce_range, weight_type=QuantType.QInt8,
                         extra_options=extra)
    except Exception as e:  # the quantizer raises RuntimeError/ValueError on graphs it cannot handle
        raise ModelError(f"int8 quantization failed: {e}", "report this optimize failure with the model directory") from None
    finally:
        logging.disable(logging.NOTSET)
    return onnx.load(str(out))


def _to_fp16(model):
    # float16.convert_float_to_float16 types tensors with ONNX shape inference; OnnxModel's wrapper of it
    # would also run ORT's symbolic shape inference, which needs sympy. Weights and every float tensor
    # become fp16; keep_io_types leaves the int ids and the float32 logits as they were (Casts at the edges).
    from onnxruntime.transformers.float16 import convert_float_to_float16

    return convert_float_to_float16(model, keep_io_types=True)


def _check_signature(source_model, new_model) -> None:
    def sig(m):
        ins = [(i.name, i.type.tensor_type.elem_type) for i in m.graph.input]
        outs = [(o.name, o.type.tensor_type.elem_type) for o in m.graph.output]
        return ins, outs

    if sig(source_model) != sig(new_model):
        raise ModelError(f"optimizing changed the model's inputs/outputs: {sig(source_model)} -> {sig(new_model)}",
                         "report this optimize failure")


def _parity(source: ModelDir, candidate_dir: Path, provider: str) -> Parity:
    from ..infer import OnnxTagger

    candidate = load_model_dir(candidate_dir)
    return compare(OnnxTagger(source, "cpu"), OnnxTagger(candidate, provider), parity_batches(source))


def optimize_model_dir(
    model_dir: str | Path,
    output: str | Path,
    *,
    fuse: bool = False,
    quantize: str | None = None,
    fp16: bool = False,
    per_channel: bool = False,
    reduce_range: bool = False,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    log=print,
) -> dict:
    """Write the optimized model directory; returns its card's `optimization` section."""
    if not (fuse or quantize or fp16):
        raise InputError("nothing to do", "pass --fuse, --quantize int8 and/or --fp16")
    if quantize is not None and quantize not in QUANTIZE_CHOICES:
        raise InputError(f"--quantize {quantize} is not supported", f"use one of {', '.join(QUANTIZE_CHOICES)}")
    if quantize and fp16:
        raise InputError("--quantize int8 and --fp16 exclude each other", "int8 is for CPU, fp16 for CUDA: pick one")
    if not 0.0 <= min_agreement <= 1.0:
        raise InputError(f"--min-agreement {min_agreement} is not a share", "use a number between 0 and 1")
    if not Path(model_dir).is_dir():
        raise InputError(f"model directory {model_dir} does not exist", "pass a MODEL_DIR made by `geobatch export`")
    source = load_model_dir(model_dir)
    output = Path(output)
    _check_output(source, output)
    _check_source_hash(source)
    _check_not_done_already(source, fuse)
    _require_onnx()
    import onnx

    model = onnx.load(str(source.onnx_path))
    source_model = onnx.ModelProto()
    source_model.CopyFrom(model)
    section: dict = {"steps": [], "source": {"path": str(source.path.resolve()), "onnx_sha256": source.sha256}}
    if isinstance(source.card.get("optimization"), dict):  # optimizing an optimized model: keep the chain visible
        section["source"]["steps"] = source.card["optimization"].get("steps")

    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.tmp-", dir=output.parent))
    tmp.chmod(0o755)
    try:
        if fuse:
            from .fuse import fuse as run_fusion

            model, report = run_fusion(model)
            fused = {k: v for k, v in report["fused_operators"].items() if v}
            if not any(report["fused_operators"][op] for op in ("Attention", "SkipLayerNormalization", "BiasGelu", "Gelu")):
                raise ModelError(f"--fuse found no transformer block to fuse in {source.onnx_path} (got {fused or 'nothing'})",
                                 "this is not a BERT graph geobatch knows; run without --fuse")
            section["steps"].append("fuse")
            section["fusion"] = report
            log("fused: " + ", ".join(f"{op} {n}" for op, n in fused.items())
                + f" ({report['nodes_before']} -> {report['nodes_after']} nodes, Cast {report['op_counts_before'].get('Cast', 0)}"
                f" -> {report['op_counts_after'].get('Cast', 0)})")
        if quantize == "int8":
            model = _quantize_int8(model, tmp, per_channel, reduce_range)
            (tmp / "int8.onnx").unlink()
            section["steps"].append("quantize_int8")
            section["quantization"] = {
                "method": "onnxruntime.quantization.quantize_dynamic (weights int8 ahead of time, activations at run time)",
                "weight_type": "QInt8", "per_channel": per_channel, "reduce_range": reduce_range,
                "of": "the fused fp32 graph" if fuse else "the source fp32 graph",
                "target_provider": "CPUExecutionProvider",
            }
            log(f"quantized to int8 (per_channel={per_channel}, reduce_range={reduce_range})")
        if fp16:
            model = _to_fp16(model)
            section["steps"].append("float16")
            section["float16"] = {
                "method": "onnxruntime.transformers float16 conversion, keep_io_types=True (int ids in, float32 logits out)",
                "target_provider": "CUDAExecutionProvider",
                "note": "for the CUDA provider; on CPU ONNX Runtime runs most fp16 operators slowly or not at all",
            }
            log("converted to float16 (for the CUDA provider)")
        _check_signature(source_model, model)

        onnx.save(model, str(tmp / "model.onnx"))
        shutil.copyfile(source.tokenizer_path, tmp / "tokenizer.json")
        # the root card's variant registry belongs to the root directory only
        card = {k: v for k, v in source.card.items() if k not in VARIANT_CARD_KEYS}
        card["onnx_sha256"] = file_sha256(tmp / "model.onnx")
        (tmp / "model_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")

        parity = _parity(source, tmp, "auto" if fp16 else "cpu")
        section["parity"] = parity.as_card()
        log(f"parity vs source on {parity.tokens} tokens ({parity.provider}): max |diff| {parity.max_abs_diff:.2e}, "
            f"mean {parity.mean_abs_diff:.2e}, argmax agreement {parity.argmax_agreement:.4f}")
        lossy = bool(quantize or fp16)
        if not lossy and not parity.max_abs_diff <= FP32_TOLERANCE:
            raise ParityError(f"fused logits differ from the source by {parity.max_abs_diff:.3g} (> {FP32_TOLERANCE:g}); nothing written",
                              "report this optimize failure with the model directory")
        if lossy and not parity.argmax_agreement >= min_agreement:
            raise ParityError(f"only {parity.argmax_agreement:.2%} of tokens keep their label (< {min_agreement:.2%}); nothing written",
                              "lower --min-agreement if the bench F1 says this is acceptable")

        section["onnx_sha256"] = card["onnx_sha256"]
        section["versions"] = _versions()
        section["created_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        card["optimization"] = section
        (tmp / "model_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        if output.exists():
            output.rmdir()  # checked empty above
        os.rename(tmp, output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"wrote {output}")
    return section

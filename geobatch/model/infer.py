"""One ONNX Runtime session per process, with quiet provider selection.

onnxruntime-gpu lists CUDAExecutionProvider even where CUDA cannot load, and asking for it there
prints a red error before falling back to CPU. So `auto` first checks that the CUDA driver and
libraries load, then opens the session with ORT's log silenced and records what it really got.
"""

from __future__ import annotations

import ctypes
import os
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from ..errors import GeobatchError, ModelError
from ..text.batching import Batch
from .model_dir import ModelDir

PROVIDERS = ("auto", "cuda", "cpu")
CUDA_EP = "CUDAExecutionProvider"
CPU_EP = "CPUExecutionProvider"
KNOWN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# what ORT's CUDA provider (1.2x/1.3x wheels) dlopens; the driver first: no driver, no GPU
_CUDA_LIBS = ("libcuda.so.1",)


def _cuda_libraries_load() -> bool:
    for lib in _CUDA_LIBS:
        try:
            ctypes.CDLL(lib)
        except OSError:
            return False
    return True


def cuda_usable() -> bool:
    """What `--provider auto` will try first: onnxruntime-gpu lists CUDA and the driver loads."""
    import onnxruntime as ort

    return CUDA_EP in ort.get_available_providers() and _cuda_libraries_load()


@contextmanager
def _quiet_fd2() -> Iterator[None]:
    """Silence C-level stderr (ORT prints library load failures there) for the duration."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _session(path: str, providers: list[str], threads: int | None, quiet: bool):
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if quiet:
        so.log_severity_level = 4
        ort.set_default_logger_severity(4)
        try:
            with _quiet_fd2():
                return ort.InferenceSession(path, so, providers=providers)
        finally:
            ort.set_default_logger_severity(2)
    return ort.InferenceSession(path, so, providers=providers)


class OnnxTagger:
    """Runs batches through the model; returns logits [b, s, n_labels] as float32.

    `io_binding` (default: on exactly when the session runs on CUDA) feeds the batch through an ORT
    IOBinding: the ids are copied to the device once, the logits are left in an ORT-allocated
    device buffer and copied back once, instead of `session.run`'s per-call staging and output
    allocation. On CPU it gives the same numbers as `session.run` (tested), so the CPU path can stay
    the plain one.
    """

    def __init__(self, model: ModelDir, provider: str = "auto", threads: int | None = None, io_binding: bool | None = None):
        if provider not in PROVIDERS:
            raise GeobatchError(f"unknown provider {provider!r}", f"use one of {', '.join(PROVIDERS)}")
        self.model = model
        self.n_labels = len(model.labels)
        path = str(model.onnx_path)
        want_cuda = provider in ("auto", "cuda") and cuda_usable()
        if provider == "cuda" and not want_cuda:
            raise GeobatchError(
                "--provider cuda asked for, but CUDA cannot be used here (no onnxruntime-gpu, no NVIDIA driver, or no CUDA 13/cuDNN 9 libraries)",
                "install onnxruntime-gpu with CUDA 13 and cuDNN 9 on a GPU machine, or use --provider cpu/auto",
            )
        try:
            if want_cuda:
                self.session = _session(path, [CUDA_EP, CPU_EP], threads, quiet=True)
                if CUDA_EP not in self.session.get_providers() and provider == "cuda":
                    raise GeobatchError(
                        "--provider cuda asked for, but ONNX Runtime could not start its CUDA provider (missing CUDA 13 / cuDNN 9 libraries?)",
                        "install the CUDA 13 and cuDNN 9 runtime libraries, or use --provider cpu/auto",
                    )
            else:
                self.session = _session(path, [CPU_EP], threads, quiet=False)
        except GeobatchError:
            raise
        except Exception as e:  # ORT raises its own exception types for invalid graphs
            raise ModelError(f"ONNX Runtime cannot load {path}: {str(e).splitlines()[0]}", "re-export the model directory") from None
        self.provider = self.session.get_providers()[0]
        self._check_signature()
        self.io_binding = (self.provider == CUDA_EP) if io_binding is None else bool(io_binding)
        self._device = "cuda" if self.provider == CUDA_EP else "cpu"

    def _check_signature(self) -> None:
        card_inputs = self.model.input_dtypes
        onnx_inputs = {i.name for i in self.session.get_inputs()}
        if set(card_inputs) != onnx_inputs:
            raise ModelError(
                f"model.onnx takes inputs {sorted(onnx_inputs)} but the model card lists {sorted(card_inputs)}",
                "re-export the model directory so card and graph agree",
            )
        unknown = [n for n in card_inputs if n not in KNOWN_INPUTS]
        if unknown:
            raise ModelError(f"model.onnx has unexpected inputs {unknown}", f"a token classifier takes only {', '.join(KNOWN_INPUTS)}")
        outputs = {o.name: o for o in self.session.get_outputs()}
        if self.model.output_name not in outputs:
            raise ModelError(
                f"model.onnx has no output {self.model.output_name!r} (it has {', '.join(outputs)})",
                "re-export the model directory so card and graph agree",
            )
        shape = outputs[self.model.output_name].shape
        if shape and isinstance(shape[-1], int) and shape[-1] != self.n_labels:
            raise ModelError(
                f"model.onnx outputs {shape[-1]} labels but the model card lists {self.n_labels}",
                "re-export the model directory so card and graph agree",
            )

    def run(self, batch: Batch) -> np.ndarray:
        arrays = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask, "token_type_ids": batch.token_type_ids}
        feed = {name: arrays[name].astype(dtype, copy=False) for name, dtype in self.model.input_dtypes.items()}
        if self.io_binding:
            logits = self._run_bound(feed)
        else:
            (logits,) = self.session.run([self.model.output_name], feed)
        if logits.ndim != 3 or logits.shape[-1] != self.n_labels:
            raise ModelError(
                f"model.onnx returned logits of shape {logits.shape}, expected [batch, seq, {self.n_labels}]",
                "re-export the model directory so card and graph agree",
            )
        return logits.astype(np.float32, copy=False)

    def _run_bound(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        binding = self.session.io_binding()
        for name, array in feed.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(array))
        binding.bind_output(self.model.output_name, self._device)  # ORT allocates it, shaped by the batch
        self.session.run_with_iobinding(binding)
        (logits,) = binding.copy_outputs_to_cpu()
        return logits

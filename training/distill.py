"""Knowledge distillation: a teacher's softened per-token distributions as a second training target.

The teacher is either an exported MODEL_DIR (run through ONNX Runtime, so no second TensorFlow
model sits in memory next to the student) or a training checkpoint (run through TensorFlow once,
before the student is built). Its logits are computed once for every training input, at the
positions the loss reads (each word's first piece, untaught words' included: the gold tags say
nothing there, the teacher still does), and kept as float16: the student's batches are
assembled from them by `teacher_batch`, whatever order an epoch draws.

The loss (`distillation_loss`) is (1 - weight) * the usual masked cross-entropy with the gold tags
+ weight * T^2 * KL(teacher_T || student_T) over every word's first piece, T the temperature (Hinton et
al. 2015: T^2 keeps the soft term's gradients on the scale of the hard one's as T changes).

With `--distill-hidden H` (a checkpoint teacher only: an exported model gives logits alone) the
student also learns the teacher's layer outputs, as TinyBERT and patient distillation do: its layer j
(a copy of the teacher's layer picks[j], training/depth.py) is pulled towards that teacher layer's
output, at the same first pieces. The term is a relative squared error, sum ||s - t||^2 / sum ||t||^2
per layer, averaged over layers: scale-free, so one weight H means the same whatever the encoder's
activation scale. The teacher's outputs are kept as float16 like its logits (K x hidden per position).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from geobatch.errors import InputError

from .data import IGNORE, Encoded


@dataclass
class Teacher:
    path: Path
    kind: str            # "onnx" (a MODEL_DIR) or "checkpoint"
    labels: list[str]
    tokenizer_json: Path

    def describe(self) -> dict:
        return {"path": str(self.path), "kind": self.kind}


def load_teacher(option: str, labels: list[str], tokenizer, conventions: dict | None = None, case_types: bool = False) -> Teacher:
    """The teacher named by --teacher, checked against the student: same labels in the same order
    (its distribution is read row by row as the student's), and the same tokenizer (it must see the
    same wordpiece ids)."""
    path = Path(option).expanduser()
    if not path.is_dir():
        raise InputError(f"--teacher {option} is not a directory", "give an exported MODEL_DIR (model.onnx) or a training checkpoint")
    if (path / "model.onnx").exists() and (path / "model_card.json").exists():
        kind = "onnx"
        card = json.loads((path / "model_card.json").read_text(encoding="utf-8"))
        teacher_labels, theirs_conv, theirs_case = card.get("labels"), card.get("conventions"), bool(card.get("case_types"))
    elif (path / "labels.json").exists() and (path / "training.json").exists():
        kind = "checkpoint"
        teacher_labels = json.loads((path / "labels.json").read_text(encoding="utf-8"))
        meta = json.loads((path / "training.json").read_text(encoding="utf-8"))
        theirs_conv, theirs_case = meta.get("conventions"), bool(meta.get("case_types"))
    else:
        raise InputError(f"--teacher {option} is neither a MODEL_DIR nor a training checkpoint",
                         "give a directory with model.onnx + model_card.json, or one with labels.json + training.json")
    if teacher_labels != labels:
        raise InputError(f"--teacher {option} predicts labels {teacher_labels}, the student {labels}",
                         "distil from a teacher trained on the same data and label scheme (the same --spec or --label-scheme)")
    if (theirs_conv or {}).get("tokens") != (conventions or {}).get("tokens"):  # it would read the markers otherwise
        raise InputError(f"--teacher {option} was trained with conventions {(theirs_conv or {}).get('tokens')}, "
                         f"the student's spec has {(conventions or {}).get('tokens')}", "distil from a teacher trained with the same spec")
    if theirs_case != case_types:  # it would read the token types otherwise
        raise InputError(f"--teacher {option} was trained {'with' if theirs_case else 'without'} case_types, the student's spec "
                         f"{'has' if case_types else 'has not'} them", "distil from a teacher trained with the same spec")
    tok = path / "tokenizer.json"
    if not tok.exists():
        raise InputError(f"--teacher {option} has no tokenizer.json", "give a MODEL_DIR or checkpoint written by geobatch")
    from tokenizers import Tokenizer

    theirs = Tokenizer.from_file(str(tok))
    if theirs.get_vocab() != tokenizer.get_vocab() or _normalizer(theirs) != _normalizer(tokenizer):
        raise InputError(f"--teacher {option} uses another tokenizer than the student's base model",
                         "distil from a teacher fine-tuned from the same base encoder (the same vocabulary and casing)")
    return Teacher(path, kind, list(labels), tok)


def _normalizer(tokenizer) -> dict | None:
    return json.loads(tokenizer.to_str()).get("normalizer")


def labelled_positions(e: Encoded) -> np.ndarray:
    """Every word's first piece, untaught words included (UNTAUGHT_LABEL is not IGNORE)."""
    return np.flatnonzero(e.labels != IGNORE)


def teacher_logits(teacher: Teacher, encoded: Sequence[Encoded], batch_size: int = 64, log=print,
                   hidden_layers: Sequence[int] | None = None):
    """For each input, the teacher's logits at its labelled positions: float16 [n_positions, n_labels].
    With hidden_layers (teacher layer indices, a checkpoint teacher), also those layers' outputs at the
    same positions, float16 [n_positions, len(hidden_layers), hidden]: returns (logits, hidden)."""
    from .batching import iterate_batches

    t0 = time.time()
    out: list[np.ndarray | None] = [None] * len(encoded)
    hidden: list[np.ndarray | None] = [None] * len(encoded)
    run = _onnx_runner(teacher) if teacher.kind == "onnx" else _checkpoint_runner(teacher, hidden_layers)
    for idx, batch in iterate_batches(encoded, batch_size):
        logits, states = run(batch) if hidden_layers else (run(batch), None)
        for row, i in enumerate(idx):
            at = labelled_positions(encoded[i])
            out[i] = logits[row, at].astype(np.float16)
            if states is not None:
                hidden[i] = states[row, at].astype(np.float16)
    held = sum(a.nbytes for a in (*out, *hidden) if a is not None) / 2**20
    what = f"logits and layers {list(hidden_layers)}' outputs" if hidden_layers else "logits"
    log(f"teacher {teacher.path} ({teacher.kind}): {what} for {len(encoded)} inputs in {time.time() - t0:.1f}s ({held:.1f} MiB held)")
    return (out, hidden) if hidden_layers else out  # type: ignore[return-value]


def _onnx_runner(teacher: Teacher):
    import onnxruntime as ort

    card = json.loads((teacher.path / "model_card.json").read_text(encoding="utf-8"))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(teacher.path / "model.onnx"), options, providers=["CPUExecutionProvider"])
    inputs = [i.name for i in session.get_inputs()]
    output = card.get("output", session.get_outputs()[0].name)

    def run(batch: dict) -> np.ndarray:
        feed = {name: batch[name].astype(np.int64) for name in inputs}
        return session.run([output], feed)[0]

    return run


def _checkpoint_runner(teacher: Teacher, hidden_layers: Sequence[int] | None = None):
    from . import checkpoint as ckpt

    meta = ckpt.read_metadata(teacher.path)
    model = ckpt.load_model(teacher.path, meta.get("head", "linear"))

    def run(batch: dict):
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"],
                    output_hidden_states=bool(hidden_layers), training=False)
        if not hidden_layers:
            return out.logits.numpy()
        # hidden_states[0] is the embeddings' output, [j + 1] layer j's
        return out.logits.numpy(), np.stack([out.hidden_states[j + 1].numpy() for j in hidden_layers], axis=2)

    return run


def hidden_batch(hidden: Sequence[np.ndarray], items: Sequence[Encoded], idx: Sequence[int], width: int) -> np.ndarray:
    """The padded [batch, width, layers, hidden] teacher layer outputs of one batch (zeros where no loss reads)."""
    first = hidden[idx[0]]
    out = np.zeros((len(idx), width, *first.shape[1:]), np.float32)
    for row, i in enumerate(idx):
        out[row, labelled_positions(items[i])] = hidden[i]
    return out


def hidden_state_loss(labels, student_states, teacher_states):
    """Mean over the student's layers of sum ||s - t||^2 / sum ||t||^2 at every word's first piece.
    student_states: the student's layer outputs (hidden_states[1:]), teacher_states [B, W, K, H]."""
    from .tf_env import tf

    mask = tf.cast(tf.not_equal(labels, IGNORE), tf.float32)[..., None]
    terms = []
    for j, s in enumerate(student_states):
        t = teacher_states[:, :, j, :]
        err = tf.reduce_sum(tf.square(tf.cast(s, tf.float32) - t) * mask)
        terms.append(err / tf.maximum(tf.reduce_sum(tf.square(t) * mask), 1e-6))
    return tf.add_n(terms) / len(terms)


def teacher_batch(logits: Sequence[np.ndarray], items: Sequence[Encoded], idx: Sequence[int], width: int, n_labels: int) -> np.ndarray:
    """The padded [batch, width, n_labels] teacher logits of one batch (zeros where the loss does not read)."""
    out = np.zeros((len(idx), width, n_labels), np.float32)
    for row, i in enumerate(idx):
        out[row, labelled_positions(items[i])] = logits[i]
    return out


def distillation_loss(labels, logits, teacher, hard_loss, temperature: float, weight: float):
    """(1 - weight) * hard_loss + weight * T^2 * mean KL(teacher_T || student_T) over every word's first
    piece (labels != IGNORE: untaught words too, where hard_loss reads nothing)."""
    from .tf_env import tf

    logits = tf.cast(logits, tf.float32)
    mask = tf.cast(tf.not_equal(labels, IGNORE), tf.float32)
    t_log = tf.nn.log_softmax(teacher / temperature, axis=-1)
    s_log = tf.nn.log_softmax(logits / temperature, axis=-1)
    kl = tf.reduce_sum(tf.exp(t_log) * (t_log - s_log), axis=-1)
    soft = tf.reduce_sum(kl * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)
    return (1.0 - weight) * hard_loss + weight * temperature * temperature * soft

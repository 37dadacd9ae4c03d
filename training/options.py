"""`geobatch train`'s options, and the checks that need neither the data nor TensorFlow.

`check_options` runs first in `training.fit.train` and, before TensorFlow is imported, in the command:
a wrong option is one line (exit 2) with no TensorFlow start-up lines before it and no data read.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from geobatch.errors import InputError

from . import checkpoint as ckpt
from .data import SpanOptions


@dataclass
class TrainOptions:
    train: list[str]
    output: str
    validation: str | None = None
    format: str | None = None
    spans: SpanOptions = field(default_factory=SpanOptions)
    label_scheme: str = "full"
    label_map: str | None = None
    base_model: str | None = None
    head: str = "linear"
    epochs: int = 3
    batch_size: int = 32
    max_length: int = 128
    learning_rate: float = 1e-4
    warmup_fraction: float = 0.06
    weight_decay: float = 0.01
    class_weights: str = "none"
    patience: int = 2
    seed: int = 13
    split_seed: int | None = None  # the validation hold-out's seed alone (None: seed)
    max_sentences: int | None = None
    validation_fraction: float = 0.05
    log_every: int = 50
    conv_filters: int = 256
    max_steps: int | None = None   # stop each epoch early (tests); never set for real runs
    spec: str | None = None        # training spec (training/spec.py): several corpora instead of --train
    data_dir: str | None = None    # where the spec's paths are relative to (default: the spec's folder)
    with_heldout: bool = False     # also train on the documents the spec holds back for evaluation
    corpus_weights: tuple[str, ...] = ()  # NAME=W: the spec's corpus NAME at weight W for this run
    layers: int | tuple[int, ...] | None = None  # keep this many of the base's encoder layers, or these (training/depth.py)
    teacher: str | None = None     # distil from this MODEL_DIR or checkpoint (training/distill.py)
    distill_temperature: float = 2.0
    distill_weight: float = 0.5    # share of the loss that is the teacher's; the rest is the gold tags'
    distill_hidden: float = 0.0    # weight of the layer-output term (training/distill.py); 0: logits only
    distill_augment: int = 0       # copies of each place-holding sentence, names swapped, teacher-only (training/augment.py)
    augment: int = 0               # the same copies taught by gold tags, the new names as places (training/augment.py)


def check_options(opts: TrainOptions) -> None:
    ckpt.check_output(Path(opts.output))
    if opts.class_weights not in ("none", "balanced"):
        raise InputError(f"unknown --class-weights {opts.class_weights!r}", "use none or balanced")
    # a negative rate climbs the loss, zero trains nothing: both finish "successfully" with a useless model
    if not (math.isfinite(opts.learning_rate) and opts.learning_rate > 0):
        raise InputError(f"--learning-rate {opts.learning_rate:g} is not a positive number", "use e.g. 1e-4 (5e-5 to continue a checkpoint)")
    if opts.teacher is not None and not (math.isfinite(opts.distill_temperature) and opts.distill_temperature > 0):
        raise InputError(f"--distill-temperature {opts.distill_temperature:g} is not a positive number", "use e.g. 2")
    if opts.teacher is not None and not (math.isfinite(opts.distill_hidden) and opts.distill_hidden >= 0):
        raise InputError(f"--distill-hidden {opts.distill_hidden:g} is not a number >= 0", "use e.g. 1 (0 leaves the layer outputs out)")
    if opts.distill_augment and opts.teacher is None:  # copies carry no gold: without a teacher nothing trains on them
        raise InputError(f"--distill-augment {opts.distill_augment} without --teacher", "pass --teacher MODEL_DIR_OR_CHECKPOINT, or leave it out")
    for flag, n in (("--distill-augment", opts.distill_augment), ("--augment", opts.augment)):
        if not (isinstance(n, int) and n >= 0):
            raise InputError(f"{flag} {n} is not a whole number >= 0", "use e.g. 1 (0 adds no copies)")
    if opts.distill_augment and opts.augment:  # one set of copies, taught one way
        raise InputError("--augment and --distill-augment both add copies", "use one: --augment teaches the copies' names, --distill-augment leaves them to the teacher")
    if opts.teacher is not None and not 0 <= opts.distill_weight <= 1:
        raise InputError(f"--distill-weight {opts.distill_weight:g} is outside 0..1", "use e.g. 0.5 (0 ignores the teacher, 1 the gold tags)")
    if opts.teacher is not None and not Path(opts.teacher).expanduser().is_dir():  # before the data is read
        raise InputError(f"--teacher {opts.teacher} is not a directory", "give an exported MODEL_DIR (model.onnx) or a training checkpoint")
    if not 0 <= opts.seed < 2**32:  # numpy's seeding range: a negative seed failed after the data was read
        raise InputError(f"--seed {opts.seed} is outside 0 .. 2**32-1", "use a non-negative seed, e.g. 13")
    if opts.corpus_weights:  # checked against the spec's names before TensorFlow loads
        if not opts.spec:
            raise InputError("--corpus-weight goes with --spec", "pass --spec SPEC.toml, or leave it out")
        from .spec import load_spec, override_weights

        override_weights(load_spec(opts.spec, opts.data_dir), opts.corpus_weights)
    if opts.split_seed is not None and not 0 <= opts.split_seed < 2**32:
        raise InputError(f"--split-seed {opts.split_seed} is outside 0 .. 2**32-1", "use a non-negative seed, e.g. 13")
    if opts.teacher is not None and opts.distill_hidden:
        _check_hidden_options(opts)
    if opts.layers is not None and opts.base_model and (Path(opts.base_model) / "config.json").is_file():
        from .depth import pick_layers

        depth = _config(Path(opts.base_model)).get("num_hidden_layers")
        if isinstance(depth, int):  # K past the base's depth, found before TensorFlow loads the base
            pick_layers(depth, opts.layers)


def _config(path: Path) -> dict:
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}  # read (and refused in one line) with the model, where its loader names the problem
    return config if isinstance(config, dict) else {}


def _check_hidden_options(opts: TrainOptions) -> None:
    """--distill-hidden needs layer outputs to compare: a checkpoint teacher, the linear head, and a
    student whose layers are copies of the teacher's (its base as deep and as wide as the teacher,
    before --layers). The one place these are checked: from the files, before TensorFlow loads."""
    from .base import resolve_base

    teacher = Path(opts.teacher).expanduser()
    if not (teacher / "training.json").exists() and (teacher / "model.onnx").exists():
        raise InputError(f"--distill-hidden needs the teacher's layer outputs; --teacher {opts.teacher} is an exported model (logits only)",
                         "give the teacher's training checkpoint (the directory passed to its --output)")
    if opts.head != "linear":
        raise InputError("--distill-hidden works with --head linear only", "leave --distill-hidden out, or train the linear head")
    base = resolve_base(opts.base_model)
    if not base.is_local:
        raise InputError(f"--distill-hidden needs a local --base-model (its depth is compared with the teacher's), not {opts.base_model}",
                         "give the teacher's checkpoint, or a directory of the encoder it was trained from")
    theirs, config = _config(teacher), _config(Path(base.path))
    depth = config.get("geobatch_base_layers", config.get("num_hidden_layers"))
    if theirs.get("num_hidden_layers") != depth or theirs.get("hidden_size") != config.get("hidden_size"):
        raise InputError(f"--distill-hidden: the teacher has {theirs.get('num_hidden_layers')} layers of width {theirs.get('hidden_size')}, "
                         f"the student's base {depth} of width {config.get('hidden_size')}",
                         "distil layer outputs from the model whose checkpoint is the student's --base-model")

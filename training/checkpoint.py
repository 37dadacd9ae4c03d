"""The training checkpoint directory.

  config.json + tf_model.h5   the classifier (transformers save_pretrained; the head type is in training.json)
  tokenizer.json              the base tokenizer, truncation/padding off (the runtime controls them)
  labels.json                 label list, index order
  training.json               metadata: files + sha256, sentences, epochs, metrics, seed, options ...
  parity_inputs.npz           a padded validation batch of varied lengths (token ids only) for export parity
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from geobatch.errors import InputError

METADATA = "training.json"
PARITY = "parity_inputs.npz"


def is_checkpoint(path: Path) -> bool:
    return (path / METADATA).exists()


def check_output(path: Path) -> None:
    """--output must be new, empty, or a checkpoint of a run that never finished an epoch (a crashed
    start, redone). A trained checkpoint is refused: the new run would overwrite its metadata at once
    and its weights after one epoch, and a crash in between would leave neither run's model."""
    if path.exists() and (not path.is_dir() or (any(path.iterdir()) and not is_checkpoint(path))):
        raise InputError(f"--output {path} exists and is not a geobatch checkpoint", "choose a new directory or remove it")
    if path.is_dir() and is_checkpoint(path):
        try:
            best = json.loads((path / METADATA).read_text(encoding="utf-8")).get("best_epoch")
        except (OSError, UnicodeDecodeError, ValueError, AttributeError):
            best = None
        if best:
            raise InputError(f"--output {path} already holds a trained checkpoint (best epoch {best}) that this run would overwrite",
                             "choose a new --output (to continue training that checkpoint, pass it as --base-model), or remove it")
    # checked now, not when the directory is made after the data is read and the model built
    ancestor = path.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or (ancestor != path.absolute() and not os.access(ancestor, os.W_OK | os.X_OK)):
        raise InputError(f"cannot create --output {path}: {ancestor} is {'not a directory' if not ancestor.is_dir() else 'not writable'}",
                         "choose a --output in a writable directory")


def write_metadata(path: Path, meta: dict) -> None:
    tmp = path / (METADATA + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path / METADATA)


def read_metadata(path: str | Path) -> dict:
    p = Path(path)
    if not (p / METADATA).exists():
        raise InputError(f"{p} is not a geobatch checkpoint (no {METADATA})", "give the --output directory of `geobatch train`")
    try:
        meta = json.loads((p / METADATA).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise InputError(f"cannot read {p / METADATA}: {e}", "give the --output directory of a finished `geobatch train`") from None
    if not isinstance(meta, dict) or not meta.get("best_epoch"):
        raise InputError(f"checkpoint {p} holds no trained weights yet", "let `geobatch train` finish at least one epoch")
    # a partly copied checkpoint failed later with a loader traceback (weights) or after conversion (the rest)
    missing = [f for f in ("config.json", "tf_model.h5", "tokenizer.json", PARITY) if not (p / f).is_file()]
    if missing:
        raise InputError(f"checkpoint {p} lacks {', '.join(missing)}", "copy the whole --output directory of `geobatch train`")
    return meta


SAVING = ".saving"


def save_model(path: Path, model) -> None:
    """Write the weights beside the checkpoint, then move each file into place: save_pretrained
    rewrites tf_model.h5 in place, so a crash while saving a better epoch left a truncated file
    under metadata that still names the previous best epoch, whose weights were gone."""
    tmp = Path(path) / SAVING
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(str(tmp))
    for f in sorted(tmp.iterdir()):
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(f, Path(path) / f.name)
    tmp.rmdir()


def load_model(path: Path, head: str):
    from .model import load_checkpoint_model

    try:
        return load_checkpoint_model(path, head)
    except (OSError, ValueError) as e:  # a truncated or overwritten tf_model.h5: h5py's traceback before
        first = " ".join(str(e).split()).split(". ")[0][:160]  # transformers adds a PyTorch hint that does not apply
        raise InputError(f"checkpoint {path}: its weights cannot be read ({first}: tf_model.h5 may be truncated or overwritten)",
                         "restore the checkpoint from a copy, or retrain it") from None


def write_parity_batch(path: Path, batch: dict) -> None:
    np.savez(path / PARITY, **{k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")})


def read_parity_batch(path: Path) -> dict:
    with np.load(Path(path) / PARITY) as z:
        return {k: z[k] for k in z.files}

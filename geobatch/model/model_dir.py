"""Load and validate a model directory: `model.onnx`, `tokenizer.json`, `model_card.json`.

Every problem with the directory is a `ModelError` raised before any output is written, so a job
with a bad model stops with exit code 2 and leaves OUT_DIR untouched.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelError

if TYPE_CHECKING:  # for the annotation only: `gold_scheme` imports labels when it is called
    from ..labels import LabelScheme

REQUIRED_FILES = ("model.onnx", "tokenizer.json", "model_card.json")
REQUIRED_CARD_KEYS = ("labels", "max_length", "inputs", "output")
INPUT_DTYPES = ("int32", "int64")


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, computed once per process for the same file contents: `geobatch run` checks
    a variant's graph against the card and then loads it, and both need the hash of the same
    tens of MB. The cache key is the file's identity and modification time, so a rewritten file is
    hashed again."""
    st = os.stat(path)
    return _sha256(str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino)


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int, inode: int) -> str:  # noqa: ARG001 - the key is the file's identity
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ModelDir:
    path: Path
    card: dict[str, Any]
    sha256: str

    @property
    def onnx_path(self) -> Path:
        return self.path / "model.onnx"

    @property
    def tokenizer_path(self) -> Path:
        return self.path / "tokenizer.json"

    @property
    def labels(self) -> list[str]:
        return list(self.card["labels"])

    @property
    def max_length(self) -> int:
        return int(self.card["max_length"])

    @property
    def label_scheme(self) -> str:
        return str(self.card.get("label_scheme") or "full")

    @property
    def gold_scheme(self) -> "LabelScheme":
        """How gold tags map onto this model's labels: the card's label map when it was trained with
        --label-map (gold geo/gpe must become its own types, e.g. tar/inc), else the named scheme."""
        from ..labels import SCHEMES, LabelScheme

        label_map = self.card.get("label_map")
        if isinstance(label_map, dict) and label_map:
            return LabelScheme(self.label_scheme, {str(k): str(v) for k, v in label_map.items()})
        return LabelScheme(self.label_scheme if self.label_scheme in SCHEMES else "full")

    @property
    def demonym_type(self) -> str | None:
        """The type a spec trained demonyms as ("dem": training/spec.py), None when they were not retyped."""
        spec = (self.card.get("training") or {}).get("spec") or {}
        t = spec.get("demonym_type") if isinstance(spec, dict) else None
        return str(t) if t else None

    def demonym_type_under(self, convention: str | None) -> str | None:
        """`demonym_type` as the model learnt it under `convention`: None when every corpus trained under
        that convention kept its demonyms as annotated (`retype_demonyms = false`: GMB's "Iraqi" stays gpe
        there), so gold read under it is not retyped either."""
        dem = self.demonym_type
        if not dem or convention is None:
            return dem
        files = (self.card.get("training") or {}).get("files") or []
        corpora = [f.get("corpus") or {} for f in files if isinstance(f, dict)]
        under = [c for c in corpora if c.get("convention") == convention]
        return None if under and not any(c.get("retype_demonyms", True) for c in under) else dem

    @property
    def conventions(self) -> dict[str, int]:
        """Annotation convention -> the token id that marks it after [CLS] (training/spec.py); empty when
        the model was trained without conventions."""
        conv = self.card.get("conventions") or {}
        return {str(k): int(v) for k, v in (conv.get("ids") or {}).items()}

    @property
    def case_types(self) -> bool:
        """True: the model reads which words start with a capital in token_type_ids (geobatch/text/case_types.py)."""
        return bool(self.card.get("case_types"))

    @property
    def default_convention(self) -> str | None:
        return (self.card.get("conventions") or {}).get("default") if self.conventions else None

    @property
    def input_dtypes(self) -> dict[str, str]:
        """Input name -> numpy dtype name, in the card's order."""
        return {i["name"]: i["dtype"] for i in self.card["inputs"]}

    @property
    def output_name(self) -> str:
        out = self.card["output"]
        return out["name"] if isinstance(out, dict) else str(out)


def load_model_dir(path: str | Path) -> ModelDir:
    p = Path(path)
    if p.is_file():  # "does not exist" sent users looking for a path that is there
        raise ModelError(f"--model {p} is a file, not a model directory", "pass the directory that holds model.onnx (made by `geobatch export`)")
    if not p.is_dir():
        raise ModelError(f"model directory {p} does not exist", "pass --model DIR made by `geobatch export`")
    missing = [f for f in REQUIRED_FILES if not (p / f).is_file()]
    if missing:
        raise ModelError(f"model directory {p} lacks {', '.join(missing)}", "re-export it with `geobatch export` (it writes all three files)")
    try:
        card = json.loads((p / "model_card.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"cannot read {p / 'model_card.json'}: {e}", "re-export the model directory") from None
    if not isinstance(card, dict):
        raise ModelError(f"{p / 'model_card.json'} is not a JSON object", "re-export the model directory")
    lacking = [k for k in REQUIRED_CARD_KEYS if k not in card]
    if lacking:
        raise ModelError(f"model card {p / 'model_card.json'} lacks {', '.join(lacking)}", "re-export the model directory")
    labels = card["labels"]
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise ModelError("model card `labels` must be a non-empty list of tag strings", "re-export the model directory")
    inputs = card["inputs"]
    if not isinstance(inputs, list) or not all(isinstance(i, dict) and "name" in i for i in inputs):
        raise ModelError('model card `inputs` must be a list of {"name", "dtype"}', "re-export the model directory")
    for i in inputs:
        i.setdefault("dtype", "int64")
        if i["dtype"] not in INPUT_DTYPES:
            raise ModelError(f"model card input {i['name']} has dtype {i['dtype']}", f"use one of {', '.join(INPUT_DTYPES)}")
    max_length = card["max_length"]
    try:
        ok = not isinstance(max_length, bool) and int(max_length) == float(max_length)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ModelError(f"model card max_length {max_length!r} is not an integer", "re-export the model directory")
    # [CLS] + [SEP] + one wordpiece: anything less cannot hold a word (it was read as --max-length, or cut 1.5 to 1)
    if int(max_length) < 3:
        raise ModelError(f"model card max_length {max_length} is below 3 wordpieces", "re-export the model directory")
    sha = file_sha256(p / "model.onnx")
    claimed = card.get("onnx_sha256")
    # the card describes one graph (labels, inputs, training); a model.onnx swapped under it would
    # run with another model's labels and be recorded in the manifest as the card's model
    if claimed is not None and claimed != sha:
        raise ModelError(f"{p / 'model.onnx'} does not match its card (sha256 {sha[:12]}..., card says {str(claimed)[:12]}...)",
                         "re-export the model directory, or put back the model.onnx it was exported with")
    return ModelDir(p, card, sha)

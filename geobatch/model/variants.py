"""Variants of one model inside its MODEL_DIR, and which one `geobatch run` uses.

    MODEL_DIR/
      model.onnx, tokenizer.json, model_card.json   the fp32 graph as exported: variant "fp32"
      variants/<name>/                               a complete model directory, written by
                                                     `geobatch optimize MODEL_DIR --variant <name> ...`

The root card lists them and says which one each provider uses by default:

    "variants":    {"int8": {"dir": "variants/int8", "onnx_sha256": "...", "steps": ["fuse", "quantize_int8"],
                             "target_provider": "CPUExecutionProvider", "parity": {...}}}
    "evaluations": {"<corpus>": {"variants": {"fp32": {"location_f1": 0.85, "docs_per_s": 40.1, "onnx_sha256": "..."},
                                              "int8": {...}}, "recorded_at": "...", "machine": "..."}}
    "defaults":    {"cpu": "int8", "cpu_reason": "...", "cuda": "fp16", "cuda_reason": "set by hand"}

The CPU default is a rule applied to recorded evaluations (bench/bench.py --record writes them):
the fastest CPU variant whose location F1 is within `MAX_F1_DROP_POINTS` of fp32's on every recorded
corpus (speed: geometric mean over corpora of docs/s relative to fp32 on the same run; speeds within
`SPEED_TIE` of the fastest are a tie, won by the better worst-case F1). An evaluation
counts only while its onnx_sha256 matches the variant's graph, so rebuilding a variant drops its old
figures. `--default cpu=NAME` overrides the rule by hand, `--default cuda=NAME` is the only way to
set the CUDA default (nothing here measures GPU accuracy).

`--variant auto` (the runner's default): the provider's default when the card names one, else fp32.
A named default whose directory or graph is gone is an error, never a silent switch to another model.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import GeobatchError, ModelError
from ..io.write import write_atomic_bytes
from .model_dir import file_sha256, load_model_dir

FP32 = "fp32"  # the exported graph at the root of MODEL_DIR
AUTO = "auto"
VARIANTS_DIR = "variants"
MAX_F1_DROP_POINTS = 0.5
# speeds within this share of the fastest count as a tie, broken by F1: repeated bench runs of one variant
# on a shared 2-core machine differed by 10-20 %, so a smaller gap is not evidence that one is faster
SPEED_TIE = 0.10
DEFAULT_PROVIDERS = ("cpu", "cuda")
CARD_KEYS = ("variants", "evaluations", "defaults")  # root-card only: never copied into a variant's card
CPU_EP, CUDA_EP = "CPUExecutionProvider", "CUDAExecutionProvider"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def check_name(name: str) -> str:
    if not _NAME.match(name or "") or name in (FP32, AUTO):
        raise GeobatchError(f"--variant {name!r} is not a usable variant name",
                            f"use lower-case letters, digits, '.', '_' or '-' (not {FP32!r} or {AUTO!r}), e.g. int8")
    return name


def _card_path(model_dir: Path) -> Path:
    return Path(model_dir) / "model_card.json"


def read_card(model_dir: str | Path) -> dict:
    """The root card; `onnx_sha256` filled in from model.onnx when the card lacks it (in memory)."""
    m = load_model_dir(model_dir)
    card = m.card
    card.setdefault("onnx_sha256", m.sha256)
    return card


def write_card(model_dir: str | Path, card: dict) -> None:
    """Atomic and durable (the runner's own writer): a reader sees the old card or the new one."""
    write_atomic_bytes(_card_path(Path(model_dir)), (json.dumps(card, indent=2) + "\n").encode("utf-8"))


def variant_entries(card: dict) -> dict[str, dict]:
    """name -> entry, fp32 (the root graph) first."""
    out = {FP32: {"dir": ".", "onnx_sha256": card.get("onnx_sha256"), "steps": [], "target_provider": CPU_EP}}
    out.update(card.get("variants") or {})
    return out


def target_is_cuda(entry: dict) -> bool:
    return entry.get("target_provider") == CUDA_EP


def register_variant(model_dir: str | Path, name: str, optimization: dict) -> dict:
    """Record the variant `geobatch optimize --variant` just wrote under MODEL_DIR/variants/NAME."""
    card = read_card(model_dir)
    target = (optimization.get("quantization") or optimization.get("float16") or {}).get("target_provider", CPU_EP)
    fusion = optimization.get("fusion") or {}
    entry = {
        "dir": f"{VARIANTS_DIR}/{name}",
        "onnx_sha256": optimization["onnx_sha256"],
        "steps": optimization["steps"],
        "target_provider": target,
        "parity": optimization.get("parity"),
        "fused_operators": {k: v for k, v in (fusion.get("fused_operators") or {}).items() if v} or None,
        "quantization": optimization.get("quantization"),
        "created_at": optimization.get("created_at"),
    }
    card.setdefault("variants", {})[name] = entry
    _apply_rule(card)
    write_card(model_dir, card)
    return entry


# -- the CPU default rule ------------------------------------------------------------------------
@dataclass
class Verdict:
    name: str
    reason: str
    table: dict  # variant -> {"qualifies", "worst_f1_delta_points", "speedup"}


def _current(card: dict) -> dict[str, list[tuple[str, dict, dict]]]:
    """variant -> [(corpus, its figures, fp32's figures)] for evaluations of the variant's current graph."""
    entries = variant_entries(card)
    out: dict[str, list] = {}
    for corpus, ev in (card.get("evaluations") or {}).items():
        figures = ev.get("variants") or {}
        base = figures.get(FP32)
        if not base or base.get("onnx_sha256") != entries[FP32]["onnx_sha256"]:
            continue
        for name, fig in figures.items():
            entry = entries.get(name)
            if entry is None or target_is_cuda(entry) or fig.get("onnx_sha256") != entry.get("onnx_sha256"):
                continue
            out.setdefault(name, []).append((corpus, fig, base))
    return out


def choose_cpu_default(card: dict, max_drop_points: float = MAX_F1_DROP_POINTS) -> Verdict | None:
    """The fastest CPU variant whose location F1 is within `max_drop_points` of fp32 on every corpus
    evaluated; None without evaluations of fp32. A variant missing from some corpus does not qualify."""
    current = _current(card)
    corpora = {c for c, _, _ in current.get(FP32, [])}
    if not corpora:
        return None
    table = {}
    for name, rows in current.items():
        if {c for c, _, _ in rows} != corpora:
            continue
        deltas = [100 * (fig["location_f1"] - base["location_f1"]) for _, fig, base in rows]
        speedup = math.exp(sum(math.log(fig["docs_per_s"] / base["docs_per_s"]) for _, fig, base in rows) / len(rows))
        table[name] = {"qualifies": min(deltas) >= -max_drop_points, "worst_f1_delta_points": round(min(deltas), 3),
                       "speedup": round(speedup, 3)}
    ok = [n for n, t in table.items() if t["qualifies"]]
    top = max(table[n]["speedup"] for n in ok)
    tied = [n for n in ok if table[n]["speedup"] >= top * (1 - SPEED_TIE)]
    best = max(tied, key=lambda n: (table[n]["worst_f1_delta_points"], table[n]["speedup"]))
    reason = (f"fastest CPU variant with location F1 within {max_drop_points:g} points of fp32 on "
              f"{', '.join(sorted(corpora))} ({table[best]['speedup']:.2f}x fp32 docs/s, worst F1 delta "
              f"{table[best]['worst_f1_delta_points']:+.2f} points"
              + (f"; speeds within {SPEED_TIE:.0%} of the fastest ({', '.join(sorted(tied))}) tie, the best F1 wins" if len(tied) > 1 else "")
              + ")")
    return Verdict(best, reason, table)


def _apply_rule(card: dict) -> None:
    defaults = card.setdefault("defaults", {})
    if defaults.get("cpu_set_by") == "hand":
        return
    verdict = choose_cpu_default(card)
    if verdict is None:
        for k in ("cpu", "cpu_reason", "cpu_table", "cpu_set_by"):
            defaults.pop(k, None)
        return
    defaults.update(cpu=verdict.name, cpu_reason=verdict.reason, cpu_table=verdict.table, cpu_set_by="rule")


def record_evaluation(model_dir: str | Path, corpus: str, figures: dict[str, dict], about: dict | None = None) -> dict:
    """Store one corpus's figures per variant ({"location_f1", "docs_per_s"}, plus anything else) and
    re-apply the CPU rule. Returns the card's `defaults`."""
    card = read_card(model_dir)
    entries = variant_entries(card)
    unknown = sorted(set(figures) - set(entries))
    if unknown:
        raise GeobatchError(f"{model_dir} has no variant(s) {', '.join(unknown)}", "evaluate only variants listed in its card")
    for name, fig in figures.items():
        missing = [k for k in ("location_f1", "docs_per_s") if not isinstance(fig.get(k), (int, float))]
        if missing or fig["docs_per_s"] <= 0:
            raise GeobatchError(f"evaluation of {name} lacks {', '.join(missing) or 'a positive docs_per_s'}", "pass both figures")
    stamped = {name: {**fig, "onnx_sha256": entries[name]["onnx_sha256"]} for name, fig in figures.items()}
    card.setdefault("evaluations", {})[corpus] = {
        "variants": stamped, "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **(about or {}),
    }
    _apply_rule(card)
    write_card(model_dir, card)
    return card["defaults"]


def set_default(model_dir: str | Path, provider: str, name: str) -> dict:
    """`--default cpu=NAME|auto`, `--default cuda=NAME|auto` (auto: back to the rule / to fp32)."""
    if provider not in DEFAULT_PROVIDERS:
        raise GeobatchError(f"--default {provider}=... names no provider", f"use {' or '.join(p + '=NAME' for p in DEFAULT_PROVIDERS)}")
    card = read_card(model_dir)
    if "optimization" in card:  # a variant's card: the runner reads defaults from the root card only
        raise GeobatchError(f"{model_dir} is an optimized variant; defaults are kept in the exported model directory's card",
                            f"run geobatch optimize ROOT_MODEL_DIR --default {provider}={name}")
    entries = variant_entries(card)
    defaults = card.setdefault("defaults", {})
    if name == AUTO:
        for k in [k for k in defaults if k == provider or k.startswith(provider + "_")]:
            del defaults[k]
        if provider == "cpu":
            _apply_rule(card)
    else:
        if name not in entries:
            raise GeobatchError(f"{model_dir} has no variant {name!r} (it has {', '.join(entries)})",
                                "make it first: geobatch optimize MODEL_DIR --variant NAME ...")
        if provider == "cpu" and target_is_cuda(entries[name]):
            raise GeobatchError(f"variant {name!r} targets the CUDA provider", "pick a CPU variant for the cpu default")
        defaults.update({provider: name, f"{provider}_set_by": "hand", f"{provider}_reason": "set by hand (--default)"})
    write_card(model_dir, card)
    return defaults


# -- the runner's choice ---------------------------------------------------------------------------
@dataclass
class Choice:
    path: Path  # the model directory to load
    name: str
    reason: str


def resolve_variant(model_dir: str | Path, variant: str = AUTO, on_cuda: bool = False) -> Choice:
    """The model directory `geobatch run --model MODEL_DIR --variant VARIANT` loads."""
    root = Path(model_dir)
    card = read_card(root)
    entries = variant_entries(card)
    provider = "cuda" if on_cuda else "cpu"
    if variant == AUTO:
        name = (card.get("defaults") or {}).get(provider)
        if not name:
            return Choice(root, FP32, f"no {provider} default in the card: the graph as exported")
        reason = f"the card's {provider} default: " + str(card["defaults"].get(f"{provider}_reason", ""))
    else:
        name, reason = variant, "asked for with --variant"
    if name == FP32:
        return Choice(root, FP32, reason)
    entry = entries.get(name)
    if entry is None:
        raise GeobatchError(f"{root} has no variant {name!r} (it has {', '.join(entries)})",
                            f"pick one of those, or make it: geobatch optimize {root} --variant {name} ...")
    path = root / entry["dir"]
    onnx = path / "model.onnx"
    if not onnx.is_file():
        raise ModelError(f"variant {name!r} of {root} is listed but {onnx} is missing",
                         f"re-create it (geobatch optimize {root} --variant {name} ...) or pass --variant fp32")
    if file_sha256(onnx) != entry.get("onnx_sha256"):
        raise ModelError(f"{onnx} does not match the graph the card registered for variant {name!r}",
                         f"re-create it (geobatch optimize {root} --variant {name} ...) or pass --variant fp32")
    return Choice(path, name, reason)

"""Engines drive `geobatch.pipeline.Pipeline.process` over a corpus and commit its output.

`local` streams chunks in this process; `ray` (extra) runs the same Pipeline in Ray actors. Both use
`geobatch.io.commit.OutputDir` for the part files, manifest, lock and resume, and `RunConfig` for the
job's settings.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field

from ..pipeline import PipelineOptions, Resolver

ENGINES = ("local", "ray")  # `geobatch run --engine`; ray lives in engines/ray.py, imported only when chosen


@dataclass
class RunConfig:
    model: str
    inputs: list[str]
    output: str
    format: str | None = None
    pipeline: PipelineOptions = field(default_factory=PipelineOptions)
    chunk_size: int = 1000
    overwrite: bool = False
    max_error_rate: float = 0.0
    quiet: bool = False
    resolve: bool = True
    focus_fallback: bool = False  # place spans the gazetteer lacks at the document's focus (opt-in)
    progress: bool | None = None  # None: when stderr is a terminal
    workers: int = 1  # local engine: processes that run Pipeline.process (engines/workers.py)


def default_resolver(enabled: bool, focus_fallback: bool = False) -> Resolver | None:
    """The gazetteer resolver when `geobatch.resolve` provides `build_resolver()`, else None.

    Seam for the resolver stage: `geobatch.resolve.build_resolver() -> Callable[[text, spans], list[dict | None]]`.
    """
    if not enabled or importlib.util.find_spec("geobatch.resolve") is None:
        return None
    module = importlib.import_module("geobatch.resolve")
    build = getattr(module, "build_resolver", None)
    return build(focus_fallback=focus_fallback) if build is not None else None


def default_resolver_available() -> bool:
    """Whether `default_resolver(True)` would give a resolver, without building its index here."""
    if importlib.util.find_spec("geobatch.resolve") is None:
        return False
    return getattr(importlib.import_module("geobatch.resolve"), "build_resolver", None) is not None

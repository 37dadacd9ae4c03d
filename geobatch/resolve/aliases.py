"""Short forms that the packaged gazetteers lack: press abbreviations, postal codes and demonyms.

These are conventions of English-language news (AP style state abbreviations, "U.S.", "UK"),
not data about places, so they are written here once; coordinates always come from the gazetteer.
Keys are ISO 3166-1 alpha-2 country codes, or "CC.ADMIN1" GeoNames admin1 codes.
"""

from __future__ import annotations

# AP stylebook state abbreviations and other common press forms -> GeoNames admin1 code
US_STATE_ABBREVIATIONS = {
    "US.AL": ["Ala."], "US.AZ": ["Ariz."], "US.AR": ["Ark."], "US.CA": ["Calif.", "Cal."],
    "US.CO": ["Colo."], "US.CT": ["Conn."], "US.DE": ["Del."], "US.DC": ["D.C."],
    "US.FL": ["Fla."], "US.GA": ["Ga."], "US.IL": ["Ill."], "US.IN": ["Ind."],
    "US.KS": ["Kan.", "Kans."], "US.KY": ["Ky."], "US.LA": ["La."], "US.MD": ["Md."],
    "US.MA": ["Mass."], "US.MI": ["Mich."], "US.MN": ["Minn."], "US.MS": ["Miss."],
    "US.MO": ["Mo."], "US.MT": ["Mont."], "US.NE": ["Neb.", "Nebr."], "US.NV": ["Nev."],
    "US.NH": ["N.H."], "US.NJ": ["N.J."], "US.NM": ["N.M.", "N.Mex."], "US.NY": ["N.Y."],
    "US.NC": ["N.C."], "US.ND": ["N.D.", "N.Dak."], "US.OK": ["Okla."], "US.OR": ["Ore.", "Oreg."],
    "US.PA": ["Pa.", "Penn.", "Penna."], "US.RI": ["R.I."], "US.SC": ["S.C."], "US.SD": ["S.D.", "S.Dak."],
    "US.TN": ["Tenn."], "US.TX": ["Tex."], "US.VT": ["Vt."], "US.VA": ["Va."],
    "US.WA": ["Wash."], "US.WV": ["W.Va.", "W.Virginia"], "US.WI": ["Wis.", "Wisc."], "US.WY": ["Wyo."],
}

# Canadian and Australian press abbreviations (admin1 codes as GeoNames has them)
OTHER_ADMIN1_ABBREVIATIONS = {
    "CA.02": ["B.C."], "CA.08": ["Ont."], "CA.10": ["Que."], "CA.01": ["Alta."],
    "CA.03": ["Man."], "CA.11": ["Sask."], "CA.07": ["N.S."], "CA.04": ["N.B."], "CA.05": ["Nfld."],
    "AU.02": ["NSW", "N.S.W."], "AU.04": ["Qld"],
}

# two-letter postal codes: only matched when written in capitals, or after a comma ("Austin, TX")
US_POSTAL_CODES = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY",
]

COUNTRY_ABBREVIATIONS = {
    "US": ["U.S.", "US", "USA", "U.S.A.", "America", "the States", "United States of America"],
    "GB": ["UK", "U.K.", "Britain", "Great Britain"],
    "AE": ["UAE", "U.A.E.", "Emirates"],
    # a bare "Congo" in the news is far more often the larger DRC (both stay candidates)
    "CD": ["DRC", "D.R.C.", "DR Congo", "Congo-Kinshasa", "Congo"],
    "CG": ["Congo-Brazzaville"],
    "CN": ["PRC", "P.R.C.", "Mainland China"],
    "KR": ["ROK", "Korea"],
    "KP": ["DPRK", "D.P.R.K."],
    "SA": ["KSA"],
    "NZ": ["NZ", "N.Z."],
    "PG": ["PNG"],
    "CZ": ["Czech Republic", "Czechia"],
    "NL": ["Holland"],
    "MM": ["Burma"],
    "CI": ["Ivory Coast"],
    "SZ": ["Swaziland"],
    "MK": ["Macedonia"],
    "TL": ["East Timor"],
    "VA": ["Vatican", "the Vatican"],
    "PS": ["Palestine", "Palestinian Territories"],
    "TT": ["T&T"],
    "BA": ["Bosnia"],
}

# former names that news still uses -> the country that holds the territory now
FORMER_COUNTRY_NAMES = {
    "CD": ["Zaire"], "LK": ["Ceylon"], "TH": ["Siam"], "IR": ["Persia"], "ZW": ["Rhodesia"],
    "RU": ["Soviet Union", "USSR", "U.S.S.R."], "RS": ["Yugoslavia"], "CZ": ["Czechoslovakia"],
    "DE": ["East Germany", "West Germany"], "BJ": ["Dahomey"], "BF": ["Upper Volta"], "KH": ["Kampuchea"],
}

# demonyms and adjectives beyond countryinfo's one demonym per country
EXTRA_DEMONYMS = {
    "US": ["American", "Americans", "U.S.-based"],
    "GB": ["British", "Briton", "Britons", "Brit", "Brits", "UK-based"],
    "NL": ["Dutch"],
    "PH": ["Philippine", "Filipinos"],
    "FR": ["French"],
    "DE": ["German", "Germans"],
    "CN": ["Chinese"],
    "JP": ["Japanese"],
    "ES": ["Spanish", "Spaniard", "Spaniards"],
    "IT": ["Italian", "Italians"],
    "RU": ["Russian", "Russians"],
    "SA": ["Saudi", "Saudis"],
    "AE": ["Emirati", "Emiratis"],
    "IL": ["Israeli", "Israelis"],
    "PS": ["Palestinian", "Palestinians"],
    "CH": ["Swiss"],
    "SE": ["Swedish", "Swede", "Swedes"],
    "DK": ["Danish", "Dane", "Danes"],
    "FI": ["Finnish", "Finn", "Finns"],
    "PL": ["Polish", "Pole", "Poles"],
    "TR": ["Turkish", "Turk", "Turks"],
    "GR": ["Greek", "Greeks"],
    "IE": ["Irish"],
    "PT": ["Portuguese"],
    "BE": ["Belgian", "Belgians"],
    "KR": ["South Korean", "South Koreans", "Korean", "Koreans"],
    "KP": ["North Korean", "North Koreans"],
    "VN": ["Vietnamese"],
    "TH": ["Thai"],
    "LK": ["Sri Lankan", "Sri Lankans"],
    "NZ": ["New Zealander", "New Zealanders", "Kiwi"],
    "CD": ["Congolese"],
    "AF": ["Afghan", "Afghans"],
}

# adjectives of continents and regions, which no country owns (the resolver does not place them)
REGIONAL_DEMONYMS = ("European", "Europeans", "African", "Africans", "Asian", "Asians", "Arab", "Arabs",
                     "Latin American", "Latin Americans", "Scandinavian", "Scandinavians", "Caribbean")

# subdivisions whose adjective is common in news ("Scottish", "Welsh")
ADMIN1_DEMONYMS = {
    "GB.ENG": ["English"],
    "GB.SCT": ["Scottish", "Scots"],
    "GB.WLS": ["Welsh"],
    "GB.NIR": ["Northern Irish"],
    "US.CA": ["Californian", "Californians"],
    "US.TX": ["Texan", "Texans"],
    "US.FL": ["Floridian", "Floridians"],
    "CA.10": ["Quebecois", "Québécois"],
}

# AP style: a bare "Washington" or "New York" is the city; the state is "Washington state". Also the
# seats of government that news uses for their capital ("the White House said"). -> (country, admin1, city)
PRESS_CITY_NAMES = {
    ("US", "DC", "Washington"): ["Washington", "Washington D.C.", "Washington DC", "White House", "Capitol Hill", "Pentagon"],
    ("US", "NY", "New York City"): ["New York", "NYC", "N.Y.C.", "Wall Street"],
    ("RU", "48", "Moscow"): ["Kremlin"],
    ("GB", "ENG", "London"): ["Downing Street", "Whitehall"],
    ("FR", "11", "Paris"): ["Elysee Palace", "Élysée Palace", "Elysee"],
}

# dotted press forms whose key (dots dropped) is another place's: "L.A." is Los Angeles (AP), while "La."
# and "LA" are Louisiana; the span text is replaced by the full name before lookup
DOTTED_PRESS_FORMS = {"L.A.": "Los Angeles"}

# the European Union is placed where GeoNames places Europe
CONTINENT_ABBREVIATIONS = {"EU": ["EU", "E.U.", "European Union"]}

# continent adjectives
CONTINENT_DEMONYMS = {
    "EU": ["European", "Europeans"],
    "AF": ["African", "Africans"],
    "AS": ["Asian", "Asians"],
    "SA": ["South American", "Latin American", "Latin America"],
    "NA": ["North American", "North Americans"],
    "OC": ["Oceanian"],
    "AN": ["Antarctic"],
}

# words that name the kind of place rather than the place ("Hubei province", "Lagos State")
GENERIC_WORDS = {
    "city", "town", "village", "province", "state", "county", "region", "district", "prefecture",
    "municipality", "governorate", "oblast", "krai", "department", "territory", "republic",
    "island", "islands", "metropolitan", "area", "municipal", "federal", "autonomous", "division",
}
GENERIC_PREFIXES = ("city of ", "state of ", "province of ", "republic of ", "town of ", "county of ", "commonwealth of ")

# a trailing kind word says which feature class is meant (feature codes of sources.py:
# 1 country, 2 admin1, 3 city, 4 other subdivision)
KIND_WORDS = {
    "state": (2,), "province": (2, 4), "region": (2, 4), "prefecture": (2, 4), "governorate": (2,),
    "oblast": (2,), "county": (4,), "district": (4, 2), "city": (3,), "town": (3,), "village": (3,),
    "republic": (1,), "division": (2, 4),  # Bangladesh's and Myanmar's first-level subdivisions
}

# last words of street names: a street named after a water body or landform is not in it
STREET_WORDS = {"street", "st", "road", "rd", "avenue", "ave", "boulevard", "blvd", "lane", "drive", "highway", "route"}

# words that never name a place by themselves in a longer name ("Royal Street" is not "Street")
PARTIAL_STOPWORDS = GENERIC_WORDS | STREET_WORDS | {
    "way",
    "center", "centre", "tower", "towers", "point", "park", "square", "bridge", "river", "lake", "mountain",
    "mountains", "hill", "hills", "valley", "airport", "station", "university", "college", "school",
    "academy", "hospital", "church", "cathedral", "court", "house", "hall", "palace", "stadium", "arena",
    "union", "peninsula", "bay", "beach", "coast", "gulf", "sea", "ocean", "harbour", "harbor", "port",
    "west", "east", "north", "south", "western", "eastern", "northern", "southern", "central", "upper",
    "lower", "new", "old", "great", "greater", "downtown", "uptown", "estate", "market", "bank", "commission",
    "council", "reserve", "national", "international", "medical", "general", "royal", "saint", "mount",
    "fort", "capitol", "congress", "white", "wing", "village", "garden", "gardens", "field", "fields",
    "mall", "plaza", "club", "golf", "hotel", "inn", "library", "museum", "prison", "zoo", "farm", "camp",
    "base", "island", "islands", "county", "city", "town", "state", "district", "region", "province",
    "the", "of", "and", "de", "la", "le", "el", "al", "san", "santa", "los", "las",
}

# a name ending in one of these is a water body: no part of it is a place ("Indian Ocean" is not India)
WATER_WORDS = {"ocean", "sea", "river", "lake", "gulf", "bay", "strait", "straits", "channel", "sound",
               "creek", "lagoon", "canal", "reservoir", "falls"}

# names made only of these need support from the rest of the document ("Western" is a province of
# Rwanda, but a bare "Western" in the news rarely means it)
DIRECTIONAL_WORDS = {
    "north", "south", "east", "west", "northern", "southern", "eastern", "western", "central",
    "northeast", "northwest", "southeast", "southwest", "upper", "lower", "middle", "coast", "coastal",
}

# spelled-out forms of abbreviated name words, tried when the name as written is not found
WORD_EXPANSIONS = {"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort", "pt": "port"}

# Named regions and physical features that the news names bare ("the Middle East", "the Alps",
# "the Ganges") and that GeoNames-from-pip only knows as a namesake town ("Middle East" is a Baltimore
# neighbourhood, "Ganges" a town in British Columbia). Such a name is never placed on a populated place
# or a subdivision; it resolves to a water body or landform of that name when the index has one (see
# physical.py), else stays null. Names only: no coordinates come from this list.
REGION_AND_FEATURE_NAMES = {
    # named regions
    "middle east", "near east", "far east", "mideast", "balkans", "sahel", "maghreb", "levant",
    "horn of africa", "sub saharan africa", "patagonia", "scandinavia", "siberia", "caucasus",
    "central asia", "southeast asia", "south asia", "east asia", "west africa", "east africa",
    "north africa", "southern africa", "central africa", "latin america", "central america",
    "caribbean", "midwest", "deep south", "pacific northwest", "new england", "outback", "arctic",
    "antarctic", "gulf states", "persian gulf", "arabian peninsula", "korean peninsula", "iberia",
    "iberian peninsula", "indochina", "mesopotamia", "kurdistan", "tibetan plateau", "west coast", "east coast",
    # mountain ranges, deserts, forests
    "alps", "andes", "himalayas", "himalaya", "rockies", "rocky mountains", "appalachians", "pyrenees",
    "urals", "carpathians", "atlas mountains", "sahara", "gobi", "kalahari", "atacama", "amazon rainforest",
    # rivers the index has no point for
    "ganges", "thames", "rhine", "volga", "indus", "euphrates", "tigris", "jordan river", "zambezi",
    "niger river", "orinoco", "yukon river", "colorado river", "rio grande", "seine", "loire",
    "elbe", "oder", "vistula", "dnieper", "don river", "yellow river", "pearl river", "irrawaddy",
}

# words that say a name is a water body or landform ("Lake Geneva", "Mount Kenya", "the Gobi Desert")
PHYSICAL_LAST_WORDS = WATER_WORDS | {
    "island", "islands", "isles", "mountains", "mountain", "range", "desert", "peninsula", "valley",
    "plateau", "highlands", "delta", "glacier", "volcano", "reef", "archipelago", "basin", "coast", "cape",
}
PHYSICAL_FIRST_WORDS = {"lake", "mount", "mt", "gulf", "bay", "sea", "cape", "isle", "mont", "monte", "lac", "rio", "río"}
# ... of which these name a lake or mountain far more often than a town under 50,000 ("Lake Geneva")
PHYSICAL_FIRST_WORDS_STRICT = {"lake", "mount", "mt", "gulf", "sea", "isle", "mont", "monte", "lac"}

# a capitalised word before a span that does not make the span part of a longer name: sentence-initial
# function words, directions ("Northern Kenya") and kind words that go with the span
NOT_NAME_WORDS = DIRECTIONAL_WORDS | {
    "the", "in", "at", "from", "to", "and", "of", "for", "on", "by", "with", "near", "across", "into", "over",
    "toward", "towards", "via", "as", "but", "or", "if", "when", "while", "after", "before", "since", "until",
    "between", "outside", "inside", "around", "through", "throughout", "under", "within", "without", "like",
    "than", "then", "also", "only", "even", "all", "most", "many", "some", "its", "his", "her", "their", "our",
    "a", "an", "this", "that", "these", "those", "every", "each", "no", "not", "both", "greater", "downtown",
    "metro", "metropolitan", "rural", "urban", "suburban", "coastal", "mainland", "occupied", "war-torn",
    "though", "although", "because", "where", "whereas", "meanwhile", "however", "yet", "so", "now", "today",
    "here", "there", "once", "while", "why", "how", "what", "who", "which", "whose", "it", "we", "they", "he",
    "she", "i", "you", "was", "is", "are", "were", "be", "has", "have", "had", "did", "does", "do",
}

"""How the encoder reads words, in code titles and in queries alike: one tokenizer, one stemmer, one
idea of what "without" and "no" negate, and the coder's shorthand and lay terms turned into code-book words."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import snowballstemmer

_STEMMER = snowballstemmer.stemmer("english")

# What coders type -> what the code titles say (one token -> words).
ABBREVIATIONS = {
    "htn": "hypertension", "dm": "diabetes", "dm2": "type 2 diabetes", "t2dm": "type 2 diabetes",
    "dmii": "type 2 diabetes", "niddm": "type 2 diabetes", "dm1": "type 1 diabetes", "t1dm": "type 1 diabetes",
    "iddm": "type 1 diabetes", "ckd": "chronic kidney disease", "fx": "fracture", "fxs": "fracture",
    "afib": "atrial fibrillation", "af": "atrial fibrillation", "chf": "heart failure", "hf": "heart failure",
    "hfref": "systolic heart failure", "hfpef": "diastolic heart failure",
    "copd": "chronic obstructive pulmonary", "uti": "urinary tract infection", "uri": "upper respiratory infection",
    "gerd": "gastro-esophageal reflux", "mdd": "major depressive disorder", "gad": "generalized anxiety",
    "oa": "osteoarthritis", "lbp": "low back pain", "hld": "hyperlipidemia", "bph": "benign prostatic hyperplasia",
    "cad": "atherosclerotic heart disease", "mi": "myocardial infarction", "sob": "shortness of breath",
    "doe": "dyspnea", "cp": "chest pain", "abd": "abdominal", "rt": "right", "lt": "left", "r": "right",
    "l": "left", "bilat": "bilateral", "init": "initial", "subs": "subsequent", "aom": "acute otitis media",
    "om": "otitis media", "ra": "rheumatoid arthritis", "dvt": "deep vein thrombosis", "pe": "pulmonary embolism",
    "tia": "transient ischemic", "cva": "cerebral infarction", "hx": "history", "h/o": "history",
    "esrd": "end stage renal disease", "ptsd": "post-traumatic stress", "ibs": "irritable bowel", "lac": "laceration",
    "ha": "headache", "n/v": "nausea vomiting", "wcc": "routine child health examination",
    "awv": "annual wellness visit", "strep": "streptococcal", "flu": "influenza", "ed": "emergency department",
    "er": "emergency department", "ekg": "electrocardiogram ekg", "ecg": "electrocardiogram ecg",
"pna": "pneumonia", "sz": "seizure", "etoh": "alcohol", "osa": "obstructive sleep apnea",
    "bp": "blood pressure", "hgb": "hemoglobin", "ltu": "long term use", "lt-use": "long term use",
    "s/p": "status post", "cabg": "aortocoronary bypass graft", "sx": "symptoms", "dx": "diagnosis", "hyperchol": "hypercholesterolemia",
    "ocd": "obsessive compulsive", "uc": "ulcerative colitis", "ms": "multiple sclerosis",
    "aki": "acute kidney failure", "arf": "acute kidney failure", "ards": "acute respiratory distress",
    "yo": "year old", "yr": "year", "yrs": "years", "f/u": "follow-up", "w/": "with", "w/o": "without",
    "wo": "without", "b/l": "bilateral", "rle": "right lower limb", "lle": "left lower limb",
    "rue": "right upper limb", "lue": "left upper limb", "le": "lower limb", "ue": "upper limb",
    "ble": "bilateral lower limb", "hep": "hepatitis", "sah": "subarachnoid hemorrhage", "gi": "gastrointestinal",
    "tb": "tuberculosis", "hiv": "human immunodeficiency virus hiv", "std": "sexually transmitted",
    "sti": "sexually transmitted", "ppd": "tuberculin", "mammo": "mammogram", "colo": "colonoscopy",
    "vit": "vitamin", "def": "deficiency", "anx": "anxiety", "dep": "depression", "pt": "patient",
    "w": "with", "exac": "exacerbation", "exacerb": "exacerbation", "luts": "lower urinary tract symptoms",
    "fh": "family history", "fhx": "family history", "phx": "personal history", "tkr": "artificial knee joint",
    "tka": "artificial knee joint", "thr": "artificial hip joint", "tha": "artificial hip joint",
    "ca": "malignant neoplasm", "cancer": "malignant neoplasm", "mets": "secondary malignant neoplasm",
    "metastatic": "secondary malignant neoplasm", "metastasis": "secondary malignant neoplasm",
    "bcc": "basal cell carcinoma", "scc": "squamous cell carcinoma", "dcis": "carcinoma in situ breast",
    "cll": "chronic lymphocytic leukemia", "aml": "acute myeloblastic leukemia", "cml": "chronic myeloid leukemia",
    "rul": "right upper lobe", "rml": "right middle lobe", "rll": "right lower lobe", "lul": "left upper lobe",
    "lll": "left lower lobe", "od": "poisoning", "overdose": "poisoning", "nstemi": "non-st elevation myocardial infarction",
    "stemi": "st elevation myocardial infarction", "pud": "peptic ulcer", "hypothyroid": "hypothyroidism",
    "hyperthyroid": "hyperthyroidism", "uncontrolled": "hyperglycemia", "dnr": "do not resuscitate",
    "tx": "treatment", "rx": "prescription", "im": "injection intramuscular", "sq": "injection subcutaneous",
}
# One word -> other words that mean the same in titles (each one counts as the same concept).
ALTERNATIVES = {
    "kidney": ("renal", "nephr"), "renal": ("kidney",), "sacrum": ("sacral",), "sacral": ("sacrum",),
    "liver": ("hepat",), "brain": ("cerebr",), "eye": ("ocular",), "bite": ("bitten",), "bitten": ("bite",),
    "home": ("hous",), "hit": ("collis", "struck"), "struck": ("hit",),
    "right": ("unilater",), "left": ("unilater",), "colon": ("larg",), "roll": ("wheel",), "toddler": ("child",),
    "infant": ("child", "newborn"), "newborn": ("neonat",), "neonat": ("newborn",), "tumor": ("neoplasm",),
    "cyst": ("cyst",), "od": ("poison",), "heart": ("cardiac",), "cardiac": ("heart",),
    "lung": ("pulmonari",), "stomach": ("gastric",), "belli": ("abdomin",), "leg": ("lower", "limb"),
    "arm": ("upper", "limb"), "shot": ("inject", "vaccin"), "vaccin": ("immun", "vaccin"), "immun": ("vaccin",),
    "distal": ("lower",), "proxim": ("upper",), "elev": ("high", "rais"), "high": ("elev",),
    "foot": ("feet",), "draw": ("venipunctur", "collect"), "test": ("assay",), "xray": ("radiolog",),
    "checkup": ("examin",), "exam": ("examin",), "examin": ("exam",),
    "sugar": ("glucos",), "glucos": ("sugar",), "smoke": ("tobacco", "nicotin", "cigarett"),
    "tobacco": ("nicotin",), "nicotin": ("tobacco",), "kid": ("child",), "babi": ("newborn", "infant"),
    # The adjective a note uses and the noun a title uses (stems): uterine fibroid, Fibroid -> uterus.
    "uterin": ("uterus",), "uterus": ("uterin",), "ovari": ("ovarian",), "ovarian": ("ovari",),
    "axillari": ("axilla",), "axilla": ("axillari",), "nasal": ("nose",), "nose": ("nasal",),
    "rectal": ("rectum",), "rectum": ("rectal",), "vagin": ("vagina",), "vagina": ("vagin",),
    "limb": ("extrem",), "extrem": ("limb",), "both": ("bilater",), "bilater": ("both",),
    # A tumour's morphology and the behaviour a Tabular title names (Index: "Adenoma - see also Neoplasm, benign,
    # by site"; "Lipoma" -> benign lipomatous neoplasm).
    "adenoma": ("benign",), "lipoma": ("lipomat",),
    # Everyday words for the Index's ("swollen glands": Swelling, glands; "at night": nocturnal).
    "swollen": ("swell",), "night": ("nocturn",), "itchi": ("itch", "pruritus"),
}
STOP_WORDS = frozenset("""a an the of and or to due in on at by for from as is was be been being are this that these
those his her their its pt patient patients who which presents presenting present hx c/o complains complaint
noted note also very s per likely probable possible""".split())
NEGATORS = frozenset({"without", "no", "not", "denies", "negative", "non", "absent", "never"})
# "non" negates only as a separate word ("non smoker"); "nonpressure", "non-pressure" stay one concept.
_CLAUSE_END = re.compile(r"[,;:()\[\]]|\bwith\b|\bbut\b")
_TOKEN = re.compile(r"[a-z0-9]+(?:[-'/&][a-z0-9]+)*")
# Words about who, which encounter and which side: they sharpen a code but don't make a concept on their own.
WEAK = frozenset({"left", "right", "unspecifi", "initi", "encount", "subsequ", "sequela", "bilater", "both", "acut",
                  "chronic", "other", "site", "part"})
SERVICE_STEMS = frozenset({
    "inject", "shot", "vaccin", "immun", "draw", "venipunctur", "phlebotomi", "electrocardiogram", "ekg", "ecg",
    "xray", "x", "ray", "radiograph", "visit", "office", "repair", "splint", "nebul", "nebuliz", "treatment",
    "administr", "admin", "panel", "cultur", "counsel", "suture", "stitch", "drainag", "incis", "spirometri",
    "test", "dipstick", "urinalysi", "swab", "biopsi", "remov", "destruct", "evalu", "procedur", "supply",
    "suppli", "inhal", "infus", "colonoscopi", "mammogram", "cbc", "cmp", "bmp", "tsh", "lipid", "a1c",
    "fingerstick", "arthrocentesi", "aspir", "cerumen", "cast", "dme", "wheelchair", "walker", "crutch",
    "oxygen", "cpap", "questionnair", "tdap", "pneumovax", "strip", "glucomet",
})
SERVICE_OVERRIDES = frozenset({"screen", "encount", "histori", "status", "long", "allergi", "depend", "follow",
                               "subsequ", "sequela", "poison", "advers", "underdos", "malign", "neoplasm"})
PEDIATRIC_STEMS = frozenset({"newborn", "neonat", "perinat", "child", "childhood", "juvenil", "infant", "infantil",
                             "pediatr", "fetus", "fetal", "physeal", "torus", "greenstick", "salter", "birth",
                             "kid", "babi", "boy", "girl", "toddler", "adolesc", "teen", "month", "week"})
PREGNANCY_STEMS = frozenset({"pregnanc", "pregnant", "obstetr", "gestat", "postpartum", "puerperium", "puerper",
                             "matern", "trimest", "deliveri", "labor", "childbirth", "antepartum", "prenat"})
LATER_ENCOUNTER_STEMS = frozenset({"subsequ", "sequela", "follow", "heal", "nonunion", "malunion", "late"})


_WITHOUT = re.compile(r"\bw/o\b|\bw/out\b")
_WITH = re.compile(r"\bw/(?=\s|[a-z])")
_SPLIT_PARTS = re.compile(r"[-/']")


def normalise(text: str) -> str:
    """Lower case, accents off, the shorthands for with/without spelled out."""
    text = text or ""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = text.lower()
    if "w/" in text:
        text = _WITH.sub(" with ", _WITHOUT.sub(" without ", text))
    return text


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


@lru_cache(maxsize=200_000)
def _clause(clause: str) -> tuple[tuple[str, bool], ...]:
    out: list[tuple[str, bool]] = []
    negated = False
    for raw in _TOKEN.findall(clause):
        if raw in NEGATORS:
            negated = True
            continue
        if raw in ABBREVIATIONS or "&" in raw or not ("-" in raw or "/" in raw or "'" in raw):
            out.append((raw, negated))
            continue
        for part in _SPLIT_PARTS.split(raw):
            if part:
                out.append((part, negated))
        if "/" not in raw:
            out.append((raw.replace("-", "").replace("'", ""), negated))  # gastro-esophageal is gastroesophageal too
    return tuple(out)


def tokens(text: str) -> list[tuple[str, bool]]:
    """(word, negated) for every word of an already normalised text; "without aura, not intractable" negates
    aura and intractable; a negation runs to the next comma, bracket or "with"."""
    out: list[tuple[str, bool]] = []
    for clause in _CLAUSE_END.split(text):
        out.extend(_clause(clause.strip()))
    return out


def text_stems(text: str) -> tuple[list[str], list[str]]:
    """The stems of a title or term, positive and negated, stop words left out (for the index)."""
    positive, negated, _words = analyse(text)
    return list(positive), list(negated)


@lru_cache(maxsize=400_000)
def analyse(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Positive stems, negated stems and the words as written (for spelling correction) of a text.

    A text with a comma is its part before the last comma, then its last clause (a negation ends at a comma):
    most Tabular titles are their category's title and a clause many codes share ("..., initial encounter for
    closed fracture"), so both parts are already known and the index build reads each title once, not its words."""
    cut = text.rfind(",")
    if cut > 0 and text.isascii():
        last = _last_clause(text[cut + 1:])
        if last is not None:
            pos, neg, said = analyse(text[:cut])
            return pos + last[0], neg + last[1], said + last[2]
    clauses = _CLAUSE_END.split(normalise(text))
    if len(clauses) == 1:
        return _analyse_clause(clauses[0].strip())
    positive: list[str] = []
    negated: list[str] = []
    words: list[str] = []
    for clause in clauses:
        pos, neg, said = _analyse_clause(clause.strip())
        positive += pos
        negated += neg
        words += said
    return tuple(positive), tuple(negated), tuple(words)


@lru_cache(maxsize=200_000)
def _last_clause(raw: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None:
    """``analyse`` of what follows a text's last comma, when it is one clause (None when it has another clause
    end: a bracket, "with", "but")."""
    text = normalise(raw)
    return None if _CLAUSE_END.search(text) else _analyse_clause(text.strip())


@lru_cache(maxsize=200_000)
def _analyse_clause(clause: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """``analyse`` of one clause (a negation never runs past one): the Tabular's titles share many clauses
    ("initial encounter for closed fracture"), so each is read once when the index is built."""
    positive: list[str] = []
    negated: list[str] = []
    words: list[str] = []
    for word, neg in _clause(clause):
        words.append(word)
        if word in STOP_WORDS:
            continue
        (negated if neg else positive).append(stem(word))
    return tuple(positive), tuple(negated), tuple(words)


def forget_texts() -> None:
    """Empty the analysis caches an index build filled (some 500,000 titles, terms and clauses): searches ask
    about other texts, and the garbage collector would walk them all on every full collection (0.7 s)."""
    analyse.cache_clear()
    _last_clause.cache_clear()
    _analyse_clause.cache_clear()
    _clause.cache_clear()


@dataclass(frozen=True)
class LayTerms:
    phrases: dict[str, str]
    pattern: re.Pattern[str] | None


@cache
def lay_terms() -> LayTerms:
    """The curated lay-term table (simulator/coding/data/lay_terms.toml), longest phrase first."""
    raw = resources.files("simulator.coding").joinpath("data/lay_terms.toml").read_text(encoding="utf-8")
    phrases = {normalise(k).strip(): normalise(v) for k, v in tomllib.loads(raw)["phrases"].items()}
    alternation = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
    pattern = re.compile(rf"(?<![a-z0-9])(?:{alternation})(?![a-z0-9])") if phrases else None
    return LayTerms(phrases, pattern)


# Around the words one lay term or abbreviation became, when asked for (``expand(..., marked=True)``).
OPEN, CLOSE = "zzopen", "zzclose"


def expand(query: str, marked: bool = False) -> str:
    """A query in code-book words: lay phrases and abbreviations replaced; ``marked``: each replacement between
    OPEN and CLOSE (tokens of their own, so the words one typed term became can be told apart)."""
    text = normalise(query)
    lay = lay_terms()
    start, end = (f" {OPEN} ", f" {CLOSE} ") if marked else (" ", " ")
    if lay.pattern is not None:
        text = lay.pattern.sub(lambda m: f"{start}{lay.phrases[m.group(0)]}{end}", text)
    return _WORD.sub(lambda m: f"{start}{ABBREVIATIONS[m.group(0)]}{end}" if m.group(0) in ABBREVIATIONS
                     else m.group(0), text)


_WORD = re.compile(r"(?<![a-z0-9])[a-z0-9]+(?:[/&'-][a-z0-9]+)*(?![a-z0-9])")

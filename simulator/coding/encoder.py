"""The encoder: every code, with the words coders use for it, in a full-text index built once into the data
directory (SQLite FTS5), searched forgivingly (misspellings, any word order, little words, negations,
stems, synonyms) and ranked as a coder would; plus the Alphabetic Index, the Table of Drugs and Chemicals,
the External Cause Index and the Neoplasm Table, each leading to the Tabular.

Searching never imports the ICD-10-CM package (that takes seconds); only building the index does.
"""

from __future__ import annotations

import csv
import gc
import gzip
import io
import json
import math
import re
import sqlite3
import threading
import tomllib
import xml.etree.ElementTree as ET
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from itertools import chain, combinations
from pathlib import Path
from typing import Any

import orjson
from rapidfuzz import process
from rapidfuzz.distance import OSA

from simulator.coding.words import (
    ALTERNATIVES,
    CLOSE,
    LATER_ENCOUNTER_STEMS,
    OPEN,
    PEDIATRIC_STEMS,
    PREGNANCY_STEMS,
    SERVICE_OVERRIDES,
    SERVICE_STEMS,
    STOP_WORDS,
    WEAK,
    analyse,
    expand,
    forget_texts,
    normalise,
    stem,
    text_stems,
    tokens,
)

INDEX_VERSION = "5"  # bump when the schema or the data changes
ICD10CM_RELEASE = "ICD-10-CM FY2026 (April 1, 2026 update)"
HCPCS_RELEASE = "HCPCS Level II, October 2025"
INDEX_RELEASE = "ICD-10-CM Index, Table of Drugs and Chemicals, External Cause Index, Neoplasm Table (FY2025)"
MAX_QUERY = 200

_CODE_LIKE = re.compile(r"^(?:[A-Za-z]\d[0-9A-Za-z]{0,5}|[A-Za-z]\d{2}\.[0-9A-Za-z]{0,4}|\d{1,5}[FTU]?|[A-Va-v]\d{1,4})$")
_CODE_IN_TEXT = re.compile(r"\b([A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?)(?:-?\s*-\s*([A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?))?")

# Flags kept per code for ranking.
PEDIATRIC, PREGNANCY, LATER_ENCOUNTER, QUALITY_MEASURE, COMMON, SEVENTH_OPEN, INTENT, DEFAULT = 1, 2, 4, 8, 16, 32, 64, 128
# The Table of Drugs and Chemicals' columns, by the words people use for them.
DRUG_POISONING = frozenset({"poison", "overdos", "od", "toxic", "ingest", "intox"})
DRUG_ADVERSE = frozenset({"advers", "side", "reaction", "induc", "caus", "from"})
DRUG_UNDERDOSING = frozenset({"underdos", "miss", "skip", "ran", "noncompli", "forgot", "stop", "short"})
DRUG_COLUMN_WORDS = frozenset({"effect", "accident", "unintent", "intent", "self", "harm", "suicid", "assault",
                               "undetermin", "deliber", "took", "much", "mani", "too", "dose", "dosag"})
# Words between a condition and a drug that say the drug caused it ("rash from amoxicillin").
CAUSAL = (" from ", " due to ", " caused by ", "induced ", " secondary to ", " after taking ", " on ", " while taking ")
GENERIC_DRUG_WORDS = frozenset({"drug", "agent", "medic", "medicin", "nec", "nos", "prepar", "compound"})
# A drug named with these is a status, an allergy or a service, not a reaction to the drug.
DRUG_NOT_ADVERSE = frozenset({"long", "term", "use", "histori", "allergi", "status", "inject", "shot", "mg", "unit",
                              "prescript", "refill", "monitor", "level", "screen", "therapeut", "administr", "depend",
                              "abus", "withdraw"})
# Pairs of words where a query that says one excludes a code that says only the other (stems).
# A family history is not the patient's own ("fh colon cancer" is Z80.0, not Z85.038).
OPPOSITES = (("right", "left"), ("left", "right"), ("upper", "lower"), ("lower", "upper"), ("famili", "person"))
# Words a code's title says that the query must say too: a family history is not the patient's own; a
# male breast is the rarer (stems, with the cost when not asked).
UNASKED = (("famili", 2.0), ("male", 0.7))
GENERIC_CONDITION_STEMS = frozenset({"diseas", "disord", "condit"})
INTENT_STEMS = frozenset({"intent", "self", "harm", "suicid", "assault", "undetermin", "deliber", "homicid"})


@dataclass(frozen=True)
class Hit:
    code: str
    system: str  # ICD-10-CM | HCPCS | CPT
    title: str
    billable: bool
    also: tuple[str, ...] = ()  # codes the Tabular's notes say to add with this one ("use additional code")

    @property
    def codes(self) -> tuple[str, ...]:
        return (self.code, *self.also)


@dataclass(frozen=True)
class IndexEntry:
    """One line of the coder's path: where it is (Index, Drugs, External causes, Neoplasms), the terms from
    main term to subterm, the code it leads to (checked in the Tabular), and its see / see-also."""

    source: str
    path: str
    code: str | None
    see: str | None

    def __iter__(self):  # type: ignore[no-untyped-def]
        """Unpacks as (path, code, see), as the Index panel and the command line read it."""
        shown = self.path if self.source == "Index" else f"{self.source}: {self.path}"
        return iter((shown, self.code, self.see))


def _nodot(code: str) -> str:
    return code.replace(".", "").upper()


def default_path(data_dir: Path) -> Path:
    return data_dir / f"encoder-v{INDEX_VERSION}.sqlite3"


def _data(name: str) -> bytes:
    return resources.files("simulator.coding").joinpath(f"data/{name}").read_bytes()


def note_ranges(text: str) -> list[tuple[str, str]]:
    """The code ranges a Tabular note points at, as (low, high) prefixes without dots:
    "(N18.1-N18.6)" -> (N181, N186); "(L97.4-, L97.5-)" -> two; "(Z68.-)" -> Z68; "Chapter 20" -> V00-Y99."""
    ranges = []
    for low, high in _CODE_IN_TEXT.findall(text):
        ranges.append((_nodot(low), _nodot(high or low)))
    if "Chapter 20" in text:
        ranges.append(("V00", "Y99"))
    return ranges


# A note's words that make its second code one to add only when documented: "if applicable", "if known", a list of
# possibilities ("code to identify:" then one line each, "such as", "any associated").
_IF_PRESENT = ("if applicable", "where applicable", "if known", "such as", "any associated", "any ")


# A note's range as stored: (low, high, level, the stems of the note's line when it lists what to add only if documented).
_Pair = tuple[str, str, int, str]


# Words of a note's line that say what kind of code it is, not what it is for ("history of tobacco dependence":
# a query's "hx" does not name tobacco).
_NOTE_GENERIC = frozenset({"histori", "exposur", "use", "status", "long", "term", "code", "identifi", "associ",
                           "condit", "other", "specifi", "type"})


def note_pairs(text: str, required: int, if_present: int) -> list[_Pair]:
    """A "use additional code" / "code first" note's ranges, each with the level saying whether the note requires the
    second code for this one (E11.22: "code to identify stage of chronic kidney disease (N18.1-N18.6)") or lists what
    to add when the record says it (J45: "code to identify:\n...tobacco dependence (F17.-)")."""
    out: list[_Pair] = []
    lines = text.split("\n")
    for line in lines:
        low = line.lower()
        # One of several lines that is not a note of its own ("code to identify ...") is one of a list of
        # alternatives (I50: "Code first: ... heart failure due to hypertension (I11.0) ...").
        listed = len(lines) > 1 and not low.startswith("code")
        if listed or any(w in low for w in _IF_PRESENT):
            # The second code is added when the record says what the line names: the query must say it too.
            said = " ".join(s for s in dict.fromkeys(_stems_text(_CODE_IN_TEXT.sub(" ", line))) if s not in _NOTE_GENERIC)
            out += [(a, b, if_present, said) for a, b in note_ranges(line)]
        else:
            out += [(a, b, required, "") for a, b in note_ranges(line)]
    return out


def _in_ranges(nodot: str, ranges: list[tuple[str, str]]) -> bool:
    return any(low <= nodot[:len(low)] and nodot[:len(high)] <= high for low, high in ranges)


# ------------------------------------------------------------------------------------------ building
NOTE_KINDS = ("excludes1", "excludes2", "includes", "inclusion_terms", "code_first", "use_additional_code", "code_also",
              "notes")
# Codes a coder most often means by a bare term: shown first among equals (with every ICD-10-CM code the
# clinical catalog puts on a claim, and the services it bills).
COMMON_DEFAULTS = {
    "J18.9", "I10", "E11.9", "E78.5", "J45.909", "J44.9", "I50.9", "I48.91", "N18.9", "K21.9", "E03.9", "F32.A",
    "F41.1", "G43.909", "M17.9", "M54.50", "E66.9", "F17.210", "N39.0", "J20.9", "J02.9", "J02.0", "H66.90",
    "L03.90", "S93.409A", "J30.9", "Z00.00", "Z00.129", "J06.9", "J01.90", "J11.1", "R07.9", "R51.9", "R10.9",
    "A08.4", "M10.9", "E55.9", "G47.00", "N40.0", "M81.0", "L25.9", "R05.9", "R50.9", "I25.10", "E11.65",
    "B02.9", "F41.9", "L50.9", "H10.9", "E78.00", "Z87.891", "R55", "G47.33", "M54.2", "R42", "R11.2",
    # Staphylococcus aureus not stated resistant is methicillin susceptible (Index: Infection, staphylococcal,
    # aureus (methicillin susceptible) (MSSA) B95.61; A49.01).
    "B95.61", "A49.01",
}


_PEDIATRIC_TITLE_STEMS = PEDIATRIC_STEMS - {"month", "week"}  # made once, not once per code of the build


def _flags(code: str, system: str, title_stems: set[str]) -> int:
    flags = 0
    if system == "ICD-10-CM":
        if code[0] == "P" or (title_stems & _PEDIATRIC_TITLE_STEMS and "adult" not in title_stems):
            flags |= PEDIATRIC
        if code[0] == "O" or code[:3] in ("Z33", "Z34", "Z36", "Z37", "Z39", "Z3A") or title_stems & PREGNANCY_STEMS:
            flags |= PREGNANCY
        nodot = _nodot(code)
        if len(nodot) == 7 and code[0] in "STVWXY":
            if nodot[6] == "B":
                flags |= SEVENTH_OPEN
            elif nodot[6] != "A":
                flags |= LATER_ENCOUNTER
        # Poisoning with no intent documented is coded accidental (Official Guidelines I.C.19.e.5.b): the
        # self-harm, assault and undetermined codes (6th character 2, 3, 4) come after it.
        if "T36" <= code[:3] <= "T65" and len(nodot) >= 6 and nodot[5] in "234":
            flags |= INTENT
    elif system == "HCPCS" and (code[:2] in ("G8", "G9") or code[0] == "M"):
        flags |= QUALITY_MEASURE
    return flags


@dataclass
class _Row:
    code: str
    system: str
    title: str
    billable: bool
    terms: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)  # categories above (not block or chapter)
    sections: list[str] = field(default_factory=list)  # block, chapter
    page: dict[str, Any] = field(default_factory=dict)
    extra_words: str = ""
    common: bool = False


def _icd_rows(common: set[str]) -> tuple[list[_Row], list[tuple[str, str, str]]]:
    """Every Tabular entry: codes as rows, chapters and blocks as sections, from simple-icd-10-cm's data files
    (read by ``tabular_file``: importing the package would build its own tree first, three times slower)."""
    from simulator.coding.tabular_file import entries

    rows: list[_Row] = []
    sections: list[tuple[str, str, str]] = []
    for entry in entries():
        if entry.type in ("chapter", "section"):
            sections.append((entry.name, entry.description, json.dumps(entry.notes)))
        else:
            page = {"parents": entry.parents, "notes": entry.notes, "seventh_characters": entry.seventh_characters}
            rows.append(_Row(entry.name, "ICD-10-CM", entry.description, entry.billable,
                             entry.notes.get("inclusion_terms", []), entry.parents, entry.sections, page,
                             common=entry.name in common))
    return rows, sections


def _hcpcs_rows(words: dict[str, str]) -> list[_Row]:
    text = gzip.decompress(_data("hcpcs-2025-oct.csv.gz")).decode("utf-8")
    return [_Row(r["code"], "HCPCS", r["long_description"], not r["termination_date"],
                 page={"terminated": r["termination_date"]} if r["termination_date"] else {},
                 extra_words=words.get(r["code"], ""), common=r["code"] in words)
            for r in csv.DictReader(io.StringIO(text))]


def _cpt_rows(lay: dict[str, Any]) -> list[_Row]:
    from simulator.clinical import load_catalog

    described = {code: s.description for code, s in load_catalog().services.items() if s.system == "CPT"}
    described.update({code: text for code, text in lay["codes"].items() if code not in described})
    return [_Row(code, "CPT", text, True, page={"lay_description": True}, extra_words=lay["words"].get(code, ""),
                 common=True) for code, text in described.items()]


def _title_text(elem: ET.Element | None) -> tuple[str, str]:
    """An Index title without its non-essential modifiers, and the modifiers."""
    if elem is None:
        return "", ""
    main = (elem.text or "")
    modifiers = []
    for child in elem:
        modifiers.append("".join(child.itertext()).strip())
        main += child.tail or ""
    return re.sub(r"\s+", " ", main).strip(), " ".join(m for m in modifiers if m)


def _clean_code(text: str | None) -> str | None:
    code = (text or "").strip().rstrip("-").rstrip(".")
    return code if code and code != "--" else None


def _xml_rows(name: str, source: str) -> list[tuple[str, str, str | None, str | None, str]]:
    """One row per term (and per table column) of a CDC Index XML file: (source, path, code, see, modifiers)."""
    root = ET.fromstring(gzip.decompress(_data(name)))
    heads = {h.get("col"): (h.text or "").strip() for h in root.iter("head")}
    rows: list[tuple[str, str, str | None, str | None, str]] = []

    def walk(term: ET.Element, path: list[str]) -> None:
        title, modifiers = _title_text(term.find("title"))
        here = [*path, title]
        see = term.findtext("see") or term.findtext("seeAlso")
        cells = [(heads.get(c.get("col"), ""), _clean_code(c.text)) for c in term.findall("cell")]
        code = _clean_code(term.findtext("code"))
        if code or see or not cells:
            rows.append((source, " → ".join(here), code, see.strip() if see else None, modifiers))
        for head, cell_code in cells:
            if cell_code:
                rows.append((source, " → ".join([*here, head.lower()]), cell_code, None, modifiers))
        for child in term.findall("term"):
            walk(child, here)

    for main in root.iter("mainTerm"):
        walk(main, [])
    return rows


def _alphabetic_rows() -> list[tuple[str, str, str | None, str | None, str]]:
    """The Alphabetic Index (main term → subterms) with code or cross-reference; a see / see-also without a code
    leads to the code of the entry it names ("Palsy → Bell's, see also Palsy, facial" → G51.0)."""
    rows: list[tuple[str, str, str | None, str | None, str]] = []
    stack: list[str] = []
    reader = csv.reader(io.StringIO(gzip.decompress(_data("ICD10CM_2025_Index.csv.gz")).decode("utf-8")))
    column = {name: n for n, name in enumerate(next(reader))}
    at_level, at_term, at_see, at_also, at_modifier, at_code = (column[c] for c in ("Level", "Term", "See", "SeeAlso",
                                                                                    "NonEssModif", "Code"))
    for r in reader:
        if r[at_term].startswith("Note:") and not r[at_code]:
            continue  # an instruction printed among the subterms (Failure, heart: "Note: heart failure stages A, B,
            # C, and D ..."), not a term: the subterms after it stay under the term above it
        stack = stack[:int(r[at_level])] + [r[at_term].strip()]
        see = (r[at_see].strip() or r[at_also].strip()) or None
        rows.append(("Index", " → ".join(stack), _clean_code(r[at_code]), see, r[at_modifier].strip()))
    return rows


_PARENTHESES = re.compile(r"\s*\([^)]*\)")
_NEC = re.compile(r"\s+(?:nec|nos)$")  # "infective NEC" is what "see Otitis, externa, infective" names


@lru_cache(maxsize=100_000)
def _see_key(part: str) -> str:
    """An Index term as a see reference names it: "Senility, senile (mental)" is "senility"."""
    return _NEC.sub("", _PARENTHESES.sub("", part).split(",")[0].strip().lower())


def _resolve_see(rows: list[tuple[str, str, str | None, str | None, str]]) -> list[tuple[str, str, str | None, str | None, str]]:
    """A see / see-also reference without a code leads to the code of the entry it names: "Pinkeye, see
    Conjunctivitis, acute, mucopurulent"; "Infection, ear, see Otitis media" (main term Otitis, subterm media);
    "Age, see Senility" (main term "Senility, senile")."""
    by_path: dict[str, str] = {}
    by_key: dict[str, str] = {}
    for _source, path, code, _see, _mod in rows:
        if code:
            by_path.setdefault(path.lower(), code)
            by_key.setdefault(" → ".join(_see_key(p) for p in path.split(" → ")), code)
    resolved = []
    for source, path, code, see, mod in rows:
        if code is None and see:
            parts = [p.strip().lower() for p in see.split(",")]
            words = parts[0].split(" ", 1)  # "otitis media": main term and subterm
            whole = [" → ".join(_see_key(p) for p in parts)]
            if len(words) == 2:
                whole.append(" → ".join([words[0], *words[1:], *parts[1:]]))
            # The entry named, then its main term (the code the coder would start from).
            code = (by_path.get(" → ".join(parts)) or next((by_key[k] for k in whole if k in by_key), None)
                    or by_path.get(parts[0]) or by_key.get(_see_key(parts[0])))
        resolved.append((source, path, code, see, mod))
    return resolved


def _stems_text(text: str) -> tuple[str, ...]:
    positive, negated, _words = analyse(text)
    return positive + negated


def _drug_words(index_rows: list[tuple[str, str, str | None, str | None, str]]) -> set[str]:
    """The stems of the substances of the Table of Drugs and Chemicals (its main terms), less generic words: kept
    in the index, so the first search of a process does not work them out (65 ms)."""
    names = {path.split(" → ")[0] for source, path, _code, _see, _mod in index_rows if source == "Drugs"}
    return {s for name in names for s in _stems_text(name) if len(s) >= 3 and not s[0].isdigit()} - GENERIC_DRUG_WORDS


def build_index(path: Path) -> Path:
    """Build the encoder database at ``path`` (atomically: a half-built index is never used).

    The cyclic garbage collector is paused while building: the build makes a million small objects and no
    cycles, and each collection of the older generations walked all of them (2.5-4 s of a 9-10 s build)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_index(path)
    finally:
        if enabled:
            gc.enable()


def _build_index(path: Path) -> Path:
    from simulator.clinical import load_catalog

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    lay = tomllib.loads(_data("cpt_lay.toml").decode("utf-8"))
    catalog = load_catalog()
    common = COMMON_DEFAULTS | catalog.icd10cm_codes()
    icd_rows, sections = _icd_rows(common)
    rows = icd_rows + _hcpcs_rows(lay["words"]) + _cpt_rows(lay)
    by_code = {r.code: r for r in rows}
    section_notes = {code: json.loads(notes) for code, _title, notes in sections}

    index_rows = _resolve_see(_alphabetic_rows() + _xml_rows("icd-10-cm-eindex-2025.xml.gz", "External causes")
                              + _xml_rows("icd-10-cm-drug-2025.xml.gz", "Drugs")
                              + _xml_rows("icd-10-cm-neoplasm-2025.xml.gz", "Neoplasms"))
    # The Index is a synonym source: every entry's words count for the code it leads to (eponyms, lay terms,
    # "see" references), and for the codes below it when it stops at a category.
    # Index paths share their main terms and subterms: each path is split once and each part read once (its
    # positive stems, negated stems, and both; a negation ends at the part's end, as at a comma).
    paths = [ipath.split(" → ") for _source, ipath, _code, _see, _mod in index_rows]
    part_stems: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {}
    for parts, (_source, _ipath, _code, _see, mod) in zip(paths, index_rows, strict=True):
        for part in (*parts, mod):
            if part not in part_stems:
                part_positive, part_negated, _said = analyse(part)
                part_stems[part] = (part_positive, part_negated, part_positive + part_negated)
    words_of: dict[str, set[str]] = defaultdict(set)
    for parts, (source, _ipath, code, _see, _mod) in zip(paths, index_rows, strict=True):
        if code and code in by_code:
            words = words_of[code]
            for part in (parts[1:] if source == "Neoplasms" else parts):
                words.update(part_stems[part][2])
    index_words = {code: frozenset(words) for code, words in words_of.items()}

    records = []
    texts: list[str] = []  # every text whose words the spelling corrector may offer
    term_stems = {r.code: [s for t in r.terms for s in _stems_text(t)] + list(_stems_text(r.extra_words))
                  for r in rows if r.terms or r.extra_words}

    # What a code inherits from the categories above it, worked out once per category (not once per code), from
    # the top down (not by a function calling itself: that reference cycle would keep every row of the build
    # alive until a full garbage collection walked them all, 0.7 s on some later search).
    above: dict[tuple[str, ...], tuple[frozenset[str], frozenset[str], tuple[_Pair, ...]]] = {}

    def inherited(parents: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str], tuple[_Pair, ...]]:
        """(Index words, inclusion terms, "use additional code" ranges) of the categories ``parents`` (nearest
        first): an Index entry that stops at a category leads to its codes; a category's note applies below it."""
        known = above.get(parents)
        if known is not None:
            return known  # most codes: their category was worked out for a code before them
        known = (frozenset(), frozenset(), ())
        for i in range(len(parents) - 1, -1, -1):
            here = above.get(parents[i:])
            if here is None:
                idx, ctx, pairs = known
                holder = by_code.get(parents[i])
                here = (idx | index_words.get(parents[i], frozenset()), ctx | frozenset(term_stems.get(parents[i], ())),
                        _own_pairs(holder) + pairs)
                above[parents[i:]] = here
            known = here
        return known

    @cache
    def inherited_text(parents: tuple[str, ...]) -> tuple[frozenset[str], str, frozenset[str], str]:
        """The Index words a code inherits and those less the categories' inclusion terms, each with its text
        for the index (most codes add no Index words of their own: 7th-character codes share their category's)."""
        idx, ctx, _pairs = inherited(parents)
        ctx = ctx - idx
        return idx, " ".join(sorted(idx)), ctx, " ".join(sorted(ctx)[:80])

    def _own_pairs(holder: _Row | None) -> tuple[_Pair, ...]:
        """The ranges of a code's own "use additional code" (level 0, listed after it; 3 when only if documented)
        and "code first" notes (level 2, listed before it; 4 when only if documented): the etiology/manifestation
        convention, Official Guidelines I.A.13."""
        notes = holder.page.get("notes", {}) if holder else {}
        if "use_additional_code" not in notes and "code_first" not in notes:
            return ()  # most codes
        return (tuple(p for text in notes.get("use_additional_code", []) for p in note_pairs(text, 0, 3))
                + tuple(p for text in notes.get("code_first", []) for p in note_pairs(text, 2, 4)))

    @cache
    def section_pairs(section: str) -> tuple[_Pair, ...]:
        """A block's "use additional code" note (L00-L08: "Use additional code (B95-B97) to identify infectious
        agent") applies to every code in it (level 0); Chapter 19: "Use secondary code(s) from Chapter 20 ... to
        indicate cause of injury" (level 1). Chapter-wide "use additional code" notes (tobacco exposure in Chapters
        9 and 10) are left to the categories that repeat them."""
        notes = section_notes.get(section, {})
        block = tuple((low, high, 0, "") for text in notes.get("use_additional_code", []) if "-" in section
                      for low, high in note_ranges(text))
        return block + tuple((low, high, 1, "") for text in notes.get("notes", [])
                             if "secondary code" in text.lower() for low, high in note_ranges(text.split(".")[0]))

    @cache
    def all_pairs(notes: tuple[_Pair, ...], sections: tuple[str, ...], table: bool) -> str:
        """A code's "use additional code" / "code first" ranges as stored (JSON), its own and inherited.
        Chapter 19's note asks for the external cause from Chapter 20, "Codes within the T section that include
        the external cause do not require an additional external cause code" (T36-T65: poisoning, toxic effects)."""
        pairs = [list(p) for p in notes]
        if not table:
            pairs += [list(p) for o in sections for p in section_pairs(o)]
        return orjson.dumps(pairs).decode()

    # How many codes have each stem (how rare it is), counted per group of codes sharing their inherited words.
    stem_df: Counter[str] = Counter()
    shared: dict[int, list[Any]] = {}
    for r in rows:
        positive, negated, _words = analyse(r.title)
        terms = term_stems.get(r.code, [])
        parents = tuple(r.parents)
        _up_idx, _up_ctx, up_pairs = inherited(parents)
        idx, idx_text, ctx, ctx_text = inherited_text(parents)
        own = index_words.get(r.code)
        if own and not own <= idx:
            idx = idx | own
            idx_text = " ".join(sorted(idx))
            ctx = ctx - own
            ctx_text = " ".join(sorted(ctx)[:80])
        if not (ctx.isdisjoint(positive) and ctx.isdisjoint(terms)):
            ctx = ctx.difference(positive, terms)
            ctx_text = " ".join(sorted(ctx)[:80])
        flags = _flags(r.code, r.system, set(positive)) | (COMMON if r.common else 0)
        flags |= DEFAULT if r.code in COMMON_DEFAULTS else 0
        pairs = all_pairs(_own_pairs(r) + up_pairs, tuple(r.sections), "T36" <= r.code[:3] <= "T65")
        records.append((r, " ".join(dict.fromkeys(positive)), " ".join(dict.fromkeys(negated)),
                        " ".join(dict.fromkeys(terms)), idx_text, ctx_text, flags, pairs))
        texts.append(r.title)
        texts += r.terms
        texts.append(r.extra_words)
        group = shared.setdefault(id(idx), [idx, 0])
        group[1] += 1
        stem_df.update(set(chain(positive, negated, terms)) - idx)
    for idx, times in shared.values():
        for s in idx:
            stem_df[s] += times
    texts += [part for parts in paths for part in parts]
    # How many texts say each word (the same text many times: its words are counted once, times its count).
    word_df: Counter[str] = Counter()
    for text, times in Counter(texts).items():
        for word in analyse(text)[2]:
            word_df[word] += times

    # Row order is the prior: common, billable, adult, initial-encounter codes first, shorter titles first.
    def prior(rec: tuple[Any, ...]) -> tuple[Any, ...]:
        r, flags = rec[0], rec[6]
        return (not r.common, not r.billable, bool(flags & (PEDIATRIC | PREGNANCY | LATER_ENCOUNTER | QUALITY_MEASURE)),
                r.system != "ICD-10-CM", len(r.title), r.code)

    records.sort(key=prior)
    db = sqlite3.connect(tmp)
    # A scratch file, renamed when whole; a cache as large as the index keeps the full-text build in memory.
    # Tables are filled before their indexes are made (one sort, not a B-tree insert per row; codes are inserted
    # in the prior's order, not the code's).
    db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -150000; "
                     "PRAGMA locking_mode = EXCLUSIVE; PRAGMA temp_store = MEMORY;")
    db.executescript("""
        CREATE TABLE codes (code TEXT NOT NULL, system TEXT, title TEXT, billable INTEGER, flags INTEGER,
                            page TEXT, nodot TEXT, pairs TEXT,
                            title_s TEXT, neg_s TEXT, terms_s TEXT, idx_s TEXT, ctx_s TEXT);
        CREATE VIRTUAL TABLE codes_fts USING fts5(title_s, terms_s, idx_s, ctx_s, content='codes',
                                                  content_rowid='rowid', tokenize='unicode61', detail='column');
        CREATE TABLE sections (code TEXT PRIMARY KEY, title TEXT, notes TEXT);
        CREATE TABLE alpha_index (source TEXT, path TEXT, code TEXT, see TEXT, modifiers TEXT, path_s TEXT, neg_s TEXT,
                                  mod_s TEXT);
        CREATE VIRTUAL TABLE alpha_fts USING fts5(path_s, content='alpha_index', content_rowid='rowid',
                                                  tokenize='unicode61', detail='column');
        CREATE TABLE vocab (word TEXT PRIMARY KEY, df INTEGER);
        CREATE TABLE stems (stem TEXT PRIMARY KEY, df INTEGER);
        CREATE TABLE cpt_licensed (code TEXT PRIMARY KEY, descriptor TEXT);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
    """)
    db.executemany("INSERT INTO codes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [(r.code, r.system, r.title, int(r.billable), flags, orjson.dumps(r.page).decode(), _nodot(r.code),
                     pairs, t, n, m, i, c) for r, t, n, m, i, c, flags, pairs in records])
    db.execute("CREATE UNIQUE INDEX codes_code ON codes (code)")  # one row per code (fails the build if not)
    db.execute("CREATE INDEX codes_nodot ON codes (nodot)")
    db.execute("INSERT INTO codes_fts (rowid, title_s, terms_s, idx_s, ctx_s) "
               "SELECT rowid, title_s, terms_s, idx_s, ctx_s FROM codes")
    db.executemany("INSERT OR IGNORE INTO sections VALUES (?, ?, ?)", sections)
    alpha = []
    for (s, p, c, see, mod), parts in zip(index_rows, paths, strict=True):
        # A path's stems, positive then negated, each part read alone.
        index_positive: list[str] = []
        index_negated: list[str] = []
        for part in (*parts, mod):
            part_positive, part_negated, _both = part_stems[part]
            index_positive += part_positive
            index_negated += part_negated
        alpha.append((s, p, c if c in by_code else None, see, mod, " ".join(dict.fromkeys(index_positive + index_negated)),
                      " ".join(dict.fromkeys(index_negated)), " ".join(part_stems[mod][2])))
    alpha.sort(key=lambda a: (a[0] != "Index", a[1].count("→"), len(a[1])))
    db.executemany("INSERT INTO alpha_index VALUES (?, ?, ?, ?, ?, ?, ?, ?)", alpha)
    db.execute("INSERT INTO alpha_fts (rowid, path_s) SELECT rowid, path_s FROM alpha_index")
    db.executemany("INSERT INTO vocab VALUES (?, ?)", [(w, n) for w, n in word_df.items() if len(w) >= 3])
    db.executemany("INSERT INTO stems VALUES (?, ?)", list(stem_df.items()))
    db.executemany("INSERT INTO meta VALUES (?, ?)", [("version", INDEX_VERSION), ("icd10cm", ICD10CM_RELEASE),
                                                      ("hcpcs", HCPCS_RELEASE), ("index", INDEX_RELEASE),
                                                      ("codes", str(len(records))),
                                                      ("drug_words", " ".join(sorted(_drug_words(index_rows))))])
    db.commit()
    db.close()
    tmp.replace(path)
    forget_texts()
    return path


# ------------------------------------------------------------------------------------------ searching
@dataclass(frozen=True)
class _Concept:
    """One thing the query asks for: a word (corrected, stemmed) and the words that mean the same."""

    stem: str
    exact: frozenset[str]
    prefix: frozenset[str]
    negated: bool
    weak: bool
    known: bool
    weight: float
    fts: str
    words: frozenset[str] = frozenset()  # exact | prefix
    qualifier: str = ""  # a number's word before it ("type 1", "stage 2"): the title must say the two together


@dataclass
class _Scored:
    rowid: int
    code: str
    system: str
    title: str
    billable: bool
    score: float
    matched: frozenset[int]
    pairs: str  # JSON: [[low, high, level, words], ...] (_Pair)
    contributions: dict[int, float]
    also: tuple[str, ...] = ()


# A code as ranking reads it: rowid, code, system, title, billable, flags, pairs (JSON), title words, negated
# words, and (inclusion terms and lay words, Index entries, categories above).
_Row_words = tuple[int, str, str, str, int, int, str, frozenset[str], frozenset[str],
                   tuple[frozenset[str], frozenset[str], frozenset[str]]]
DRUG_COLUMN_COST = 3.0  # a Table of Drugs cell in a column the query does not ask for
# A query naming two conditions is coded as each when its best code says less than this share of its words.
TWO_CONDITIONS_COVER, TWO_CONDITIONS_LOOK = 0.8, 3
# Words that say the state of the condition before them ("in remission"), not a condition of their own (stems).
STATUS_STEMS = frozenset({"remiss", "relaps", "recurr", "control", "uncontrol", "partial", "full", "complet"})
# Words a number belongs to ("type 1", "stage 3a", "grade 2").
NUMBERED = frozenset({"type", "stage", "grade", "class", "degree"})
# Where a query names a second condition: "with", "and", "due to", "in", "from", "+" between words.
_TWO_CONDITIONS = re.compile(r"\s(?:with|w/|and|due to|secondary to|caused by|in|from|\+)\s")
_BMI = re.compile(r"\b(?:bmi|body mass index(?: bmi)?)\s*(?:of|is|=|:|was)?\s*(\d{2}(?:\.\d+)?)")
FIELD_WEIGHTS = (1.0, 0.85, 0.8, 0.5)
# The Index path in the search: of the best INDEX_ENTRIES entries, those that say INDEX_COVER of the query's weight
# (and score within INDEX_MARGIN of the best) lift the codes they lead to by INDEX_LIFT x that share, and by
# INDEX_BONUS x the share the code's own words do not say (the Index found what the title does not).
INDEX_ENTRIES, INDEX_COVER, INDEX_BONUS, INDEX_MARGIN, INDEX_LIFT = 5, 0.75, 5.0, 1.0, 1.0
# Entries read with every word, and with all but one; billable codes brought in per entry (speed: p95 < 5 ms).
INDEX_REACH, INDEX_RELAX, INDEX_UNDER = 150, 0, 15


class _Vocabulary:
    """Words and stems of the index, for spelling correction, prefixes and how rare a word is."""

    def __init__(self, db: sqlite3.Connection):
        self.word_df = dict(db.execute("SELECT word, df FROM vocab").fetchall())
        self.stem_df = dict(db.execute("SELECT stem, df FROM stems").fetchall())
        self.stems = sorted(self.stem_df)
        self.codes = int(db.execute("SELECT value FROM meta WHERE key = 'codes'").fetchone()[0])
        self.by_start: dict[tuple[str, int], list[str]] = defaultdict(list)
        for word in self.word_df:
            if word.isalpha():
                self.by_start[word[0], len(word)].append(word)

    def correct(self, word: str) -> str:
        """The index word one or two edits away (transpositions count one), the commonest if several. People
        seldom get the first letter wrong: only words with the same first letter are tried (fast)."""
        if len(word) < 4 or not word.isalpha() or word in self.word_df or stem(word) in self.stem_df:
            return word
        most = 1 if len(word) <= 5 else 2
        choices = [w for n in range(len(word) - most, len(word) + most + 1) for w in self.by_start.get((word[0], n), ())]
        found = process.extract(word, choices, scorer=OSA.distance, score_cutoff=most, limit=25)
        if not found:
            return word
        best = min(found, key=lambda f: (f[1], f[0][0] != word[0], -self.word_df[f[0]]))
        return str(best[0])

    def with_prefix(self, prefix: str, cap: int = 300) -> frozenset[str]:
        start = bisect_left(self.stems, prefix)
        out = []
        for s in self.stems[start:start + cap]:
            if not s.startswith(prefix):
                break
            out.append(s)
        return frozenset(out)

    def weight(self, s: str) -> float:
        df = self.stem_df.get(s, 0)
        return min(6.0, max(0.6, math.log((self.codes + 1) / (df + 1))))


def _expansion_shares(marked: list[tuple[str, bool]]) -> tuple[list[tuple[str, bool]], list[float]]:
    """The words of a query expanded with marks (``expand(query, marked=True)``) without the marks, and how much
    each counts: a word the user typed, 1; the n words one abbreviation or lay term became ("mrsa" -> methicillin
    resistant staphylococcus aureus), 1/sqrt(n) each, so that one typed term does not outweigh the rest of the
    query ("cellulitis left leg mrsa" is a cellulitis first). A lay term inside a lay term counts with it."""
    words: list[tuple[str, bool]] = []
    shares: list[float] = []
    depth, group = 0, 0
    for word, negated in marked:
        if word == OPEN:
            depth += 1
            if depth == 1:
                group = len(words)
            continue
        if word == CLOSE:
            depth = max(0, depth - 1)
            if depth == 0:
                n = sum(1 for w, _neg in words[group:] if w not in STOP_WORDS) or 1
                for i in range(group, len(words)):
                    shares[i] = 1.0 / math.sqrt(n)
            continue
        words.append((word, negated))
        shares.append(1.0)
    return words, shares


def _says_apart(one: _Scored, other: _Scored, concepts: list[_Concept], strong: set[int]) -> bool:
    """Whether ``one`` says a word of the query (at least half of its weight more) that ``other`` does not: each code
    of a two-code answer must stand for a part the query names."""
    return any(one.contributions.get(n, 0.0) - other.contributions.get(n, 0.0) >= 0.5 * concepts[n].weight
               for n in strong)


def _requires(code: _Scored, other: str) -> bool:
    """Whether ``code``'s Tabular notes require ``other`` with it (not merely "if applicable")."""
    nodot = _nodot(other)
    return any(level in (0, 2) and low <= nodot[:len(low)] and nodot[:len(high)] <= high
               for low, high, level, _words in json.loads(code.pairs))


class Encoder:
    """Searches and code pages over a built index. Thread-safe (one connection per thread)."""

    def __init__(self, path: Path):
        if not path.exists():
            build_index(path)
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._vocabulary: _Vocabulary | None = None
        self._bmi: list[tuple[float, float, str]] | None = None
        self._parsed: dict[int, _Row_words] = {}
        self._sets: dict[str, frozenset[str]] = {}
        self._drug_words: frozenset[str] | None = None
        self._titled: dict[str, bool] = {}
        self._alpha: dict[int, tuple[int, IndexEntry, frozenset[str], frozenset[str], frozenset[str], frozenset[str]]] = {}

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.conn = conn
        return conn

    @property
    def vocabulary(self) -> _Vocabulary:
        if self._vocabulary is None:
            with self._lock:
                if self._vocabulary is None:
                    self._vocabulary = _Vocabulary(self.db)
        return self._vocabulary

    @property
    def drug_words(self) -> frozenset[str]:
        """The stems of the substances of the Table of Drugs and Chemicals (its main terms), less generic words."""
        if self._drug_words is None:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'drug_words'").fetchone()
            self._drug_words = frozenset(row[0].split()) if row else frozenset()
        return self._drug_words

    def _title(self, code: str, system: str, title: str) -> str:
        if system == "CPT":
            row = self.db.execute("SELECT descriptor FROM cpt_licensed WHERE code = ?", (code,)).fetchone()
            if row:
                return row[0]
        return title

    # ---------------------------------------------------------------------------------- the query
    def concepts(self, query: str) -> list[_Concept]:
        """The query as concepts: lay terms and abbreviations expanded, little words dropped, misspellings
        corrected, words stemmed, each word's negation ("without aura", "no hypertension") kept."""
        vocab = self.vocabulary
        out: list[_Concept] = []
        seen: set[str] = set()
        words, share = _expansion_shares(tokens(expand(query, marked=True)))
        typing = query[-1:].isalnum()  # the last word may be half typed: it also matches as a prefix
        for position, (word, negated) in enumerate(words):
            if word in STOP_WORDS:
                continue
            partial = word not in vocab.word_df or (typing and position == len(words) - 1)
            s = stem(vocab.correct(word))
            if s in seen or not s:
                continue
            alts = {s, *ALTERNATIVES.get(s, ())}
            seen.update(alts)
            prefix: frozenset[str] = frozenset()
            for a in alts:
                if len(a) >= 4 and not a.isdigit() and (partial or a != s):
                    prefix |= vocab.with_prefix(a)
            known = any(a in vocab.stem_df for a in alts) or bool(prefix)
            weak = s in WEAK
            weight = vocab.weight(s) * (0.3 if weak else 1.0) * (1.0 if known else 0.3) * share[position]
            # Exact terms are cheap for FTS5; a prefix query reads many lists: spell short expansions out.
            terms = sorted(prefix | alts) if len(prefix | alts) <= 24 else None
            fts = (" OR ".join(f'"{t}"' for t in terms) if terms else
                   " OR ".join(f'"{a}"*' if len(a) >= 4 and not a.isdigit() else f'"{a}"' for a in sorted(alts)))
            before = words[position - 1][0] if position else ""
            qualifier = before if s[:1].isdigit() and before in NUMBERED else ""
            out.append(_Concept(s, frozenset(alts), prefix - alts, negated, weak, known, weight, f"({fts})",
                                frozenset(alts) | prefix, qualifier))
        return out[:16]

    def _bmi_code(self, query: str) -> str | None:
        """The adult BMI Z-code of a number ("BMI 42" -> Z68.41), read from the Z68 titles."""
        match = _BMI.search(normalise(query))
        if not match:
            return None
        if self._bmi is None:
            bands = []
            for code, title in self.db.execute("SELECT code, title FROM codes WHERE nodot BETWEEN 'Z68' AND 'Z68~' AND billable = 1"):
                if "adult" not in title:
                    continue
                numbers = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", title.split("]", 1)[-1])]
                if "less" in title:
                    bands.append((0.0, numbers[0], code))
                elif "greater" in title:
                    bands.append((numbers[0], 999.0, code))
                elif len(numbers) >= 2:
                    bands.append((numbers[0], numbers[1] + 0.0999, code))
            self._bmi = bands
        value = float(match.group(1))
        return next((code for low, high, code in self._bmi if low <= value <= high), None)

    # ---------------------------------------------------------------------------------- search
    def search(self, query: str, limit: int = 20, systems: tuple[str, ...] = ("ICD-10-CM", "HCPCS", "CPT")) -> list[Hit]:
        """Best codes first. Nothing, 500 characters or only symbols give an empty list, never an error."""
        q = (query or "").strip()
        if not q or len(q) > MAX_QUERY:
            return []
        placeholders = ",".join("?" * len(systems))
        if _CODE_LIKE.match(q):
            prefix = _nodot(q)
            rows = self.db.execute(
                f"SELECT code, system, title, billable FROM codes WHERE nodot BETWEEN ? AND ? AND system IN ({placeholders}) "
                "ORDER BY billable DESC, nodot = ? DESC, flags & 16 DESC, length(nodot), nodot LIMIT ?",
                (prefix, prefix + "~", *systems, prefix, limit)).fetchall()  # '~' sorts after digits and letters
            if rows:
                return [Hit(c, s, self._title(c, s, t), bool(b)) for c, s, t, b in rows]
        concepts, scored = self._scored(q, systems)
        if not scored:
            return []
        scored = self._two_conditions(q, concepts, scored, systems)
        return [Hit(s.code, s.system, self._title(s.code, s.system, s.title), s.billable, s.also)
                for s in scored[:limit]]

    def _scored(self, q: str, systems: tuple[str, ...]) -> tuple[list[_Concept], list[_Scored]]:
        """The query's concepts and every candidate code scored, best first, with the pairs the notes ask for."""
        concepts = self.concepts(q)
        bmi = self._bmi_code(q)
        if bmi:
            concepts = [c for c in concepts if not re.fullmatch(r"\d+", c.stem)]
        if not concepts:
            return concepts, []
        by_index = self._index_codes(concepts, q)
        rowids = self._retrieve(concepts, bmi)
        if by_index:
            rowids = list(dict.fromkeys(rowids + self._under(list(by_index))))
        scored = self._rank(concepts, rowids, bmi, by_index)
        scored = [s for s in scored if s.system in systems]
        if not scored:
            return concepts, []
        self._add_pairs(scored, concepts)
        self._add_drug_table(scored, concepts, q)
        scored.sort(key=lambda s: -s.score)
        return concepts, scored

    def _two_conditions(self, q: str, concepts: list[_Concept], scored: list[_Scored],
                        systems: tuple[str, ...]) -> list[_Scored]:
        """A query naming two conditions no one code (or noted pair) says ("colon ca with liver mets": C18.9 and
        C78.7) is coded as each condition: the best code of each part, offered together first, then the rest.
        A combination code that says both ("dm2 with neuropathy": E11.40) keeps its place (Official Guidelines
        I.B.9: a combination code is used when one code identifies both conditions)."""
        parts = [p.strip() for p in _TWO_CONDITIONS.split(normalise(q)) if p.strip()]
        strong = {n: c.weight for n, c in enumerate(concepts) if not c.negated and not c.weak and c.known}
        total = sum(strong.values())
        if len(parts) != 2 or not total:
            return scored
        if scored[0].also:
            return scored
        # What the best codes' own titles or inclusion terms say (not their category's Index words: C78.5, colon
        # metastasis, does not say liver): one that says both is the combination code (I.B.9), "pneumonia due to
        # strep pneumoniae" J13.
        for top in scored[:TWO_CONDITIONS_LOOK]:
            said = sum(w for n, w in strong.items() if top.contributions.get(n, 0.0) >= 0.85 * w)
            if top.billable and said / total >= TWO_CONDITIONS_COVER:
                return scored
        firsts = []
        for part in parts:
            part_concepts, part_scored = self._scored(part, systems)
            if {c.stem for c in part_concepts if not c.weak} <= STATUS_STEMS:
                return scored  # "colon ca in remission": a status of the condition, not a second condition
            if not part_scored or not part_scored[0].billable:
                return scored
            firsts.append(part_scored[0])
        first, second = firsts
        if first.code == second.code or first.also or second.also:
            return scored
        # Each code must say a part the other does not: "pneumonia due to strep pneumoniae" is one code that says
        # both (not J18.9 with a streptococcal pneumonia); "bph with urinary symptoms" is N40.1 alone.
        whole = {s.code: s for s in scored}
        if first.code not in whole or second.code not in whole:
            return scored  # a part's best code that the whole query does not find is not what it names
        a, b = whole[first.code], whole[second.code]
        if not (_says_apart(a, b, concepts, set(strong)) and _says_apart(b, a, concepts, set(strong))):
            return scored
        pair = _Scored(first.rowid, first.code, first.system, first.title, first.billable, top.score + 1.0,
                       first.matched, first.pairs, first.contributions, (second.code,))
        return [pair, *[s for s in scored if s.code != first.code]]

    def _asked_column(self, concepts: list[_Concept], q: str) -> tuple[str, ...] | None:
        """The Table of Drugs and Chemicals' column the query's words choose (None: no column asked)."""
        return self._drug_column({s for c in concepts if not c.negated for s in c.exact}, f" {normalise(q)} ",
                                 condition=True)

    def _index_codes(self, concepts: list[_Concept], q: str) -> dict[str, float]:
        """The coder's path as a ranking signal: the codes (or categories, "-") that the Index entries saying most
        of the query lead to, each with how much of the query the entry says. "Black eye" is an Index entry
        (S00.1-) whose words no title has; "lipoma of back" leads through Lipoma to the trunk (D17.1)."""
        out: dict[str, float] = {}
        entries = self._index_scored(concepts, INDEX_ENTRIES, INDEX_REACH, INDEX_RELAX, self._asked_column(concepts, q))
        best = max((score for score, cover, entry in entries if entry.code and cover >= INDEX_COVER), default=0.0)
        for score, cover, entry in entries:
            # The entries a coder would stop at: those saying as much with as few other words as the best one
            # ("Otitis, externa", not "Otitis, externa, infective, swimmer's ear").
            if entry.code and cover >= INDEX_COVER and score >= best - INDEX_MARGIN:
                key = _nodot(entry.code)
                out[key] = max(out.get(key, 0.0), cover)
        return out

    def _under(self, prefixes: list[str]) -> list[int]:
        """Billable codes at or under each code or category, commonest first (the row order), a few per prefix."""
        rowids: list[int] = []
        for prefix in prefixes:
            rowids += [r for (r,) in self.db.execute(
                "SELECT rowid FROM codes WHERE nodot BETWEEN ? AND ? AND billable = 1 AND system = 'ICD-10-CM' "
                "ORDER BY rowid LIMIT ?", (prefix, prefix + "~", INDEX_UNDER))]
        return rowids

    def _retrieve(self, concepts: list[_Concept], bmi: str | None, where: str = "", params: tuple[Any, ...] = ()) -> list[int]:
        positive = [c for c in concepts if not c.negated and c.known]
        required = [c for c in positive if not c.weak] or positive
        found: dict[int, None] = {}
        sql = (f"SELECT c.rowid FROM codes_fts f JOIN codes c ON c.rowid = f.rowid WHERE codes_fts MATCH ? {where} LIMIT ?"
               if where else "SELECT rowid FROM codes_fts WHERE codes_fts MATCH ? LIMIT ?")

        def run(expression: str, limit: int) -> None:
            try:
                for (rowid,) in self.db.execute(sql, (expression, *params, limit)):
                    found[rowid] = None
            except sqlite3.OperationalError:
                pass

        required = sorted(required, key=lambda c: -c.weight)[:5]  # the rarest words find; all words rank
        if required:
            run(" AND ".join(c.fts for c in required), 100)
            relaxed = len(found) < 15
            if relaxed and len(required) >= 2:
                for i in range(len(required)):
                    run(" AND ".join(c.fts for j, c in enumerate(required) if j != i), 40)
                if len(required) >= 3:
                    # Two conditions, or words no one code has: the codes with any two of the rarest words
                    # ("abscess right axilla staph aureus": abscess and axilla, L02.411; staph aureus, B95.61).
                    for a, b in combinations(required[:4], 2):
                        run(f"{a.fts} AND {b.fts}", 15)
                if len(found) < 10 and len(required) >= 3:
                    run(" OR ".join(c.fts for c in required), 100)
            strong = [c for c in positive if not c.weak]
            for c in strong:
                if c.qualifier:  # "stage 2": the codes that say it, whatever else the query says
                    run(f'title_s : ("{stem(c.qualifier)}" AND {c.fts})', 20)
            if (relaxed and len(required) >= 2) or len(strong) >= 4:
                # No code has every word: the likeliest codes of the rarest words, for two-code answers.
                for c in sorted(strong, key=lambda c: -c.weight)[:5]:
                    run(c.fts, 10)
        if bmi:
            row = self.db.execute("SELECT rowid FROM codes WHERE code = ?", (bmi,)).fetchone()
            if row:
                found[row[0]] = None
        return list(found)

    def _words(self, text: str) -> frozenset[str]:
        """A stored text's words as a set, one set per distinct text: codes share their category's Index words and
        entries their main term, and every set kept is one more object each full garbage collection walks."""
        words = self._sets.get(text)
        if words is None:
            if len(self._sets) > 100_000:
                self._sets.clear()
            words = self._sets[text] = frozenset(text.split())
        return words

    def _rows(self, rowids: list[int]) -> list[_Row_words]:
        """The codes' words as sets, read and split once per process (the same codes come up query after query)."""
        def parse(rowid, code, system, title, billable, flags, pairs, title_s, neg_s, terms_s, idx_s, ctx_s):  # type: ignore[no-untyped-def]
            return (rowid, code, system, title, billable, flags, pairs, frozenset(title_s.split()),
                    self._words(neg_s), (self._words(terms_s), self._words(idx_s), self._words(ctx_s)))

        cache = self._fill(self._parsed, 30_000, rowids, parse,
                           "SELECT rowid, code, system, title, billable, flags, pairs, title_s, neg_s, terms_s, idx_s, ctx_s "
                           "FROM codes WHERE rowid IN ({marks})")
        return [row for r in sorted(rowids) if (row := cache.get(r)) is not None]  # row order is the prior

    def _fill(self, cache: dict[int, Any], most: int, rowids: list[int], parse: Callable[..., Any], sql: str) -> dict[int, Any]:
        """``cache`` with the rows of ``rowids`` it lacks read (``sql`` with ``{marks}``) and parsed; emptied first
        when it holds more than ``most`` rows."""
        missing = [r for r in rowids if r not in cache]
        if missing:
            if len(cache) > most:
                cache.clear()
            for row in self.db.execute(sql.format(marks=",".join("?" * len(missing))), missing):
                cache[row[0]] = parse(*row)
        return cache

    def _rank(self, concepts: list[_Concept], rowids: list[int], bmi: str | None = None,
              by_index: dict[str, float] | None = None) -> list[_Scored]:
        if not rowids:
            return []
        query_stems = {s for c in concepts for s in c.exact}
        service = bool(query_stems & SERVICE_STEMS) and not query_stems & SERVICE_OVERRIDES
        wants_child = bool(query_stems & PEDIATRIC_STEMS)
        wants_pregnancy = bool(query_stems & PREGNANCY_STEMS)
        wants_later = bool(query_stems & LATER_ENCOUNTER_STEMS)
        total = sum(c.weight for c in concepts if not c.weak) or sum(c.weight for c in concepts) or 1.0
        everything = frozenset().union(*(c.words for c in concepts))
        wants_intent = bool(query_stems & INTENT_STEMS)
        # Words the query says one of and not the other: a code that says the other is the wrong code (the right
        # knee is not the left; an arm is not a leg), not a near miss. And a family history is only what is asked.
        conflicts = [(other, 3.0) for one, other in OPPOSITES if one in query_stems and other not in query_stems]
        conflicts += [(word, cost) for word, cost in UNASKED if word not in query_stems]
        out = []
        plan = [(n, c.negated, c.weak, c.exact, c.words, c.prefix, c.weight) for n, c in enumerate(concepts)]
        # "type 1 diabetes with ckd stage 2": each number counts only where the title says it with its word (the
        # "2" of "Type 2 diabetes" is not stage 2).
        numbered = {n: re.compile(rf"\b{c.qualifier}\s+{re.escape(c.stem)}\b") for n, c in enumerate(concepts)
                    if c.qualifier and not c.negated}
        ignore = everything | WEAK | {"unspecifi"}
        for rowid, code, system, title, billable, flags, pairs, title_words, negated, other in self._rows(rowids):
            penalty = 0.0
            contributions: dict[int, float] = {}
            terms, idx, ctx = other
            for n, is_negated, weak, exact, words, prefix, weight in plan:
                if is_negated:
                    if not words.isdisjoint(negated):
                        contributions[n] = weight
                    elif not exact.isdisjoint(title_words):
                        penalty += 4.0  # "no hypertension" asked; the code says hypertension
                    elif not (exact.isdisjoint(idx) and exact.isdisjoint(ctx)):
                        penalty += 1.5  # ... or its category does
                    continue
                # Where the word is: the title, inclusion terms and lay words, Index entries, categories above
                # (FIELD_WEIGHTS); a word that only begins one counts 0.7 of that.
                if n in numbered:
                    best = 1.0 if numbered[n].search(title.lower()) else 0.0
                elif not exact.isdisjoint(title_words):
                    best = 1.0
                else:
                    best = (0.85 if not exact.isdisjoint(terms) else 0.8 if not exact.isdisjoint(idx)
                            else 0.5 if not exact.isdisjoint(ctx) else 0.0)
                    if best < 0.7 and prefix:
                        best = max(best, 0.7 if not prefix.isdisjoint(title_words) else
                                   0.595 if not prefix.isdisjoint(terms) else 0.56 if not prefix.isdisjoint(idx)
                                   else 0.35 if not prefix.isdisjoint(ctx) else 0.0)
                    if best == 0.0 and not exact.isdisjoint(negated):
                        penalty += 4.0  # "with aura" asked; the code is "without aura"
                if best:
                    if weak:
                        penalty -= 1.0 * best  # right/left/initial/acute as asked
                        contributions[n] = 0.0
                    else:
                        contributions[n] = weight * best
                elif weak:
                    penalty += 0.8
            cover = sum(contributions.values())
            # Words of the title the query did not ask for: a more specific code than asked. (hitsim's own lay
            # descriptions of CPT numbers are worded freely: their length says nothing.)
            extra = len(title_words - ignore) if system != "CPT" else 0
            score = 10.0 * cover / total - 0.3 * min(extra, 8) - penalty
            score += 1.5 if billable else 0.0
            score += 0.7 if flags & COMMON else 0.0
            score += 0.8 if flags & DEFAULT else 0.0
            score += 0.6 if "unspecifi" in title_words else 0.0
            if system == "ICD-10-CM":
                score += 0.0 if service else 1.5
            else:
                score += (2.5 + (1.5 if system == "CPT" else 0.0)) if service else 0.0
            if flags & PEDIATRIC:
                score += 1.0 if wants_child else -2.0
            if flags & PREGNANCY and not wants_pregnancy:
                score -= 2.0
            if flags & LATER_ENCOUNTER and not wants_later:
                score -= 2.0
            if flags & SEVENTH_OPEN and "open" not in query_stems:
                score -= 1.0
            if flags & INTENT and not wants_intent:
                score -= 1.5
            if flags & QUALITY_MEASURE:
                score -= 2.0
            for word, cost in conflicts:
                if word in title_words:
                    score -= cost
            if bmi is not None and code.startswith("Z68"):
                score += 3.0 if code == bmi else -3.0
            if by_index:
                # What the Index entry says that the code's own words did not (a title that says it all needs no
                # Index to be found: "Unspecified otitis externa, right ear" over "Swimmer's ear").
                nodot = _nodot(code)
                said = max((c for prefix, c in by_index.items() if nodot.startswith(prefix)), default=0.0)
                score += INDEX_LIFT * said + INDEX_BONUS * max(0.0, said - cover / total)
            out.append(_Scored(rowid, code, system, title, bool(billable), score, frozenset(contributions),
                               pairs, contributions))
        out.sort(key=lambda s: -s.score)
        return out

    def _in_note_ranges(self, ranges: list[tuple[str, str]], concepts: list[_Concept]) -> list[int]:
        """Codes a note points at that have the words the first code lacks: all of a small range (B95-B97),
        or those matching the words in a large one (Chapter 20)."""
        params = tuple(x for low, high in ranges for x in (low, high + "~"))
        rows: list[tuple[int, str]] = []
        for low, high in ranges:  # one range at a time: an OR of ranges would read the whole table
            rows += self.db.execute("SELECT rowid, title_s || ' ' || terms_s || ' ' || idx_s || ' ' || ctx_s FROM codes "
                                    "WHERE nodot BETWEEN ? AND ? LIMIT 301", (low, high + "~")).fetchall()
            if len(rows) > 300:
                break
        if len(rows) <= 300:
            # Only those with a word the first code lacks can add to it (ranking the rest is wasted time).
            wanted = frozenset().union(*(c.words for c in concepts if c.known and not c.negated))
            return [rowid for rowid, words in rows if not wanted.isdisjoint(words.split())]
        # Words of thousands of codes (laceration, fracture) would read all of them to find the few in the range:
        # a large range is searched by its rarer words only.
        vocab = self.vocabulary
        required = [c for c in concepts if c.known and not c.negated and vocab.stem_df.get(c.stem, 0) <= 2000]
        if not required:
            return []
        # The words find, the range filters ("+nodot": not the index on nodot, which would walk all of Chapter 20).
        plain = " OR ".join("+c.nodot BETWEEN ? AND ?" for _ in ranges)
        try:
            return [r[0] for r in self.db.execute(
                f"SELECT c.rowid FROM codes_fts f JOIN codes c ON c.rowid = f.rowid WHERE codes_fts MATCH ? AND ({plain}) "
                "LIMIT 100", (" AND ".join(c.fts for c in required), *params))]
        except sqlite3.OperationalError:
            return []

    def _add_pairs(self, scored: list[_Scored], concepts: list[_Concept]) -> None:
        """Where the Tabular says "use additional code" (or Chapter 19 asks for the external cause from Chapter 20)
        and the query names what that code is for, offer the two together, the code with the note first."""
        total = sum(c.weight for c in concepts if not c.weak) or 1.0
        strong = {n for n, c in enumerate(concepts) if not c.negated and not c.weak and c.known}
        best: tuple[float, _Scored, _Scored, bool] | None = None
        numbers = {n for n in strong if concepts[n].stem[:1].isdigit()}  # "stage 4", "3b": the code that says it
        # Words of the encounter ("follow up visit") choose a 7th character; they are not a second condition.
        encounter = {n for n in strong if concepts[n].exact & (LATER_ENCOUNTER_STEMS | {"visit", "up", "encount"})}
        candidates = [(s, _nodot(s.code)) for s in scored[:60] if s.billable]
        for head in [s for s in scored[:10] if s.pairs != "[]" and s.billable][:3]:
            notes = json.loads(head.pairs)
            ranges = [(low, high) for low, high, _level, _words in notes]
            own = [(low, high) for low, high, level, _words in notes if level in (0, 3)]
            first = [(low, high) for low, high, level, _words in notes if level in (2, 4)]
            required = [(low, high) for low, high, level, _words in notes if level in (0, 2)]
            listed = [(low, high, frozenset(words.split())) for low, high, level, words in notes if level in (3, 4)]
            not_listed = [(low, high) for low, high, level, _words in notes if level in (0, 1, 2)]
            leftover = strong - {n for n, v in head.contributions.items() if v > 0}
            pool = [s for s, nodot in candidates if s is not head and _in_ranges(nodot, ranges)]
            if leftover and not any(s.matched & leftover for s in pool):
                pool += [s for s in self._rank(concepts, self._in_note_ranges(ranges, [concepts[n] for n in leftover]))[:20]
                         if s.billable]
            for partner in pool:
                gain = sum(max(0.0, v - head.contributions.get(n, 0.0)) for n, v in partner.contributions.items()
                           if n in strong)
                # A second code that adds nothing the query said is offered only when the code's own note asks for
                # it and it is the unspecified default of that range (diabetic foot ulcer -> L97.50-, site and
                # severity not stated) or the one the query's number names (htn ckd stage 4 -> N18.4, though the
                # title of I12.9 says "stage 1 through stage 4"); never a guessed detail (dm2 ckd -> no stage).
                says_number = bool(partner.matched & numbers)
                # The first code must be one the query names too (what it says that the second does not), or one the
                # second's own note requires ("covid pneumonia": J12.82, code first U07.1): "chronic systolic heart
                # failure" is I50.22, not hypertensive heart and kidney disease I13.0 with I50.22.
                if not (_says_apart(head, partner, concepts, strong) or _requires(partner, head.code)):
                    continue
                # And the second code says a part of the query the first does not ("hx mi" is I25.2, whose Index
                # entry is History, myocardial infarction: not I25.2 with a history of tobacco dependence), unless
                # the first's note requires it (below).
                if not _says_apart(partner, head, concepts, strong - encounter):
                    gain = 0.0
                # A code a note lists "if applicable" is added for what the note's line names and the query says
                # ("dm2 on insulin": insulin (Z79.4)); not for another word it happens to share ("colon ca in
                # remission" is not alcohol dependence in remission, F10.21).
                nodot = _nodot(partner.code)
                if not _in_ranges(nodot, not_listed):
                    lines = [words for low, high, words in listed if _in_ranges(nodot, [(low, high)])]
                    if lines and not any(concepts[n].exact & words for words in lines for n in strong
                                         if partner.contributions.get(n, 0.0) > head.contributions.get(n, 0.0)):
                        continue
                if gain <= 0 and not (_in_ranges(_nodot(partner.code), required)
                                      and len(partner.matched & strong) >= 2
                                      and ("unspecified" in partner.title.lower() or says_number)):
                    continue
                # Two codes cost a coder more than one that says it all: a pair wins only by what it adds.
                value = head.score + 10.0 * gain / total - 0.4 + 0.05 * partner.score + (0.5 if says_number else 0.0)
                if best is None or value > best[0]:
                    best = (value, head, partner, _in_ranges(_nodot(partner.code), first)
                            and not _in_ranges(_nodot(partner.code), own))
        if best is not None:
            value, head, partner, partner_first = best
            if partner_first:  # "code first": the underlying condition is listed first (I.A.13)
                partner.also = (head.code,)
                partner.score = max(partner.score, head.score, value)
            else:
                head.also = (partner.code,)
                head.score = max(head.score, value)

    def _drug_column(self, query_stems: set[str], text: str, condition: bool) -> tuple[str, ...] | None:
        """The Table of Drugs and Chemicals' column the query's words ask for, as the column heading's stems:
        poisoning (accidental unless an intent is documented, Official Guidelines I.C.19.e.5.b: self-harm,
        assault, undetermined), adverse effect (the drug properly taken, I.C.19.e.5.a), underdosing
        (I.C.19.e.5.c); a drug named with a condition ("rash from amoxicillin", "statin myopathy") is an adverse
        effect; None when the query says none of these (a drug named for a status or a service: long-term use,
        allergy status, an injection)."""
        if query_stems & DRUG_UNDERDOSING:
            return ("underdos",)
        if query_stems & DRUG_POISONING or " too much" in text or " too many" in text:
            if query_stems & {"suicid", "self", "intent", "deliber"}:
                return ("poison", "self")
            if query_stems & {"assault", "homicid"}:
                return ("poison", "assault")
            if query_stems & {"undetermin"}:
                return ("poison", "undetermin")
            return ("poison", "accident")
        causal = any(w in text for w in CAUSAL)
        if query_stems & DRUG_ADVERSE or causal or (condition and not query_stems & DRUG_NOT_ADVERSE):
            return ("advers",)
        return None

    def _drug_entry(self, concepts: list[_Concept], column: tuple[str, ...]) -> tuple[str, set[int]] | None:
        """The Table of Drugs entry of the substance the query names, in the asked column: (code, the concepts
        the substance's words matched)."""
        strong = [(n, c) for n, c in enumerate(concepts) if not c.negated and c.known and not c.weak
                  and not c.exact & (DRUG_COLUMN_WORDS | DRUG_ADVERSE | DRUG_POISONING | DRUG_UNDERDOSING)]
        best: tuple[float, int, str, set[int]] | None = None
        for _n, c in strong:
            expression = f"{c.fts} AND " + " AND ".join(f'"{w}"' for w in column)
            try:
                rows = self.db.execute(
                    "SELECT a.rowid, a.path, a.code, a.path_s FROM alpha_fts f JOIN alpha_index a ON a.rowid = f.rowid "
                    "WHERE alpha_fts MATCH ? AND a.source = 'Drugs' AND a.code IS NOT NULL LIMIT 200",
                    (expression,)).fetchall()
            except sqlite3.OperationalError:
                continue
            for rowid, path, code, _path_s in rows:
                parts = path.split(" → ")
                substance = set(_stems_text(" ".join(parts[:-1])))
                matched = {m for m, d in strong if not d.words.isdisjoint(substance)}
                said = {w for m in matched for w in concepts[m].words}
                if not set(_stems_text(parts[0])) - {"nec", "nos"} <= said:
                    continue  # every word of the substance (the main term) is in the query
                value = sum(concepts[m].weight for m in matched) - 0.5 * len(substance - {s for m in matched
                                                                                          for s in concepts[m].words})
                if best is None or (value, -rowid) > (best[0], -best[1]):
                    best = (value, rowid, code, matched)
        return (best[2], best[3]) if best else None

    def _add_drug_table(self, scored: list[_Scored], concepts: list[_Concept], query: str) -> None:
        """A drug with "overdose", "took too much", "side effect", "underdosing" (or a drug named with a condition)
        is coded from the Table of Drugs and Chemicals by the column those words choose. A poisoning's T-code
        comes first (I.C.19.e.5.b); an adverse effect is coded by its nature first, then the T-code with 5th or
        6th character 5 (I.C.19.e.5.a), offered together; underdosing: the T-code (I.C.19.e.5.c)."""
        query_stems = {s for c in concepts if not c.negated for s in c.exact}
        strong = {n for n, c in enumerate(concepts) if not c.negated and c.known and not c.weak}
        if not strong or query_stems & SERVICE_STEMS - {"treatment"}:
            return
        if not any(concepts[n].exact & self.drug_words for n in strong):
            return  # no word of the query names a substance of the Table
        text = f" {normalise(query)} "
        column = self._drug_column(query_stems, text, condition=True)
        if column is None:
            return
        implicit = column == ("advers",) and not (query_stems & DRUG_ADVERSE or any(w in text for w in CAUSAL))
        if implicit and not any(concepts[n].exact & self.drug_words and not self._in_titles(concepts[n].exact)
                                for n in strong):
            # A drug named with a condition and no word between ("statin myopathy"): only a drug's own name, one no
            # Tabular title or inclusion term uses (so "kidney", "dog" or "insulin" are not read as a drug taken).
            return
        entry = self._drug_entry(concepts, column)
        if entry is None:
            return
        table_code, substance = entry
        said = {w for n in substance for w in concepts[n].exact} - GENERIC_DRUG_WORDS
        if column == ("advers",) and "resist" in query_stems:
            return  # a drug an organism resists ("mrsa": methicillin resistant Staphylococcus aureus) was not taken
        if any(not said.isdisjoint(self._parsed[s.rowid][7]) for s in scored[:5]
               if s.system == "ICD-10-CM" and not "T36" <= s.code[:3] <= "T65"):
            return  # a code's own title has the word ("methicillin resistant staphylococcus"): not a drug taken
        if implicit and all(concepts[n].exact & GENERIC_DRUG_WORDS or self._in_titles(concepts[n].exact)
                            for n in substance):
            return
        seventh = "S" if "sequela" in query_stems else "D" if query_stems & LATER_ENCOUNTER_STEMS else "A"
        code = self._complete(table_code, seventh)
        if code is None:
            return
        rest = strong - substance - {n for n in strong if concepts[n].exact & (DRUG_COLUMN_WORDS | DRUG_ADVERSE
                                                                                | DRUG_POISONING | DRUG_UNDERDOSING)}
        if column == ("advers",) and not rest and not query_stems & DRUG_ADVERSE:
            return  # a drug and no word of a reaction: not an adverse effect
        top = max((s.score for s in scored), default=0.0)
        row = self.db.execute("SELECT rowid FROM codes WHERE code = ?", (code,)).fetchone()
        found = self._rank(concepts, [row[0]]) if row else []
        if not found:
            return
        rest -= {n for n, v in found[0].contributions.items() if v > 0}  # words the T-code says ("anticoagulant")
        drug = next((s for s in scored if s.code == code), found[0])
        if drug is found[0]:
            scored.append(drug)
        drug.also = ()
        if column == ("advers",) and rest:
            nature = [s for s in scored if s.billable and s.system == "ICD-10-CM" and not "T36" <= s.code[:3] <= "T65"
                      and s.code[0] not in "VWXYZ" and s.matched & rest]
            if nature:
                # The nature of the reaction: the code that says most of the other words, one the Index gives for
                # a drug ("Urticaria, drug") before one that does not.
                def nature_value(s: _Scored) -> tuple[float, float]:
                    by_drug = 0.3 if not self._parsed[s.rowid][9][1].isdisjoint(("drug", "medic", "medicin")) else 0.0
                    return sum(v for n, v in s.contributions.items() if n in rest) + by_drug, s.score

                head = max(nature, key=nature_value)
                head.also = (code,)
                head.score = top + 2.0
                drug.score = top + 1.0
                return
        drug.score = top + 2.0

    def _in_titles(self, stems: frozenset[str]) -> bool:
        """Whether a Tabular title or inclusion term has one of the stems (remembered: the index never changes)."""
        key = " ".join(sorted(stems))
        known = self._titled.get(key)
        if known is None:
            words = " OR ".join(f'"{w}"' for w in sorted(stems))
            try:
                known = self.db.execute("SELECT 1 FROM codes_fts WHERE codes_fts MATCH ? LIMIT 1",
                                        (f"{{title_s terms_s}} : ({words})",)).fetchone() is not None
            except sqlite3.OperationalError:
                known = True
            self._titled[key] = known
        return known

    def _complete(self, code: str, seventh: str) -> str | None:
        """A Table code completed to a billable code: the 7th character (placeholder X where needed)."""
        nodot = _nodot(code)
        rows = self.db.execute("SELECT code, nodot FROM codes WHERE nodot BETWEEN ? AND ? AND billable = 1 "
                               "AND system = 'ICD-10-CM' ORDER BY length(nodot), nodot", (nodot, nodot + "~")).fetchall()
        if any(n == nodot for _c, n in rows):
            return next(c for c, n in rows if n == nodot)
        return next((c for c, n in rows if len(n) == 7 and n.endswith(seventh) and set(n[len(nodot):-1]) <= {"X"}),
                    None)

    # ---------------------------------------------------------------------------------- pages and the Index
    def lookup(self, code: str) -> Hit | None:
        row = self.db.execute("SELECT code, system, title, billable FROM codes WHERE nodot = ?", (_nodot(code),)).fetchone()
        return Hit(row[0], row[1], self._title(row[0], row[1], row[2]), bool(row[3])) if row else None

    def page(self, code: str) -> dict[str, Any] | None:
        """A code's page: title, billable, parents, notes from the Tabular (its own and those of the categories,
        block and chapter above it, as the printed Tabular applies them), the 7th-character table."""
        row = self.db.execute("SELECT code, system, title, billable, page FROM codes WHERE nodot = ?",
                              (_nodot(code),)).fetchone()
        if row is None:
            return None
        page = json.loads(row[4])
        parents = [(p, hit.title) for p in page.get("parents", []) if (hit := self.lookup(p)) is not None]
        notes: dict[str, list[str]] = {k: list(v) for k, v in page.get("notes", {}).items()}
        seventh = page.get("seventh_characters", {})
        for parent, _title in parents:
            above = self.db.execute("SELECT page FROM codes WHERE code = ?", (parent,)).fetchone()
            if above is None:
                continue
            parent_page = json.loads(above[0])
            for kind in ("excludes1", "excludes2", "includes", "code_first", "use_additional_code", "code_also", "notes"):
                for text in parent_page.get("notes", {}).get(kind, []):
                    notes.setdefault(kind, []).append(f"{text} (at {parent})")
            seventh = seventh or parent_page.get("seventh_characters", {})
        sections = []
        if row[1] == "ICD-10-CM":
            for section, title, section_notes in self._sections(row[0]):
                where = f"chapter {section}" if "-" not in section else f"block {section}"
                sections.append((section, title))
                for kind in ("excludes1", "excludes2", "includes", "code_first", "use_additional_code", "code_also", "notes"):
                    for text in section_notes.get(kind, []):
                        notes.setdefault(kind, []).append(f"{text} (at {where})")
        children = self.db.execute(
            "SELECT code, title, billable FROM codes WHERE nodot BETWEEN ? AND ? AND length(nodot) = ? AND system = ? "
            "ORDER BY nodot", (_nodot(row[0]), _nodot(row[0]) + "~", len(_nodot(row[0])) + 1, row[1])).fetchall()
        return {"code": row[0], "system": row[1], "title": self._title(row[0], row[1], row[2]), "billable": bool(row[3]),
                "parents": parents, "sections": sections, "children": [(c, t, bool(b)) for c, t, b in children],
                "notes": notes, "seventh_characters": seventh,
                "lay_description": page.get("lay_description", False), "terminated": page.get("terminated")}

    def _sections(self, code: str) -> list[tuple[str, str, dict[str, list[str]]]]:
        """The block and the chapter a code is in (nearest first), with their notes."""
        head = _nodot(code)[:3]
        out = []
        for section, title, notes in self.db.execute("SELECT code, title, notes FROM sections"):
            span = re.search(r"\(([A-Z]\d\d)-([A-Z]\d\d)\)\s*$", title) if "-" not in section else None
            low, high = (span.group(1), span.group(2)) if span else section.split("-") if "-" in section else ("", "")
            if low and low <= head <= high:
                out.append((section, title, json.loads(notes)))
        out.sort(key=lambda s: "-" not in s[0])  # block before chapter
        return out

    def alphabetic_index(self, query: str, limit: int = 20) -> list[IndexEntry]:
        """The coder's path: entries of the Index, the Table of Drugs and Chemicals, the External Cause Index and
        the Neoplasm Table (main term → subterms → column) with the code each leads to, searched as forgivingly
        as the codes are. A query naming two conditions ("dm2 with ckd 3a", "cellulitis due to mrsa") is looked
        up whole and by each condition, the best entries of each taken in turn: a coder looks each one up."""
        q = (query or "").strip()[:MAX_QUERY]
        parts = [p for p in _TWO_CONDITIONS.split(normalise(q)) if p.strip()]
        if len(parts) < 2:
            return self._index_entries(q, limit)
        lists = [self._index_entries(q, limit)] + [self._index_entries(p, limit) for p in parts[:3]]
        out: list[IndexEntry] = []
        for rank in range(limit):
            for entries in lists:
                if rank < len(entries) and entries[rank] not in out:
                    out.append(entries[rank])
        return out[:limit]

    def _index_entries(self, q: str, limit: int) -> list[IndexEntry]:
        concepts = self.concepts(q) if q else []
        return [entry for _score, _cover, entry in self._index_scored(concepts, limit,
                                                                        column=self._asked_column(concepts, q))]

    def _index_scored(self, concepts: list[_Concept], limit: int, reach: int = 400, relax: int = 100,
                      column: tuple[str, ...] | None = None) -> list[tuple[float, float, IndexEntry]]:
        """Index entries with their score and how much of the query's weight (0..1) their path says; ``reach``:
        how many entries with every word are read (in Index order: main terms and short paths first); ``relax``:
        how many with all words but one when few have all (0: none, and no entries of single words either)."""
        positive = [c for c in concepts if not c.negated and c.known]
        required = [c for c in positive if not c.weak] or positive
        if not required:
            return []
        if len(required) >= 3:
            # The Index leaves out "disease" where its subterm means it ("Hypertension, heart, with heart failure"):
            # the word ranks the entries that say it, it does not decide which are read.
            required = [c for c in required if c.stem not in GENERIC_CONDITION_STEMS] or required
        found: dict[int, None] = {}

        def run(expression: str, n: int) -> None:
            try:
                for (rowid,) in self.db.execute("SELECT rowid FROM alpha_fts WHERE alpha_fts MATCH ? LIMIT ?", (expression, n)):
                    found[rowid] = None
            except sqlite3.OperationalError:
                pass

        run(" AND ".join(c.fts for c in required), reach)
        if len(found) < 20 and len(required) >= 2 and relax:
            for i in range(len(required)):
                run(" AND ".join(c.fts for j, c in enumerate(required) if j != i), relax)
            if len(found) < 20 and relax >= 100:  # no entry has all but one of the words (two conditions): the rarest words' entries
                for c in sorted(required, key=lambda c: -c.weight)[:4]:
                    run(c.fts, 100)
        if not found:
            return []
        total = sum(c.weight for c in concepts if not c.weak) or 1.0
        everything = frozenset().union(*(c.words for c in concepts))
        scored = []
        for rowid, entry, words, negated, main, modifiers in self._entries(list(found)):
            source, code = entry.source, entry.code
            cover, penalty = 0.0, 0.0
            said = words - negated  # "Migraine, without aura" does not say aura
            for c in concepts:
                hit = not c.words.isdisjoint(said)
                if c.negated:
                    cover += c.weight if not c.words.isdisjoint(negated) else 0.0
                    penalty += 3.0 if not c.exact.isdisjoint(words) else 0.0
                elif hit:
                    factor = 1.0 if not c.exact.isdisjoint(said) else 0.7
                    cover += (0.0 if c.weak else c.weight * factor)
                    penalty -= 0.3 if not c.words.isdisjoint(main) else 0.0  # the main term is what the coder looks up
                elif not c.words.isdisjoint(negated):
                    penalty += 3.0
            extra = len(words - everything - modifiers)  # non-essential modifiers are no extra words
            score = 10.0 * cover / total - 0.25 * min(extra, 10) - penalty + (0.5 if code else -1.0)
            score -= 0.5 if source != "Index" else 0.0
            if source == "Drugs" and code:
                # A Table cell is in the column the query's words choose or it is not the coder's (Official
                # Guidelines I.C.19.e.5: poisoning, adverse effect, underdosing): "encounter for flu vaccine" is
                # not an underdosing of influenza vaccine.
                heading = set(text_stems(entry.path.rsplit(" → ", 1)[-1])[0])
                asked = column
                if asked == ("advers",) and "T51" <= code[:3] <= "T65":
                    asked = ("poison", "accident")  # a toxic effect ("bee sting reaction") has no adverse column
                if asked is None or not set(asked) <= heading:
                    score -= DRUG_COLUMN_COST
                    penalty += DRUG_COLUMN_COST
            scored.append((score, -rowid, cover / total - penalty / 10.0, entry))
        scored.sort(key=lambda s: (-s[0], -s[1]))
        return [(score, cover, entry) for score, _rowid, cover, entry in scored[:limit]]

    def _entries(self, rowids: list[int]) -> list[tuple[int, IndexEntry, frozenset[str], frozenset[str], frozenset[str],
                                                        frozenset[str]]]:
        """Index entries with their words as sets (path, negated, main term, modifiers), read and split once per
        process: the search asks the Index on every query."""
        def parse(rowid, source, path, code, see, path_s, neg_s, mod_s):  # type: ignore[no-untyped-def]
            main = " ".join(text_stems(path.split(" → ")[0])[0])
            return (rowid, IndexEntry(source, path, code, see), self._words(path_s), self._words(neg_s),
                    self._words(main), self._words(mod_s))

        cache = self._fill(self._alpha, 50_000, rowids, parse,
                           "SELECT rowid, source, path, code, see, path_s, neg_s, mod_s FROM alpha_index WHERE rowid IN ({marks})")
        return [row for r in rowids if (row := cache.get(r)) is not None]

    def releases(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())


# ------------------------------------------------------------------------------------------ CPT licence file
class CptFileError(Exception):
    """A CPT descriptor file was refused; ``problems`` has one line per bad row. Nothing was loaded."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
        self.problems = problems


def load_cpt(index_path: Path, csv_path: Path) -> int:
    """Load an institution's licensed CPT descriptors (columns: code, descriptor). All rows or none."""
    try:
        if not csv_path.is_file():
            raise CptFileError([f"{csv_path}: no such file (expected a CSV file with columns code,descriptor)"])
        if csv_path.stat().st_size > 50 * 1024 * 1024:
            raise CptFileError([f"{csv_path}: larger than 50 MB; the CPT code set is about 10,000 rows"])
        text = csv_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CptFileError([f"{csv_path}: cannot be read: {exc}"]) from exc
    reader = csv.DictReader(io.StringIO(text), strict=True)
    rows, problems = [], []
    first_line: dict[str, int] = {}
    try:
        columns = {c.strip().lower() for c in reader.fieldnames or []}
        if not {"code", "descriptor"} <= columns:
            raise CptFileError([f"{csv_path}: expected columns code and descriptor, found {', '.join(sorted(columns)) or 'none'}"])
        for raw in reader:
            n = reader.line_num
            r = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}
            code, descriptor = r.get("code", ""), r.get("descriptor", "")
            if not re.fullmatch(r"[0-9]{4}[0-9FTU]", code):
                problems.append(f"line {n}: code {code[:20]!r} is not a CPT code (5 characters, e.g. 99213)")
            elif not descriptor:
                problems.append(f"line {n}: code {code} has no descriptor")
            elif code in first_line:
                problems.append(f"line {n}: code {code} appears again (first on line {first_line[code]})")
            else:
                first_line[code] = n
                rows.append((code, descriptor))
    except csv.Error as exc:  # e.g. a quote that is never closed
        problems.append(f"line {reader.line_num}: not valid CSV: {exc}")
    if not rows and not problems:
        problems.append(f"{csv_path}: no rows")
    if problems:
        raise CptFileError(problems)
    db = sqlite3.connect(index_path)
    with db:
        db.execute("DELETE FROM cpt_licensed")
        db.executemany("INSERT OR REPLACE INTO cpt_licensed VALUES (?, ?)", rows)
    db.close()
    return len(rows)

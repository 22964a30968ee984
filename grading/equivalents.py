"""The same fact written another way: brand names, RxNorm clinical drugs, sig and reason abbreviations,
SNOMED CT problems, blood-pressure codes, units, NKDA phrasings. The knowledge is data
(``grading/equivalents.toml``); this module only reads it and applies it."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from grading import normalize as n

_WORD = re.compile(r"[a-z0-9]+(?:[./][a-z0-9]+)*|[&#%]")


@dataclass(frozen=True)
class Equivalents:
    drug_names: dict[str, str]  # any name a student may type (folded) -> ingredient (folded catalog name)
    drug_name_words: dict[str, tuple[tuple[str, ...], ...]]  # first word -> word tuples of names starting with it
    rxnorm_drugs: dict[str, str]  # RxNorm clinical-drug code -> ingredient
    strength_units: dict[str, tuple[str, float]]
    sig_phrases: dict[tuple[str, ...], tuple[str, ...]]
    reason_phrases: dict[tuple[str, ...], tuple[str, ...]]
    nkda_phrases: frozenset[str]
    nkda_codes: frozenset[str]
    allergens: dict[str, str]  # folded name -> canonical allergen
    snomed_to_icd: dict[str, frozenset[str]]  # SNOMED CT code -> ICD-10-CM codes (no dot) with that meaning
    bp_panels: frozenset[str]
    bp_systolic: str
    bp_diastolic: str
    vital_labels: dict[str, str]
    units: dict[str, str]  # folded unit as typed -> UCUM code


def words(value: Any) -> tuple[str, ...]:
    folded = n.text(value)
    return tuple(_WORD.findall(folded)) if folded else ()


def _phrases(table: dict[str, str]) -> dict[tuple[str, ...], tuple[str, ...]]:
    return {words(k): words(v) for k, v in table.items()}


@cache
def equivalents() -> Equivalents:
    data = tomllib.loads(resources.files("grading").joinpath("equivalents.toml").read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for ingredient, brands in data["brands"].items():
        key = " ".join(words(ingredient))
        names[key] = key
        for brand in brands:
            names.setdefault(" ".join(words(brand)), key)
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for name in names:
        w = tuple(name.split())
        by_first.setdefault(w[0], []).append(w)
    allergens: dict[str, str] = {}
    for allergen, others in data["allergy_synonyms"].items():
        allergens[" ".join(words(allergen))] = " ".join(words(allergen))
        for other in others:
            allergens[" ".join(words(other))] = " ".join(words(allergen))
    snomed: dict[str, set[str]] = {}
    for icd, concepts in data["snomed"].items():
        for concept in concepts:
            snomed.setdefault(concept, set()).add(icd.replace(".", "").upper())
    return Equivalents(
        drug_names=names,
        drug_name_words={k: tuple(sorted(v, key=len, reverse=True)) for k, v in by_first.items()},
        rxnorm_drugs={code: " ".join(words(name)) for code, name in data["rxnorm_clinical_drugs"].items()},
        strength_units={k.lower(): (v[0], float(v[1])) for k, v in data["strength_units"].items()},
        sig_phrases=_phrases(data["sig_phrases"]),
        reason_phrases=_phrases(data["reason_phrases"]),
        nkda_phrases=frozenset(" ".join(words(p)) for p in data["nkda"]["phrases"]),
        nkda_codes=frozenset(data["nkda"]["codes"]),
        allergens=allergens,
        snomed_to_icd={k: frozenset(v) for k, v in snomed.items()},
        bp_panels=frozenset(data["blood_pressure"]["panels"]),
        bp_systolic=data["blood_pressure"]["systolic"],
        bp_diastolic=data["blood_pressure"]["diastolic"],
        vital_labels=dict(data["vital_labels"]),
        units={k.lower(): v for k, v in data["unit_aliases"].items()},
    )


def ingredient(name: Any) -> str | None:
    """The catalog ingredient a drug name starts with ('Lipitor 20 mg tablet' -> 'atorvastatin'), else None."""
    return _ingredient(name) if isinstance(name, str) else None


@lru_cache(maxsize=4096)
def _ingredient(name: str) -> str | None:
    w = words(name)
    if not w:
        return None
    eq = equivalents()
    for candidate in eq.drug_name_words.get(w[0], ()):
        if w[: len(candidate)] == candidate:
            return eq.drug_names[" ".join(candidate)]
    return None


def _canonical(tokens: tuple[str, ...], table: dict[tuple[str, ...], tuple[str, ...]], longest: int) -> tuple[str, ...]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for size in range(min(longest, len(tokens) - i), 0, -1):
            replacement = table.get(tokens[i:i + size])
            if replacement is not None:
                out += replacement
                i += size
                break
        else:
            out.append(tokens[i])
            i += 1
    return tuple(out)


@cache
def _longest(kind: str) -> int:
    table = equivalents().sig_phrases if kind == "sig" else equivalents().reason_phrases
    return max(len(k) for k in table)


def sig_words(text: Any) -> tuple[str, ...]:
    """A sig in canonical words: '1 tab by mouth twice daily' and '1 tablet PO BID' -> ('1', 'tablet', 'po', 'bid')."""
    return _sig_words(text) if isinstance(text, str) else ()


@lru_cache(maxsize=4096)
def _sig_words(text: str) -> tuple[str, ...]:
    return _canonical(words(text), equivalents().sig_phrases, _longest("sig"))


def reason_words(text: Any) -> tuple[str, ...]:
    """A reason for visit in canonical words ('f/u HTN' = 'follow-up hypertension')."""
    return _reason_words(text) if isinstance(text, str) else ()


@lru_cache(maxsize=4096)
def _reason_words(text: str) -> tuple[str, ...]:
    return _canonical(words(text), equivalents().reason_phrases, _longest("reason"))


def is_nkda(concept: Any) -> bool:
    if not isinstance(concept, dict):
        return False
    eq = equivalents()
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and coding.get("code") in eq.nkda_codes:
            return True
    return any(" ".join(words(t)) in eq.nkda_phrases for t in (concept.get("text"),
               *(c.get("display") for c in concept.get("coding") or [] if isinstance(c, dict))) if isinstance(t, str))


def allergen(text: Any) -> str | None:
    key = " ".join(words(text))
    return equivalents().allergens.get(key) if key else None


def unit(value: Any) -> str | None:
    """The UCUM code of a unit as typed or printed ('mL/min/1.73m²' -> 'mL/min/{1.73_m2}'), else None."""
    if not isinstance(value, str):
        return None
    return equivalents().units.get(value.strip().lower())

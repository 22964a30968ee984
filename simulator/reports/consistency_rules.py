"""The consistency rules: one pure function per kind of discrepancy between a patient's visits.

Each rule takes the charts of a record (``consistency_record.read_record``) and what it needs to know
about drugs, labs and conditions (``Knowledge``), and returns what it finds, in words. No rule reads
a database, a clock or a random source, so a reference run over a planted record is repeatable and
the rules can be tested one by one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from simulator.reports.consistency_record import Chart, Visit

# The kinds a student can record (category codes) and how an HIM instructor would name them.
DISCREPANCY_KINDS: dict[str, str] = {
    "dob-mismatch": "Date of birth differs between visits",
    "sex-mismatch": "Sex differs between visits",
    "name-spelling": "Name spelt two ways",
    "duplicate-chart": "Two charts for one person",
    "allergy-conflict": "Drug prescribed despite a recorded allergy",
    "vanished-problem": "Chronic problem vanished without being resolved",
    "undocumented-dose-change": "Dose changed with no note",
    "active-after-stop": "Medication active after its stop date",
    "height-loss": "Implausible height loss",
    "implausible-weight": "Implausible weight change",
    "lab-unit": "Lab result with the wrong unit for its test",
    "unsupported-diagnosis": "Visit diagnosis not supported by the note",
    "copy-forward": "Copied-forward text contradicts the day's findings",
}
# Changes between visits that are normal and must not be flagged.
LEGITIMATE_CHANGES: dict[str, str] = {
    "weight-drift": "Gradual weight change",
    "resolved-acute-problem": "Acute problem resolved",
    "new-medication-with-note": "New medication, with a note",
    "explained-dose-change": "Dose change the note explains",
    "address-move": "New address after a move",
}
SYSTEM = "https://hitsim.org/fhir/CodeSystem/consistency-discrepancy"

HEIGHT_LOSS_CM = 4.0  # adults lose ~1 cm a decade; 4 cm between two visits is a measuring or typing error
WEIGHT_BASE_KG, WEIGHT_PER_MONTH_KG = 5.0, 2.0  # day-to-day swing + what a diet or illness can do per month


def weight_change_allowed(days: int) -> float:
    """The largest weight change (kg) we accept between two visits ``days`` apart."""
    return WEIGHT_BASE_KG + WEIGHT_PER_MONTH_KG * max(days, 0) / 30.4


@dataclass(frozen=True)
class Discrepancy:
    kind: str
    visits: tuple[str, ...]  # Encounter ids involved, oldest first
    detail: str  # the discrepancy in words, for the student's feedback


@dataclass(frozen=True)
class Knowledge:
    """What the rules need to know beyond the record: drug classes, allergies' classes, lab units, condition words."""

    drug_classes: dict[str, frozenset[str]]  # RxNorm code or lower-case drug name -> classes
    allergy_avoids: dict[str, frozenset[str]]  # RxNorm code or lower-case substance -> classes to avoid
    lab_units: dict[str, str]  # LOINC -> UCUM unit the test is reported in
    condition_words: dict[str, frozenset[str]]  # ICD-10-CM code -> names and abbreviations a note may use


@cache
def catalog_knowledge() -> Knowledge:
    """Knowledge from hitsim's clinical catalog (the generator's own facts)."""
    from simulator.clinical import load_catalog

    cat = load_catalog()
    drugs: dict[str, frozenset[str]] = {}
    for med in cat.medications.values():
        classes = frozenset(med.classes) | {med.name.lower()}
        drugs[med.rxnorm] = drugs[med.name.lower()] = classes
    avoids: dict[str, frozenset[str]] = {}
    for allergy in cat.allergies.values():
        avoid = frozenset(allergy.avoid) | {allergy.substance.lower()}
        avoids[allergy.rxnorm] = avoids[allergy.substance.lower()] = avoid
    words: dict[str, set[str]] = {}
    for cond in cat.conditions.values():
        names = {cond.key.replace("-", " ")} | ({cond.abbrev} if cond.abbrev else set())
        for v in cond.variants:
            for code in v.codes:
                words.setdefault(code, set()).update(names | {v.name})
        for combo in cond.combine:
            for code in combo.codes:
                words.setdefault(code, set()).update(names | {combo.name})
    return Knowledge(drugs, avoids, {lab.loinc: lab.unit for lab in cat.labs.values()},
                     {code: frozenset(w) for code, w in words.items()})


def _day(iso: str) -> str:
    try:
        return f"{dt.date.fromisoformat(iso):%m/%d/%Y}"
    except ValueError:
        return iso or "(blank)"


def _months(a: Visit, b: Visit) -> str:
    days = (b.date - a.date).days
    if days < 45:
        return f"{days} days"
    months = round(days / 30.4)
    return f"{months} month{'s' if months != 1 else ''}"


def _odd_ones_out(chart: Chart, value: Callable[[Visit], str]) -> list[tuple[Visit, Visit]]:
    """(reference visit, odd visit) for every visit whose value differs from the chart's usual one."""
    counts = Counter(value(v) for v in chart.visits)
    if len(counts) < 2:
        return []
    usual = max(counts, key=lambda x: (counts[x], -next(i for i, v in enumerate(chart.visits) if value(v) == x)))
    out = []
    for i, v in enumerate(chart.visits):
        if value(v) != usual:
            ref = next(w for w in (chart.visits[i - 1:i] + chart.visits[i + 1:]) if value(w) == usual) \
                if any(value(w) == usual for w in chart.visits[i - 1:i]) else next(
                    w for w in chart.visits if value(w) == usual)
            out.append((ref, v))
    return out


def _pair(ref: Visit, odd: Visit) -> tuple[str, ...]:
    return tuple(v.encounter_id for v in sorted((ref, odd), key=lambda v: v.date))


# ---------------------------------------------------------------------------- demographics
def dob_mismatch(charts: Sequence[Chart], _k: Knowledge) -> list[Discrepancy]:
    return [Discrepancy("dob-mismatch", _pair(ref, odd),
                        f"Date of birth: {ref.label} says {_day(ref.birth_date)}, {odd.label} says "
                        f"{_day(odd.birth_date)} — one person has one birth date; a registration error")
            for c in charts for ref, odd in _odd_ones_out(c, lambda v: v.birth_date)]


def sex_mismatch(charts: Sequence[Chart], _k: Knowledge) -> list[Discrepancy]:
    return [Discrepancy("sex-mismatch", _pair(ref, odd),
                        f"Sex: {ref.label} says {ref.sex}, {odd.label} says {odd.sex} — a registration error")
            for c in charts for ref, odd in _odd_ones_out(c, lambda v: v.sex)]


def name_spelling(charts: Sequence[Chart], _k: Knowledge) -> list[Discrepancy]:
    return [Discrepancy("name-spelling", _pair(ref, odd),
                        f"Name: {ref.label} says {ref.name}, {odd.label} says {odd.name} — the same patient "
                        f"spelt two ways")
            for c in charts for ref, odd in _odd_ones_out(c, lambda v: f"{v.family}|{v.given}".casefold())]


NICKNAMES = {
    "william": {"bill", "will", "billy", "liam"}, "robert": {"bob", "rob", "bobby"}, "richard": {"rick", "dick", "rich"},
    "james": {"jim", "jimmy", "jamie"}, "john": {"jack", "johnny"}, "joseph": {"joe", "joey"},
    "michael": {"mike", "mikey"}, "thomas": {"tom", "tommy"}, "charles": {"charlie", "chuck"},
    "christopher": {"chris"}, "daniel": {"dan", "danny"}, "matthew": {"matt"}, "anthony": {"tony"},
    "donald": {"don"}, "steven": {"steve"}, "kenneth": {"ken", "kenny"}, "edward": {"ed", "eddie", "ted"},
    "elizabeth": {"liz", "beth", "betty", "eliza"}, "margaret": {"maggie", "peggy", "meg"},
    "katherine": {"kate", "kathy", "katie"}, "catherine": {"cathy", "kate"}, "jennifer": {"jen", "jenny"},
    "patricia": {"pat", "patty", "tricia"}, "susan": {"sue", "susie"}, "deborah": {"deb", "debbie"},
    "barbara": {"barb"}, "jessica": {"jess"}, "rebecca": {"becky"}, "samantha": {"sam"}, "alexander": {"alex"},
    "benjamin": {"ben"}, "nicholas": {"nick"}, "jonathan": {"jon"}, "timothy": {"tim"}, "gregory": {"greg"},
    "victoria": {"vicky", "tori"}, "christina": {"tina", "chris"}, "kimberly": {"kim"}, "pamela": {"pam"},
    "andrew": {"andy", "drew"}, "joshua": {"josh"}, "david": {"dave"}, "samuel": {"sam"}, "zachary": {"zach"},
}
_NICK_OF = {nick: formal for formal, nicks in NICKNAMES.items() for nick in nicks}


def same_first_name(a: str, b: str) -> bool:
    """The same given name, or a nickname of it (Bill for William)."""
    a, b = a.split(" ")[0].casefold(), b.split(" ")[0].casefold()
    return a == b or _NICK_OF.get(a, a) == _NICK_OF.get(b, b)


def dates_one_slip_apart(a: str, b: str) -> bool:
    """Two dates whose digits differ by one changed digit or two swapped neighbours (1962 typed 1926)."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                              and a[diff[1]] == b[diff[0]])


def _usual(chart: Chart) -> Visit:
    """The chart's usual registration: the visit whose name, birth date and sex most visits share."""
    counts = Counter((v.family.casefold(), v.given.casefold(), v.birth_date, v.sex) for v in chart.visits)
    best = max(counts.values())
    return next(v for v in chart.visits if counts[(v.family.casefold(), v.given.casefold(), v.birth_date, v.sex)] == best)


def duplicate_chart(charts: Sequence[Chart], _k: Knowledge) -> list[Discrepancy]:
    found = []
    usual = [_usual(c) for c in charts]
    for i, a in enumerate(charts):
        for j in range(i + 1, len(charts)):
            b, va, vb = charts[j], usual[i], usual[j]
            if va.family.casefold() != vb.family.casefold() or va.sex != vb.sex:
                continue
            same_dob, same_name = va.birth_date == vb.birth_date, same_first_name(va.given, vb.given)
            if (same_dob and same_name) or (same_name and dates_one_slip_apart(va.birth_date, vb.birth_date)):
                why = "the same birth date" if same_dob else (
                    f"birth dates one slip apart ({_day(va.birth_date)} and {_day(vb.birth_date)})")
                found.append(Discrepancy(
                    "duplicate-chart", tuple(v.encounter_id for v in (*a.visits, *b.visits)),
                    f"MRN {a.mrn} ({va.name}) and MRN {b.mrn} ({vb.name}): same last name, sex and first name "
                    f"{'' if va.given == vb.given else '(a nickname) '}with {why} — one person registered twice"))
    return found


# ---------------------------------------------------------------------------- problems and medications
def _allergy_classes(allergy_substance: str, rxnorm: str, k: Knowledge) -> frozenset[str]:
    return k.allergy_avoids.get(rxnorm) or k.allergy_avoids.get(allergy_substance.casefold(), frozenset())


def _drug_classes(name: str, rxnorm: str, k: Knowledge) -> frozenset[str]:
    return k.drug_classes.get(rxnorm) or k.drug_classes.get(name.casefold(), frozenset({name.casefold()}))


def allergy_conflict(charts: Sequence[Chart], k: Knowledge) -> list[Discrepancy]:
    found = []
    for c in charts:
        seen: set[tuple[str, str]] = set()
        for v in c.visits:
            for med in v.medications:
                if med.status != "active":
                    continue
                for allergy in v.allergies:
                    avoid = _allergy_classes(allergy.substance, allergy.rxnorm, k)
                    if avoid & _drug_classes(med.name, med.rxnorm, k) and (med.name, allergy.substance) not in seen:
                        seen.add((med.name, allergy.substance))
                        found.append(Discrepancy("allergy-conflict", (v.encounter_id,),
                                                 f"{v.label.capitalize()}: {med.text} is listed as active while the "
                                                 f"chart records an allergy to {allergy.substance}"))
    return found


def vanished_problem(charts: Sequence[Chart], _k: Knowledge) -> list[Discrepancy]:
    found = []
    for c in charts:
        for prev, cur in zip(c.visits, c.visits[1:], strict=False):
            codes_now = {p.code for p in cur.problems}
            for p in prev.problems:
                if p.status == "active" and p.code not in codes_now:
                    found.append(Discrepancy("vanished-problem", (prev.encounter_id, cur.encounter_id),
                                             f"{p.text} is active on the problem list at {prev.label} and gone at "
                                             f"{cur.label}, with no resolution recorded"))
    return found


_STRENGTH = re.compile(r"\d+(?:\.\d+)?\s*(?:mg|mcg|g|units|%|mL)\b", re.IGNORECASE)


def strength_of(text: str) -> str:
    match = _STRENGTH.search(text)
    return match.group(0) if match else text


def note_orders(note: str, drug: str, strength: str) -> bool:
    """Whether the visit's note orders this drug at this strength (a change the note documents: "Rx: Lisinopril
    20 mg ...", "increase lisinopril from 10 mg to 20 mg")."""
    plain = " ".join(note.lower().split())
    name, dose = drug.lower(), " ".join(strength.lower().split())
    exact = re.compile(r"(?<![\d.])" + re.escape(dose) + r"\b")
    return any(exact.search(plain[at:at + len(name) + 60]) for at in _find_all(plain, name))


def _find_all(text: str, word: str) -> list[int]:
    found, at = [], text.find(word)
    while at >= 0:
        found.append(at)
        at = text.find(word, at + 1)
    return found


def undocumented_dose_change(charts: Sequence[Chart], _k: Knowledge) -> list[Discrepancy]:
    found = []
    for c in charts:
        for prev, cur in zip(c.visits, c.visits[1:], strict=False):
            before = {m.name: m for m in prev.medications if m.status == "active"}
            for m in cur.medications:
                old = before.get(m.name)
                if (old is None or m.status != "active" or strength_of(old.text) == strength_of(m.text) or m.note.strip()
                        or note_orders(cur.note, m.name, strength_of(m.text))):
                    continue
                found.append(Discrepancy("undocumented-dose-change", (prev.encounter_id, cur.encounter_id),
                                         f"{m.name}: {strength_of(old.text)} at {prev.label}, {strength_of(m.text)} "
                                         f"at {cur.label}, and no note says why"))
    return found


def active_after_stop(charts: Sequence[Chart], _k: Knowledge) -> list[Discrepancy]:
    found = []
    for c in charts:
        seen: set[str] = set()
        for v in c.visits:
            for m in v.medications:
                if m.status == "active" and m.end and m.end < v.date.isoformat() and m.name not in seen:
                    seen.add(m.name)
                    found.append(Discrepancy("active-after-stop", (v.encounter_id,),
                                             f"{v.label.capitalize()}: {m.text} is listed as active, but it was "
                                             f"stopped on {_day(m.end)}"))
    return found


# ---------------------------------------------------------------------------- measurements
def height_loss(charts: Sequence[Chart], _k: Knowledge) -> list[Discrepancy]:
    found = []
    for c in charts:
        for prev, cur in zip(c.visits, c.visits[1:], strict=False):
            a, b = prev.height_cm(), cur.height_cm()
            if a is not None and b is not None and a - b >= HEIGHT_LOSS_CM:
                hp, hc = prev.vital("8302-2"), cur.vital("8302-2")
                assert hp is not None and hc is not None
                found.append(Discrepancy("height-loss", (prev.encounter_id, cur.encounter_id),
                                         f"{cur.label.capitalize()} height {hc.shown()} vs {prev.label} {hp.shown()}: "
                                         f"a {a - b:.0f} cm loss in {_months(prev, cur)} — a measuring or "
                                         f"transcription error"))
    return found


def implausible_weight(charts: Sequence[Chart], _k: Knowledge) -> list[Discrepancy]:
    found: list[Discrepancy] = []
    for c in charts:
        flagged: list[tuple[int, float]] = []  # (index of the later visit, signed change)
        for i in range(1, len(c.visits)):
            prev, cur = c.visits[i - 1], c.visits[i]
            a, b = prev.weight_kg(), cur.weight_kg()
            if a is not None and b is not None and abs(b - a) > weight_change_allowed((cur.date - prev.date).days):
                flagged.append((i, b - a))
        i = 0
        while i < len(flagged):
            at, change = flagged[i]
            # One wrong weight shows as a jump there and back: one discrepancy, three visits.
            if i + 1 < len(flagged) and flagged[i + 1][0] == at + 1 and (flagged[i + 1][1] > 0) != (change > 0):
                visits = c.visits[at - 1:at + 2]
                i += 2
            else:
                visits = c.visits[at - 1:at + 1]
                i += 1
            odd = visits[1]
            wp, wo = visits[0].vital("29463-7"), odd.vital("29463-7")
            assert wp is not None and wo is not None
            found.append(Discrepancy("implausible-weight", tuple(v.encounter_id for v in visits),
                                     f"{odd.label.capitalize()} weight {wo.shown()} vs {visits[0].label} {wp.shown()}: "
                                     f"a change of {abs(change):.0f} kg in {_months(visits[0], odd)} is not plausible "
                                     f"— a unit or typing error"))
    return found


def lab_unit(charts: Sequence[Chart], k: Knowledge) -> list[Discrepancy]:
    found = []
    for c in charts:
        for v in c.visits:
            for lab in v.labs:
                expected = k.lab_units.get(lab.loinc)
                if expected is not None and lab.unit_code != expected:
                    found.append(Discrepancy("lab-unit", (v.encounter_id,),
                                             f"{v.label.capitalize()}: {lab.name} {lab.shown()} — this test is "
                                             f"reported in {expected}, not {lab.unit_code}"))
    return found


# ---------------------------------------------------------------------------- the note
_GENERIC = {"unspecified", "without", "complications", "other", "chronic", "acute", "disorder", "disease", "type",
            "with", "mellitus", "essential", "primary", "due", "the", "and", "of", "in", "for", "site", "not",
            "elsewhere", "classified", "encounter", "general", "adult", "stage"}


def supported_by_note(code: str, text: str, note: str, k: Knowledge) -> bool:
    """Whether the note names the diagnosis: its words, a catalog name or abbreviation for the code."""
    low = note.casefold()
    for phrase in {text, *k.condition_words.get(code, frozenset())}:
        phrase = phrase.strip()
        if not phrase:
            continue
        if phrase.isupper() and len(phrase) <= 6:
            if re.search(rf"\b{re.escape(phrase)}\b", note):
                return True
        elif phrase.casefold() in low:
            return True
    words = {w for w in re.findall(r"[a-z]+", text.casefold()) if len(w) >= 4 and w not in _GENERIC}
    return bool(words) and sum(w in low for w in words) * 2 >= len(words)


def unsupported_diagnosis(charts: Sequence[Chart], k: Knowledge) -> list[Discrepancy]:
    found = []
    for c in charts:
        for v in c.visits:
            for d in v.diagnoses:
                # Chapter 21 Z codes (status, long-term drug use, BMI) are supported by other sections, not the
                # assessment (ICD-10-CM Official Guidelines I.C.21).
                if d.code.startswith("Z") or not v.note or supported_by_note(d.code, d.text, v.note, k):
                    continue
                found.append(Discrepancy("unsupported-diagnosis", (v.encounter_id,),
                                         f"{v.label.capitalize()}: the diagnosis {d.text} ({d.code}) is not "
                                         f"mentioned anywhere in that visit's note"))
    return found


_NOTE_BP = re.compile(r"\bBP:?\s*(\d{2,3})\s*/\s*(\d{2,3})\b")


def copy_forward(charts: Sequence[Chart], _k: Knowledge) -> list[Discrepancy]:
    found = []
    for c in charts:
        for i, v in enumerate(c.visits):
            match = _NOTE_BP.search(v.note)
            if match is None or v.blood_pressure is None:
                continue
            written = (int(match.group(1)), int(match.group(2)))
            if written == v.blood_pressure:
                continue
            prev = c.visits[i - 1] if i else None
            source = (f" — it is {prev.label}'s reading, copied forward" if prev and prev.blood_pressure == written
                      else "")
            found.append(Discrepancy("copy-forward", (v.encounter_id,),
                                     f"{v.label.capitalize()}: the note says BP {written[0]}/{written[1]}, but the "
                                     f"BP measured that day was {v.blood_pressure[0]}/{v.blood_pressure[1]}{source}"))
    return found


RULES: dict[str, Callable[[Sequence[Chart], Knowledge], list[Discrepancy]]] = {
    "dob-mismatch": dob_mismatch, "sex-mismatch": sex_mismatch, "name-spelling": name_spelling,
    "duplicate-chart": duplicate_chart, "allergy-conflict": allergy_conflict, "vanished-problem": vanished_problem,
    "undocumented-dose-change": undocumented_dose_change, "active-after-stop": active_after_stop,
    "height-loss": height_loss, "implausible-weight": implausible_weight, "lab-unit": lab_unit,
    "unsupported-diagnosis": unsupported_diagnosis, "copy-forward": copy_forward,
}
assert set(RULES) == set(DISCREPANCY_KINDS)


def run_all(charts: Sequence[Chart], knowledge: Knowledge | None = None) -> list[Discrepancy]:
    """The reference run: every rule over the record."""
    k = knowledge or catalog_knowledge()
    return [d for rule in RULES.values() for d in rule(charts, k)]

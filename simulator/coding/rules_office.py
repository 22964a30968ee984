"""Coding rules of the office case mix: pregnancy, newborn checkups and the global obstetric package.

Pure functions over the documented facts (``VisitFacts``) and the catalog, called from ``rules.py``. Each cites
the ICD-10-CM Official Guidelines (FY2026) or the CPT guideline it applies; the Tabular's own notes are read
through ``simulator.coding.tabular``. Skin lesions, neoplasms, eye, blood and HIV need no code of their own
here: their codes are catalog data (site, laterality, behaviour from the pathology report, "code first"
pairs the Tabular sequences), and their procedures are catalog procedures (excised diameter, add-on codes).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from simulator.coding import tabular

if TYPE_CHECKING:
    from simulator.clinical import Condition
    from simulator.coding.rules import VisitFacts

# Chapter 15's trimesters, counted from the first day of the last menstrual period (Tabular, Chapter 15
# note; Guidelines I.C.15.a.3): 1st less than 14 weeks 0 days, 2nd 14w0d to less than 28w0d, 3rd 28w0d on.
SECOND_TRIMESTER_WEEKS = 14
THIRD_TRIMESTER_WEEKS = 28
NEWBORN_EXAMS = ("Z00.110", "Z00.111")  # under 8 days old, 8 to 28 days old


def trimester(gestation_days: int) -> int:
    weeks = gestation_days // 7
    return 1 if weeks < SECOND_TRIMESTER_WEEKS else 2 if weeks < THIRD_TRIMESTER_WEEKS else 3


def trimester_codes(condition: Condition, codes: tuple[str, ...], gestation_days: int | None) -> tuple[str, ...]:
    """The final character of most Chapter 15 codes (and of Z34) is the trimester of the encounter date, not
    of the onset (Guidelines I.C.15.a.3). The catalog names the stems (``by_trimester``); its variant holds
    the first-trimester code."""
    if gestation_days is None or not condition.by_trimester:
        return codes
    digit = str(trimester(gestation_days))
    return tuple(code[:-1] + digit if code[:-1] in condition.by_trimester else code for code in codes)


def weeks_of_gestation_code(gestation_days: int) -> str:
    """Z3A by completed weeks: 23 weeks 6 days is Z3A.23; under 8 weeks Z3A.01, over 42 weeks Z3A.49."""
    weeks = gestation_days // 7
    if weeks < 8:
        return "Z3A.01"
    if weeks > 42:
        return "Z3A.49"
    return f"Z3A.{weeks:02d}"


def chapter15(code: str) -> bool:
    return code.startswith("O")


def superseded_supervision(codes: list[str]) -> set[str]:
    """Z34 (supervision of normal pregnancy) is for routine prenatal visits without complications and is not
    used together with Chapter 15 codes (Guidelines I.C.15.b.1, I.C.21.c.11): with any O-code on the claim it goes."""
    if any(chapter15(c) for c in codes):
        return {c for c in codes if c.startswith("Z34")}
    return set()


def weeks_of_gestation(facts: VisitFacts, required: list[str], coded: list[str]) -> tuple[str, str, bool] | None:
    """Z3A, weeks of gestation, on the mother's record (Guidelines I.C.15.d). Required
    when a required Chapter 15 code's note asks for it (Chapter 15: "use additional code, if applicable, from
    category Z3A"); with Z34 alone no note asks for it and Z3A's own note names only O09-O9A, so it is optional
    there. Never with Z33.1: an incidental pregnancy has no Chapter 15 code (I.C.15.a.1)."""
    if facts.gestation_days is None:
        return None
    code = weeks_of_gestation_code(facts.gestation_days)
    weeks, days = divmod(facts.gestation_days, 7)
    text = f"{weeks} weeks {days} days gestation"
    if any(tabular.asks_for(c, code) for c in required):
        return code, text, False
    if any(chapter15(c) or c.startswith("Z34") for c in coded):
        return code, text, True
    return None


def newborn_exam_codes(condition: Condition, codes: tuple[str, ...], age_days: int | None) -> tuple[str, ...]:
    """A newborn's health examination is Z00.110 under 8 days old and Z00.111 from 8 to 28 days old, whatever
    it finds: the findings follow it (Z00.11-'s "use additional code to identify any abnormal findings").
    After 28 days it is a routine child health examination, Z00.121 with abnormal findings (coded after it)
    or Z00.129 without (Tabular Z00.1-; Guidelines I.C.21.c.13). Z38 (liveborn infant) is only for the birth
    episode itself (I.C.16.a.2, I.C.21.c.12), never on these office visits."""
    if age_days is None or "newborn-exam" not in condition.tags:
        return codes
    findings = len(codes) > 1
    exam = NEWBORN_EXAMS[0] if age_days < 8 else NEWBORN_EXAMS[1] if age_days <= 28 else \
        "Z00.121" if findings else "Z00.129"
    return tuple(exam if c in (*NEWBORN_EXAMS, "Z00.121", "Z00.129") else c for c in codes)


def finding_at_checkup(condition: str, coded: list[tuple[str, str]]) -> str | None:
    """A test done at a checkup for a finding (a bilirubin for jaundice) points to the finding, not to the
    examination code (CMS-1500 item 24E: the diagnosis that justifies the service)."""
    own = [code for key, code in coded if key == condition]
    if len(own) > 1 and own[0].startswith("Z00"):
        return own[1]
    return None


def age_in_days(facts: VisitFacts) -> int | None:
    return (facts.date - facts.birth_date).days if facts.birth_date else None


def routine_antepartum(facts: VisitFacts) -> tuple[str, str] | None:
    """Routine prenatal visits belong to the global obstetric package (CPT 59400 / 59510 / 59610: antepartum
    care, delivery and postpartum care, reported once after the delivery; CPT Maternity Care and Delivery
    guidelines). The practice does not report each routine visit as an E/M; it reports it with the CPT
    Category II tracking code, 0500F at the initial prenatal visit and 0502F at each later one (no charge).
    A visit for a complication of pregnancy (a UTI, anaemia) is outside routine antepartum care and gets its
    own E/M (CPT Maternity Care guidelines, "medical problems complicating pregnancy")."""
    reason = next((p for p in facts.problems if p.role == "reason"), None)
    if (reason is None or facts.gestation_days is None or facts.setting != "office" or facts.preventive
            or "pregnancy" not in reason.condition.tags):
        return None
    lmp = facts.date - dt.timedelta(days=facts.gestation_days)
    if facts.last_seen is None or facts.last_seen < lmp:
        return "0500F", "Initial prenatal visit"
    return "0502F", "Routine prenatal visit"

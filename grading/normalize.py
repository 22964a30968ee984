"""Normalisers: bring two ways of writing the same fact to one form before comparing them."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

USPS = {
    "STREET": "ST", "AVENUE": "AVE", "ROAD": "RD", "DRIVE": "DR", "LANE": "LN", "BOULEVARD": "BLVD",
    "COURT": "CT", "PLACE": "PL", "TERRACE": "TER", "PARKWAY": "PKWY", "HIGHWAY": "HWY", "CIRCLE": "CIR",
    "SQUARE": "SQ", "TRAIL": "TRL", "APARTMENT": "APT", "SUITE": "STE", "NORTH": "N", "SOUTH": "S",
    "EAST": "E", "WEST": "W", "MOUNT": "MT", "FORT": "FT", "CROSSING": "XING", "EXPRESSWAY": "EXPY",
    "FREEWAY": "FWY", "HEIGHTS": "HTS", "JUNCTION": "JCT", "MOUNTAIN": "MTN", "POINT": "PT", "STATION": "STA",
    "TURNPIKE": "TPKE", "VALLEY": "VLY", "VIEW": "VW", "VILLAGE": "VLG", "CENTER": "CTR", "CREEK": "CRK",
    "ESTATES": "EST", "GARDENS": "GDNS", "HARBOR": "HBR", "ISLAND": "IS", "LAKE": "LK", "MEADOWS": "MDWS",
    "PLAZA": "PLZ", "RIDGE": "RDG", "SPRINGS": "SPGS", "UNIT": "UNIT", "FLOOR": "FL", "BUILDING": "BLDG",
}
SEX = {"m": "male", "male": "male", "f": "female", "female": "female", "o": "other", "other": "other",
       "u": "unknown", "unknown": "unknown", "x": "other"}


def text(value: Any) -> str | None:
    """Case, spacing and accents do not matter: 'Café  au-Lait' -> 'cafe au-lait'."""
    if not isinstance(value, str):
        return None
    if not value.isascii():  # only non-ASCII text has accents to fold
        value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    return " ".join(value.split()).lower() or None


def name(value: Any) -> str | None:
    """Names: case, spaces, hyphens, apostrophes and diacritics do not matter ('Smith-Jones' = 'smith jones')."""
    folded = text(value)
    return re.sub(r"[^a-z0-9]", "", folded) if folded else None


def words(value: Any) -> list[str]:
    folded = text(value)
    return re.findall(r"[a-z0-9]+(?:\.[0-9]+)?", folded) if folded else []


def phone(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    digits = re.sub(r"\D", "", value.split("x")[0].split("ext")[0])
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits or None


def address(value: Any) -> str | None:
    folded = text(value)
    if not folded:
        return None
    tokens = re.findall(r"[a-z0-9]+|#", folded.upper().lower())
    out = []
    for token in tokens:
        upper = token.upper()
        out.append("APT" if upper == "#" else USPS.get(upper, upper))
    return " ".join(out)


def sex(value: Any) -> str | None:
    folded = text(value)
    return SEX.get(folded) if folded else None


def code(value: Any) -> str | None:
    """Codes: case, spaces and the dot do not matter ('e11.9' = 'E119')."""
    if not isinstance(value, str):
        return None
    return "".join(value.split()).replace(".", "").upper() or None


_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})$")
_LONG_DATE = re.compile(r"^(\d{1,2}) ([A-Za-z]{3})[a-z]* (\d{4})$")


def date(value: Any) -> dt.date | None:
    """A calendar date from FHIR date/dateTime or a common printed form (03/14/1962, 14 Mar 1962)."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    try:
        if len(value) >= 10 and value[4] == "-":
            return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
    match = _US_DATE.match(value)
    if match:
        month, day, year = (int(g) for g in match.groups())
        if year < 100:
            year += 1900 if year > 30 else 2000
        try:
            return dt.date(year, month, day)
        except ValueError:
            return None
    match = _LONG_DATE.match(value)
    if match:
        try:
            return dt.datetime.strptime(f"{match.group(1)} {match.group(2).title()} {match.group(3)}", "%d %b %Y").date()
        except ValueError:
            return None
    return None


def moment(value: Any) -> dt.datetime | None:
    """A FHIR dateTime as an aware instant ('…T10:00:00+00:00' = '…T10:00:00Z'); None without a time."""
    if not isinstance(value, str) or len(value) <= 10:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def local_time(value: Any) -> str | None:
    """The wall-clock time as written ('10:30'), for comparing visit times."""
    if isinstance(value, str) and len(value) >= 16 and value[10] == "T":
        return value[11:16]
    return None


def number(value: Any) -> Decimal | None:
    """FHIR decimals: 0.50 = 0.5; booleans and text are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        return Decimal(str(value)).normalize()
    except InvalidOperation:
        return None


# unit -> (kind, factor to the canonical unit, offset) ; canonical: kg, cm, Cel, mg
_UNITS: dict[str, tuple[str, float, float]] = {
    "kg": ("mass", 1.0, 0.0), "g": ("mass", 0.001, 0.0), "mg": ("mass", 1e-6, 0.0),
    "[lb_av]": ("mass", 0.45359237, 0.0), "lb": ("mass", 0.45359237, 0.0), "lbs": ("mass", 0.45359237, 0.0),
    "cm": ("length", 1.0, 0.0), "m": ("length", 100.0, 0.0), "mm": ("length", 0.1, 0.0),
    "[in_i]": ("length", 2.54, 0.0), "in": ("length", 2.54, 0.0),
    "cel": ("temperature", 1.0, 0.0), "c": ("temperature", 1.0, 0.0), "°c": ("temperature", 1.0, 0.0),
    "[degf]": ("temperature", 5 / 9, -32.0), "f": ("temperature", 5 / 9, -32.0), "°f": ("temperature", 5 / 9, -32.0),
}
TOLERANCE_KEYS = {"mass": "weight_kg", "length": "height_cm", "temperature": "temperature_c"}


def quantity(q: Any) -> tuple[str, float] | None:
    """(unit kind or unit code, value in the canonical unit) for a FHIR Quantity."""
    if not isinstance(q, dict):
        return None
    value = number(q.get("value"))
    if value is None:
        return None
    unit = q.get("code") or q.get("unit") or ""
    if not isinstance(unit, str):
        return None
    known = _UNITS.get(unit.strip().lower())
    if known is None:
        from grading.equivalents import unit as ucum  # 'mL/min/1.73m²' as printed = 'mL/min/{1.73_m2}'

        return (ucum(unit) or unit.strip(), float(value))
    kind, factor, offset = known
    return (kind, (float(value) + offset) * factor)


def same_quantity(a: tuple[str, float] | None, b: tuple[str, float] | None, tolerances: dict[str, float]) -> bool:
    if a is None or b is None or a[0] != b[0]:
        return False
    key = TOLERANCE_KEYS.get(a[0])
    if key is not None:
        return abs(a[1] - b[1]) <= tolerances[key] + 1e-9
    return abs(a[1] - b[1]) <= max(abs(a[1]), abs(b[1])) * tolerances["relative"] + 1e-9


def one_letter_off(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance 1: one letter wrong, missing, extra, or two neighbours swapped."""
    if a == b:
        return False
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return len(diffs) == 1 or (len(diffs) == 2 and diffs[1] == diffs[0] + 1
                                   and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))

"""Parsing what a student types: one function per kind of value, each raising EntryError with a
message that names the field and what is expected."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Container
from decimal import Decimal

MAX_TEXT = 500
MAX_NOTE = 20_000
EARLIEST_YEAR = 1900  # no chart in a training case predates this; 0001 or 1800 is a typing slip
MAX_NUMBER_CHARS = 20
# A plain decimal number: ASCII digits, at most 9 before and 6 after the point, no exponent. Checked before any
# arithmetic, so no value (1e1000000, a 4,001-digit result) can make Decimal/int work for long.
_NUMBER = re.compile(r"[+-]?(?:[0-9]{1,9}(?:\.[0-9]{0,6})?|\.[0-9]{1,6})")
# Control characters and the bidirectional overrides/isolates (e.g. U+202E, which shows text reversed).
_HIDDEN = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]")


class EntryError(ValueError):
    """A typed value is not acceptable; the message is shown at the field."""


def text(label: str, raw: str | None, required: bool = False, limit: int = MAX_TEXT) -> str | None:
    value = (raw or "").strip()
    if not value:
        if required:
            raise EntryError(f"{label}: required")
        return None
    if len(value) > limit:
        raise EntryError(f"{label}: at most {limit} characters (this has {len(value)})")
    if _HIDDEN.search(value):
        raise EntryError(f"{label}: contains an invisible control or text-direction character; retype it as plain text")
    return value


def shown(raw: str, limit: int = 24) -> str:
    """A typed value as a message repeats it: cut short, so a 4,000-character paste does not fill the screen."""
    return raw if len(raw) <= limit else raw[:limit] + "…"


_US = re.compile(r"^([0-9]{1,2})[/-]([0-9]{1,2})[/-]([0-9]{4}|[0-9]{2})$")
_ISO = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
# The chart's long forms: "13 May 1991", "1 Oct 2022", "13-May-1991", and the US "May 13, 1991".
_DAY_MONTH = re.compile(r"^([0-9]{1,2})[\s-]+([A-Za-z]{3,9})\.?,?[\s-]+([0-9]{4})$")
_MONTH_DAY = re.compile(r"^([A-Za-z]{3,9})\.?\s+([0-9]{1,2}),?\s+([0-9]{4})$")
_MONTHS = {name: i for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}


def _month(word: str) -> int | None:
    """January, Jan, jan., Sept -> 1, 1, 1, 9."""
    w = word.lower()
    full = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
            "november", "december")
    if w in full:
        return full.index(w) + 1
    if w == "sept":
        return 9
    return _MONTHS.get(w)


def _parts(value: str, today: dt.date | None) -> tuple[int, int, int] | None:
    """(year, month, day) of a date in any form the paper chart prints; None when it is none of them."""
    match = _US.match(value)
    if match:
        month, day, year = (int(g) for g in match.groups())
        if len(match.group(3)) == 2:
            year += 2000 if year <= (today or dt.date.today()).year % 100 else 1900
        return year, month, day
    match = _ISO.match(value)
    if match:
        year, month, day = (int(g) for g in match.groups())
        return year, month, day
    match = _DAY_MONTH.match(value)
    if match and _month(match.group(2)):
        return int(match.group(3)), _month(match.group(2)) or 0, int(match.group(1))
    match = _MONTH_DAY.match(value)
    if match and _month(match.group(1)):
        return int(match.group(3)), _month(match.group(1)) or 0, int(match.group(2))
    return None


def date(label: str, raw: str | None, required: bool = False, today: dt.date | None = None,
         not_before: dt.date | None = None, not_before_label: str = "") -> dt.date | None:
    """A date typed as the paper chart prints it: 03/14/1962, 3/14/62, 1962-03-14, 14 Mar 1962 or Mar 14, 1962."""
    value = (raw or "").strip()
    if not value:
        if required:
            raise EntryError(f"{label}: required (MM/DD/YYYY)")
        return None
    parts = _parts(value, today) if len(value) <= 40 else None
    if parts is None:
        raise EntryError(f"{label}: {shown(value)} is not a date; type it as MM/DD/YYYY (e.g. 03/14/1962) "
                         "or as the chart prints it (14 Mar 1962)")
    year, month, day = parts
    try:
        parsed = dt.date(year, month, day)
    except ValueError:
        raise EntryError(f"{label}: {value} is not a date") from None
    if parsed.year < EARLIEST_YEAR:
        raise EntryError(f"{label}: {value} is before {EARLIEST_YEAR}; check the year (MM/DD/YYYY)")
    if today is not None and parsed > today:
        raise EntryError(f"{label}: {value} is in the future")
    if not_before is not None and parsed < not_before:
        raise EntryError(f"{label}: {value} is before the {not_before_label} ({not_before:%m/%d/%Y})")
    return parsed


def time(label: str, raw: str | None) -> str | None:
    value = (raw or "").strip().lower().replace(" ", "")
    if not value:
        return None
    match = re.match(r"^([0-9]{1,2}):?([0-9]{2})(am|pm)?$", value)
    if not match:
        raise EntryError(f"{label}: {shown(raw or '')} is not a time; type it as HH:MM (e.g. 09:30 or 14:15)")
    hour, minute = int(match.group(1)), int(match.group(2))
    if match.group(3):
        if not 1 <= hour <= 12:
            raise EntryError(f"{label}: {raw} is not a time")
        hour = hour % 12 + (12 if match.group(3) == "pm" else 0)
    if hour > 23 or minute > 59:
        raise EntryError(f"{label}: {raw} is not a time")
    return f"{hour:02d}:{minute:02d}"


def number(label: str, raw: str | None, required: bool = False, *, low: Decimal | int | None = None,
           high: Decimal | int | None = None, above: Decimal | int | None = None) -> Decimal | None:
    """A plain decimal number (e.g. 12.5), checked for its form and size before any arithmetic, then against
    ``low`` <= value <= ``high`` and value > ``above``, each with a message that names the range."""
    value = (raw or "").strip()
    if not value:
        if required:
            raise EntryError(f"{label}: required")
        return None
    if len(value) > MAX_NUMBER_CHARS or not _NUMBER.fullmatch(value):
        raise EntryError(f"{label}: {shown(value)} is not a number; type digits with an optional decimal point, e.g. 12.5")
    parsed = Decimal(value)  # at most 15 digits: cheap
    if above is not None and parsed <= above:
        raise EntryError(f"{label}: must be more than {above}")
    if low is not None and parsed < low:
        raise EntryError(f"{label}: {value} is below {low}; expected {low} to {high}" if high is not None
                         else f"{label}: must be at least {low}")
    if high is not None and parsed > high:
        raise EntryError(f"{label}: {value} is above {high}; expected at most {high}")
    return parsed


def choice(label: str, raw: str | None, options: Container[str], required: bool = False) -> str | None:
    value = (raw or "").strip()
    if not value:
        if required:
            raise EntryError(f"{label}: required; pick one from the list")
        return None
    if value not in options:
        raise EntryError(f"{label}: pick one from the list")
    return value


def fhir_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)

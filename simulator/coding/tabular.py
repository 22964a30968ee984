"""The Tabular List's instructional notes the coding rules obey: "code first" and "use additional code".

The notes are read from simple-icd-10-cm (the pinned CDC release), never re-typed: ``build_notes``
extracts them, with the notes inherited from each code's category, block and chapter, for the codes
the clinical catalog can put on a claim, into ``data/tabular-notes.json`` (shipped, so generating a
chart does not load the whole code set; tests/test_coding_rules.py checks the file against the library).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

NOTES_FILE = "tabular-notes.json"
# A code or a range named in a note: "(N18.1-N18.4, N18.9)", "(I50.-)", "(Z87.891)", "(I12.-, I13.-)".
_REF = re.compile(r"\b([A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{0,4})?)(?:\s*-\s*([A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?))?")


@dataclass(frozen=True)
class Notes:
    code_first: str
    use_additional: str
    chapter: str  # chapter-level note, e.g. Chapter 19's "Use secondary code(s) from Chapter 20"


def _refs(text: str) -> list[tuple[str, str]]:
    """The (low, high) code spans a note names; a single code or a "category.-" is its own span."""
    out = []
    for low, high in _REF.findall(text):
        out.append((low.replace(".", ""), (high or low).replace(".", "")))
    return out


@cache
def names(note: str, code: str) -> bool:
    """True when ``note`` names ``code`` (directly, by its category with "-", or inside a range)."""
    plain = code.replace(".", "")
    return any(low <= plain[: len(low)] <= high[: len(low)] for low, high in _refs(note))


@cache
def _data() -> dict[str, dict[str, str]]:
    text = resources.files("simulator.coding").joinpath("data", NOTES_FILE).read_text(encoding="utf-8")
    return json.loads(text)["codes"]


def notes(code: str) -> Notes:
    entry = _data().get(code)
    if entry is None:
        raise KeyError(f"{code}: no Tabular notes on file; run `python -m simulator.coding.tabular` after "
                       f"adding codes to the catalog")
    return Notes(entry.get("code_first", ""), entry.get("use_additional", ""), entry.get("chapter", ""))


def must_precede(first: str, second: str) -> bool:
    """The Tabular requires ``first`` before ``second``: ``second`` says "code first" ``first``, or
    ``first`` says "use additional code" for ``second`` (Guidelines I.A.13, I.B.7)."""
    return names(notes(second).code_first, first) or names(notes(first).use_additional, second)


def asks_for(code: str, other: str) -> bool:
    """``code``'s "use additional code" note names ``other`` (e.g. I10 -> Z87.891, E11.9 -> Z79.84)."""
    return names(notes(code).use_additional, other)


def needs_external_cause(code: str) -> bool:
    """Chapter 19's note: "Use secondary code(s) from Chapter 20, External causes of morbidity"."""
    return "Chapter 20" in notes(code).chapter


def build_notes(codes: Iterable[str]) -> dict[str, dict[str, str]]:
    """Each code's code-first and use-additional notes, its own and all its ancestors' (a note on E11 applies
    to E11.22 as well), from simple-icd-10-cm."""
    import simple_icd_10_cm as icd  # slow import: only when the notes file is rebuilt or checked

    out: dict[str, dict[str, str]] = {}
    for code in sorted(set(codes)):
        lineage = [code, *icd.get_ancestors(code)]  # the code, its subcategories, category, block, chapter
        chapter = lineage[-1]
        entry = {
            "code_first": "\n".join(n for c in lineage if (n := icd.get_code_first(c))),
            "use_additional": "\n".join(n for c in lineage if (n := icd.get_use_additional_code(c))),
            "chapter": icd.get_notes(chapter) if "Chapter 20" in icd.get_notes(chapter) else "",
        }
        out[code] = {k: v for k, v in entry.items() if v}
    return out


def write_notes_file() -> None:
    from pathlib import Path

    from simulator.clinical import load_catalog

    data = {"source": "simple-icd-10-cm (pinned release), notes of each code and its ancestors",
            "codes": build_notes(load_catalog().icd10cm_codes())}
    path = Path(__file__).parent / "data" / NOTES_FILE
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_notes_file()

"""The Tabular List read straight from simple-icd-10-cm's own data files (the pinned CDC release), for the
encoder's index build.

Importing the package builds its whole tree, re-parsing a small XML string for each of the ~75,000 codes it
makes by adding a 7th character: 2.3 s of the index build. This reader gives the same entries, in the same
order, with the same notes and 7th characters, in a fraction of that (tests/test_encoder.py compares the two
entry by entry). The files are the package's; nothing is re-typed.
"""

from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# simple-icd-10-cm 1.5.0 (pinned in pyproject.toml): the April 1, 2026 release.
TABULAR_FILE = "icd10c-tabular-April-1-2026.xml"
CODE_LIST_FILE = "code-list-April-2026.txt"
# The package's note fields, by XML element, as the encoder names them.
_NOTES = {"excludes1": "excludes1", "excludes2": "excludes2", "includes": "includes",
          "inclusionTerm": "inclusion_terms", "codeFirst": "code_first", "useAdditionalCode": "use_additional_code",
          "codeAlso": "code_also", "notes": "notes"}
# Notes the package joins into one text (the others are lists).
_JOINED = frozenset({"code_first", "use_additional_code", "code_also", "notes"})


@dataclass(frozen=True)
class Entry:
    """A chapter, block (section) or code of the Tabular, as simple-icd-10-cm's tree gives it."""

    type: str  # chapter | section | category | subcategory | extended subcategory
    name: str
    description: str
    billable: bool  # nothing below it (a code: billable)
    notes: dict[str, list[str]]  # the entry's own non-empty notes by kind (a joined note is one text)
    seventh_characters: dict[str, str]  # the entry's own 7th-character table
    parents: list[str]  # the codes above it, nearest first (not block or chapter)
    sections: list[str]  # the block and chapter it is in, nearest first


def data_dir() -> Path:
    """simple-icd-10-cm's data folder, found without importing the package (which would build its tree)."""
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("simple-icd-10-cm is not installed (pip install simple-icd-10-cm==1.5.0)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    if not (folder / TABULAR_FILE).is_file():
        raise RuntimeError(f"{folder / TABULAR_FILE} not found: hitsim pins simple-icd-10-cm 1.5.0 (April 2026 release)")
    return folder


def entries() -> Iterator[Entry]:
    """Every chapter, block and code, each before those below it, in the package's order. The 7th-character
    codes are made as the package makes them: for a code with no codes below it under a 7th-character table (its
    own or the nearest above), one code per character, if the code list has that code."""
    folder = data_dir()
    confirmed = {line.split(" ")[0].replace(".", "")
                 for line in (folder / CODE_LIST_FILE).read_text(encoding="utf-8").split("\n")}
    root = ET.parse(folder / TABULAR_FILE).getroot()
    for chapter in list(root)[2:]:  # after <version> and <introduction>
        yield from _walk(chapter, None, [], [], confirmed)


def _walk(element: ET.Element, seventh_above: dict[str, str] | None, parents: list[str], sections: list[str],
          confirmed: set[str]) -> Iterator[Entry]:
    name = element.attrib.get("id", "")  # a block's name is an attribute
    description = ""
    notes: dict[str, list[str]] = {}
    seventh: dict[str, str] = {}
    below: list[ET.Element] = []
    for sub in element:
        kind = sub.tag
        if kind == "section" or kind == "diag":
            below.append(sub)  # the package reads an entry's data before the entries below it
        elif kind == "name":
            if sub.text is None:
                raise ValueError(f"an ICD-10-CM <name> with no text below {parents[:1] or sections[:1]}")
            name = sub.text
        elif kind == "desc":
            if sub.text is not None:
                description = sub.text
        elif kind in _NOTES:
            notes.setdefault(_NOTES[kind], []).extend(c.text for c in sub if c.text is not None)
        elif kind == "sevenChrDef":
            last = None
            for extension in sub:
                if extension.tag == "extension":
                    last = extension.attrib["char"]
                    seventh[last] = extension.text or ""
                elif extension.tag == "note" and last is not None and extension.text is not None:
                    seventh[last] += "/" + extension.text
    own = {}
    for kind, lines in notes.items():
        if kind in _JOINED:
            text = "\n".join(lines)
            if text.strip():
                own[kind] = [text]
        elif any(lines):
            own[kind] = [line for line in lines if line]
    table = seventh or seventh_above
    if element.tag in ("chapter", "section"):
        yield Entry(element.tag, name, description, not below, own, seventh, parents, sections)
        for sub in below:
            yield from _walk(sub, table, parents, [name, *sections], confirmed)
        return
    made = []
    if not below and table:
        base = name + ("." if len(name) == 3 else "")
        base += "X" * (7 - len(base))
        made = [(base + char, f"{description}, {meaning}") for char, meaning in table.items()
                if base[:3] + base[4:] + char in confirmed]
    yield Entry("category" if len(name) == 3 else "subcategory", name, description, not below and not made, own,
                seventh, parents, sections)
    here = [name, *parents]
    for sub in below:
        yield from _walk(sub, table, here, sections, confirmed)
    for code, title in made:
        yield Entry("extended subcategory", code, title, True, {}, {}, here, sections)

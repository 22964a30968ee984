"""The encoder: a full-text index of every code, built once into the data directory (SQLite FTS5).

Searching never imports the ICD-10-CM package (that takes seconds); only building the index does.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import sqlite3
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

INDEX_VERSION = "1"  # bump when the schema or the data changes
ICD10CM_RELEASE = "ICD-10-CM FY2026 (April 1, 2026 update)"
HCPCS_RELEASE = "HCPCS Level II, October 2025"
MAX_QUERY = 200

# What coders type -> what the code titles say.
ABBREVIATIONS = {
    "htn": "hypertension", "dm": "diabetes", "dm2": "type 2 diabetes", "t2dm": "type 2 diabetes",
    "dm1": "type 1 diabetes", "t1dm": "type 1 diabetes", "ckd": "chronic kidney disease", "fx": "fracture",
    "afib": "atrial fibrillation", "af": "atrial fibrillation", "chf": "heart failure", "hf": "heart failure",
    "copd": "chronic obstructive pulmonary", "uti": "urinary tract infection", "uri": "upper respiratory infection",
    "gerd": "gastro-esophageal reflux", "mdd": "major depressive disorder", "gad": "generalized anxiety",
    "oa": "osteoarthritis", "lbp": "low back pain", "hld": "hyperlipidemia", "bph": "benign prostatic hyperplasia",
    "cad": "atherosclerotic heart disease", "mi": "myocardial infarction", "sob": "shortness of breath",
    "cp": "chest pain", "abd": "abdominal", "rt": "right", "lt": "left", "bilat": "bilateral", "init": "initial",
    "subs": "subsequent", "aom": "acute otitis media", "om": "otitis media", "ra": "rheumatoid arthritis",
    "dvt": "deep vein thrombosis", "pe": "pulmonary embolism", "tia": "transient ischemic", "cva": "cerebral infarction",
    "hx": "history", "esrd": "end stage renal disease", "ptsd": "post-traumatic stress", "ibs": "irritable bowel",
    "lac": "laceration", "ha": "headache", "n/v": "nausea vomiting", "wcc": "routine child health examination",
    "awv": "annual wellness visit", "strep": "streptococcal", "flu": "influenza", "ed": "emergency department",
    "er": "emergency department", "ekg": "electrocardiogram", "ecg": "electrocardiogram", "bmi": "body mass index",
    "w/": "with", "w/o": "without", "pna": "pneumonia", "sz": "seizure", "etoh": "alcohol",
}
PHRASES = {
    "distal radius": "lower end radius", "distal ulna": "lower end ulna", "distal femur": "lower end femur",
    "distal humerus": "lower end humerus", "distal tibia": "lower end tibia", "proximal humerus": "upper end humerus",
    "heart attack": "myocardial infarction", "high blood pressure": "hypertension", "kidney stone": "calculus kidney",
    "sore throat": "pharyngitis", "ear infection": "otitis media", "pink eye": "conjunctivitis",
}
# Codes a coder most often means by a bare term: shown first among equals.
COMMON_DEFAULTS = {
    "J18.9", "I10", "E11.9", "E78.5", "J45.909", "J44.9", "I50.9", "I48.91", "N18.9", "K21.9", "E03.9", "F32.A",
    "F41.1", "G43.909", "M17.9", "M54.50", "E66.9", "F17.210", "N39.0", "J20.9", "J02.9", "J02.0", "H66.90",
    "L03.90", "S93.409A", "J30.9", "Z00.00", "Z00.129", "J06.9", "J01.90", "J11.1", "R07.9", "R51.9", "R10.9",
    "A08.4", "M10.9", "E55.9", "G47.00", "N40.0", "M81.0", "L25.9", "R05.9", "R50.9", "I25.10", "E11.65",
}
_CODE_LIKE = re.compile(r"^(?:[A-Za-z]\d[0-9A-Za-z]{0,5}|[A-Za-z]\d{2}\.[0-9A-Za-z]{0,4}|\d{1,5}[FTU]?|[A-Va-v]\d{1,4})$")


@dataclass(frozen=True)
class Hit:
    code: str
    system: str  # ICD-10-CM | HCPCS | CPT
    title: str
    billable: bool


def _nodot(code: str) -> str:
    return code.replace(".", "").upper()


def default_path(data_dir: Path) -> Path:
    return data_dir / f"encoder-v{INDEX_VERSION}.sqlite3"


# ------------------------------------------------------------------------------------------ building
NOTE_KINDS = ("excludes1", "excludes2", "includes", "inclusion_terms", "code_first", "use_additional_code", "code_also",
              "notes")


def _icd_rows() -> list[tuple[Any, ...]]:
    import simple_icd_10_cm as icd  # slow import: only when the index is built

    getters = {"excludes1": icd.get_excludes1, "excludes2": icd.get_excludes2, "includes": icd.get_includes,
               "inclusion_terms": icd.get_inclusion_term, "code_first": icd.get_code_first,
               "use_additional_code": icd.get_use_additional_code, "code_also": icd.get_code_also, "notes": icd.get_notes}
    rows = []
    for code in icd.get_all_codes(True):
        if icd.is_chapter(code) or icd.is_block(code):
            continue
        notes = {}
        for name, getter in getters.items():
            value = getter(code)
            value = [value] if isinstance(value, str) and value.strip() else value if isinstance(value, list) else []
            if value:
                notes[name] = value
        ancestors = [a for a in icd.get_ancestors(code) if not icd.is_chapter(a)]
        page = {"parents": ancestors, "notes": notes, "seventh_characters": icd.get_seven_chr_def(code) or {}}
        # Words of the category above help find leaves: "fx distal radius" -> S52.5-.
        context = " ".join(icd.get_inclusion_term(a) and " ".join(icd.get_inclusion_term(a)) or "" for a in ancestors
                           if not icd.is_block(a))
        rows.append((code, "ICD-10-CM", icd.get_description(code), int(icd.is_leaf(code)),
                     " ".join(icd.get_inclusion_term(code)), context, int(code in COMMON_DEFAULTS), json.dumps(page)))
    return rows


def _hcpcs_rows() -> list[tuple[Any, ...]]:
    data = resources.files("simulator.coding").joinpath("data/hcpcs-2025-oct.csv.gz").read_bytes()
    text = gzip.decompress(data).decode("utf-8")
    return [(r["code"], "HCPCS", r["long_description"], int(not r["termination_date"]), "", "", 0,
             json.dumps({"terminated": r["termination_date"]} if r["termination_date"] else {}))
            for r in csv.DictReader(io.StringIO(text))]


def _cpt_rows() -> list[tuple[Any, ...]]:
    from simulator.clinical import load_catalog

    cat = load_catalog()
    return [(code, "CPT", s.description, 1, "", "", 1, json.dumps({"lay_description": True}))
            for code, s in cat.services.items() if s.system == "CPT"]


def _index_rows() -> list[tuple[Any, ...]]:
    """The Alphabetic Index as paths (main term → subterms) with their code or cross-reference."""
    data = resources.files("simulator.coding").joinpath("data/ICD10CM_2025_Index.csv.gz").read_bytes()
    rows: list[tuple[Any, ...]] = []
    stack: list[str] = []
    for r in csv.DictReader(io.StringIO(gzip.decompress(data).decode("utf-8"))):
        level = int(r["Level"])
        stack = stack[:level] + [r["Term"].strip()]
        modifier = f" {r['NonEssModif'].strip()}" if r["NonEssModif"].strip() else ""
        rows.append((" → ".join(stack) + modifier, r["Code"].strip().rstrip("-").rstrip(".") or None,
                     r["See"].strip() or None, r["SeeAlso"].strip() or None))
    return rows


def build_index(path: Path) -> Path:
    """Build the encoder database at ``path`` (atomically: a half-built index is never used)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    db.executescript("""
        CREATE TABLE codes (code TEXT PRIMARY KEY, system TEXT, title TEXT, billable INTEGER, terms TEXT,
                            context TEXT, common INTEGER, page TEXT, nodot TEXT);
        CREATE VIRTUAL TABLE codes_fts USING fts5(title, terms, context, content='codes', content_rowid='rowid',
                                                  tokenize='porter unicode61');
        CREATE TABLE alpha_index (path TEXT, code TEXT, see TEXT, see_also TEXT);
        CREATE VIRTUAL TABLE alpha_fts USING fts5(path, content='alpha_index', content_rowid='rowid',
                                                  tokenize='porter unicode61');
        CREATE TABLE cpt_licensed (code TEXT PRIMARY KEY, descriptor TEXT);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
    """)
    rows = _icd_rows() + _hcpcs_rows() + _cpt_rows()
    db.executemany("INSERT OR REPLACE INTO codes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [(*r, _nodot(r[0])) for r in rows])
    db.execute("CREATE INDEX codes_nodot ON codes (nodot)")
    db.execute("INSERT INTO codes_fts (rowid, title, terms, context) SELECT rowid, title, terms, context FROM codes")
    db.executemany("INSERT INTO alpha_index VALUES (?, ?, ?, ?)", _index_rows())
    db.execute("INSERT INTO alpha_fts (rowid, path) SELECT rowid, path FROM alpha_index")
    db.executemany("INSERT INTO meta VALUES (?, ?)", [("version", INDEX_VERSION), ("icd10cm", ICD10CM_RELEASE),
                                                      ("hcpcs", HCPCS_RELEASE)])
    db.commit()
    db.close()
    tmp.replace(path)
    return path


# ------------------------------------------------------------------------------------------ searching
class Encoder:
    """Searches and code pages over a built index. Thread-safe (one connection per thread)."""

    def __init__(self, path: Path):
        if not path.exists():
            build_index(path)
        self.path = path
        self._local = threading.local()

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.conn = conn
        return conn

    def _title(self, code: str, system: str, title: str) -> str:
        if system == "CPT":
            row = self.db.execute("SELECT descriptor FROM cpt_licensed WHERE code = ?", (code,)).fetchone()
            if row:
                return row[0]
        return title

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
                "ORDER BY billable DESC, nodot = ? DESC, common DESC, length(nodot), nodot LIMIT ?",
                (prefix, prefix + "~", *systems, prefix, limit)).fetchall()  # '~' sorts after digits and letters
            if rows:
                return [Hit(c, s, self._title(c, s, t), bool(b)) for c, s, t, b in rows]
        lowered = q.lower()
        for phrase, replacement in PHRASES.items():
            lowered = lowered.replace(phrase, replacement)
        words = []
        for token in re.findall(r"[a-z0-9]+(?:/[a-z]+)?", lowered):
            expanded = ABBREVIATIONS.get(token, token)
            words += re.findall(r"[a-z0-9]+", expanded)
        if not words:
            return []
        match = " AND ".join(f'"{w}"*' for w in words[:12])
        try:
            rows = self.db.execute(
                f"SELECT c.code, c.system, c.title, c.billable FROM codes_fts f JOIN codes c ON c.rowid = f.rowid "
                f"WHERE codes_fts MATCH ? AND c.system IN ({placeholders}) "
                "ORDER BY c.common DESC, c.billable DESC, bm25(codes_fts, 10.0, 4.0, 1.0) + length(c.title) / 60.0 "
                "+ (CASE WHEN length(c.nodot) = 7 AND substr(c.nodot, 7, 1) != 'A' THEN 2 ELSE 0 END) "
                # A bare term means the unspecified default: the more 'unspecified' a title is, the earlier.
                "- (length(lower(c.title)) - length(replace(lower(c.title), 'unspecified', ''))) / 11.0, c.code "
                "LIMIT ?", (match, *systems, limit)).fetchall()
        except sqlite3.OperationalError:
            return []
        return [Hit(c, s, self._title(c, s, t), bool(b)) for c, s, t, b in rows]

    def lookup(self, code: str) -> Hit | None:
        row = self.db.execute("SELECT code, system, title, billable FROM codes WHERE nodot = ?", (_nodot(code),)).fetchone()
        return Hit(row[0], row[1], self._title(row[0], row[1], row[2]), bool(row[3])) if row else None

    def page(self, code: str) -> dict[str, Any] | None:
        """A code's page: title, billable, parents, notes from the Tabular, the 7th-character table."""
        row = self.db.execute("SELECT code, system, title, billable, terms, page FROM codes WHERE nodot = ?",
                              (_nodot(code),)).fetchone()
        if row is None:
            return None
        page = json.loads(row[5])
        parents = [(p, hit.title) for p in page.get("parents", []) if (hit := self.lookup(p)) is not None]
        notes: dict[str, list[str]] = {k: list(v) for k, v in page.get("notes", {}).items()}
        seventh = page.get("seventh_characters", {})
        # Notes at the categories above apply to this code too (as in the printed Tabular).
        for parent, _title in parents:
            above = self.db.execute("SELECT page FROM codes WHERE code = ?", (parent,)).fetchone()
            if above is None:
                continue
            parent_page = json.loads(above[0])
            for kind in ("excludes1", "excludes2", "includes", "code_first", "use_additional_code", "code_also", "notes"):
                for text in parent_page.get("notes", {}).get(kind, []):
                    notes.setdefault(kind, []).append(f"{text} (at {parent})")
            seventh = seventh or parent_page.get("seventh_characters", {})
        children = self.db.execute(
            "SELECT code, title, billable FROM codes WHERE nodot BETWEEN ? AND ? AND length(nodot) = ? AND system = ? "
            "ORDER BY nodot", (_nodot(row[0]), _nodot(row[0]) + "~", len(_nodot(row[0])) + 1, row[1])).fetchall()
        return {"code": row[0], "system": row[1], "title": self._title(row[0], row[1], row[2]), "billable": bool(row[3]),
                "parents": parents, "children": [(c, t, bool(b)) for c, t, b in children],
                "notes": notes, "seventh_characters": seventh,
                "lay_description": page.get("lay_description", False), "terminated": page.get("terminated")}

    def alphabetic_index(self, query: str, limit: int = 20) -> list[tuple[str, str | None, str | None]]:
        """The coder's path: Index entries (main term → subterms) with their code or 'see' reference."""
        words = re.findall(r"[a-z0-9]+", (query or "").lower()[:MAX_QUERY])
        if not words:
            return []
        match = " AND ".join(f'"{w}"*' for w in words[:8])
        try:
            rows = self.db.execute("SELECT a.path, a.code, a.see FROM alpha_fts f JOIN alpha_index a ON a.rowid = f.rowid "
                                   "WHERE alpha_fts MATCH ? ORDER BY length(a.path), bm25(alpha_fts) LIMIT ?",
                                   (match, limit)).fetchall()
        except sqlite3.OperationalError:
            return []
        return [(p, c, s) for p, c, s in rows]

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

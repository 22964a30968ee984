"""Queries written the way coders type them, with the code a coder means.

``QUERIES``: the project's own 100 (title words and abbreviations; checked in the top five).
``evaluation_set("dev" | "heldout")``: the independent evaluation set in tests/data/encoder_eval/ (see its
README): written by a colleague acting as a coder who never saw the encoder's code. Tune on dev only;
heldout is for reporting.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVAL_DIR = Path(__file__).parent / "data" / "encoder_eval"


@dataclass(frozen=True)
class EvalQuery:
    kind: str  # the failure class (misspelling, negation, two_code, ...)
    query: str
    expected: tuple[tuple[str, ...], ...]  # every group is required; within a group any one code will do
    index_path: str


def evaluation_set(part: str) -> list[EvalQuery]:
    with (EVAL_DIR / f"{part}.tsv").open(encoding="utf-8") as f:
        return [EvalQuery(r["class"], r["query"], tuple(tuple(alt.split("|")) for alt in r["expected"].split("+")),
                          r["index_path"] or "") for r in csv.DictReader(f, delimiter="\t")]


def _nodot(code: str) -> str:
    return code.replace(".", "").upper()


def search_rank(encoder: Any, q: EvalQuery, depth: int = 5) -> int | None:
    """The position (1-based) at which every expected code has been offered (a hit's own code or a code
    offered with it, "use additional code"), or None when not within ``depth``."""
    hits = encoder.search(q.query, depth)
    seen: set[str] = set()
    for n, hit in enumerate(hits, start=1):
        seen.update(hit.codes)
        if all(any(code in seen for code in group) for group in q.expected):
            return n
    return None


def index_rank(encoder: Any, q: EvalQuery, depth: int = 5) -> int | None:
    """The same on the Index path: an entry leads to an expected code when it names it, or names the category
    above it (the Index's "-": the coder completes the code in the Tabular)."""
    seen: list[str] = []
    for n, (_path, code, _see) in enumerate(encoder.alphabetic_index(q.query, depth), start=1):
        if code:
            seen.append(_nodot(code))
        if all(any(any(_nodot(code).startswith(s) for s in seen) for code in group) for group in q.expected):
            return n
    return None


QUERIES = [
    # terms
    ("pneumonia", "J18.9"), ("essential hypertension", "I10"), ("type 2 diabetes without complications", "E11.9"),
    ("type 2 diabetes with hyperglycemia", "E11.65"), ("type 2 diabetes kidney", "E11.22"),
    ("diabetic polyneuropathy type 2", "E11.42"), ("hyperlipidemia", "E78.5"), ("mixed hyperlipidemia", "E78.2"),
    ("mild intermittent asthma uncomplicated", "J45.20"), ("moderate persistent asthma exacerbation", "J45.41"),
    ("chronic obstructive pulmonary disease", "J44.9"), ("copd with acute exacerbation", "J44.1"),
    ("chronic systolic heart failure", "I50.22"), ("paroxysmal atrial fibrillation", "I48.0"),
    ("chronic kidney disease stage 3a", "N18.31"), ("chronic kidney disease stage 4", "N18.4"),
    ("gastro-esophageal reflux without esophagitis", "K21.9"), ("hypothyroidism", "E03.9"),
    ("major depressive disorder single episode moderate", "F32.1"), ("recurrent depression mild", "F33.0"),
    ("generalized anxiety disorder", "F41.1"), ("migraine without aura not intractable", "G43.009"),
    ("primary osteoarthritis right knee", "M17.11"), ("low back pain", "M54.50"), ("obesity", "E66.9"),
    ("nicotine dependence cigarettes uncomplicated", "F17.210"), ("urinary tract infection", "N39.0"),
    ("acute bronchitis", "J20.9"), ("streptococcal pharyngitis", "J02.0"),
    ("acute suppurative otitis media right ear", "H66.001"), ("cellulitis of left lower limb", "L03.116"),
    ("sprain right ankle initial", "S93.401A"), ("colles fracture left radius initial", "S52.532A"),
    ("laceration right hand initial", "S61.411A"), ("laceration scalp initial", "S01.01XA"),
    ("allergic rhinitis due to pollen", "J30.1"), ("routine child health exam", "Z00.129"),
    ("general adult medical examination", "Z00.00"), ("acute sinusitis", "J01.90"),
    ("upper respiratory infection", "J06.9"), ("influenza with other respiratory manifestations", "J11.1"),
    ("chest pain", "R07.9"), ("viral gastroenteritis", "A08.4"), ("gout right ankle", "M10.071"),
    ("vitamin d deficiency", "E55.9"), ("insomnia", "G47.00"), ("benign prostatic hyperplasia with urinary symptoms", "N40.1"),
    ("age related osteoporosis", "M81.0"), ("contact dermatitis", "L25.9"), ("vaginal candidiasis", "B37.31"),
    ("attention deficit hyperactivity combined", "F90.2"), ("prediabetes", "R73.03"),
    ("long term use of insulin", "Z79.4"), ("long term anticoagulants", "Z79.01"),
    ("bmi 35.0-35.9 adult", "Z68.35"), ("hypertensive chronic kidney disease", "I12.9"),
    ("hypertensive heart disease with heart failure", "I11.0"), ("abscess of back", "L02.212"),
    ("headache", "R51.9"), ("cough", "R05.9"),
    # abbreviations
    ("htn", "I10"), ("dm2", "E11.9"), ("dm2 ckd", "E11.22"), ("dm2 hyperglycemia", "E11.65"), ("afib", "I48.91"),
    ("copd", "J44.9"), ("chf", "I50.9"), ("uti", "N39.0"), ("gerd", "K21.9"), ("gad", "F41.1"), ("lbp", "M54.50"),
    ("hld", "E78.5"), ("bph", "N40.0"), ("uri", "J06.9"), ("strep throat", "J02.0"), ("fx distal radius", "S52.509A"),
    ("ckd 3b", "N18.32"), ("mdd recurrent mild", "F33.0"), ("oa knee", "M17.9"), ("aom right", "H66.001"),
    ("pna", "J18.9"), ("flu", "J11.1"), ("awv", "G0439"), ("cp", "R07.9"), ("sob", "R06.02"),
    # code prefixes and forms
    ("E11.2", "E11.22"), ("e1122", "E11.22"), ("I10", "I10"), ("j18", "J18.9"), ("S52.53", "S52.531A"),
    ("N18.3", "N18.31"), ("z6835", "Z68.35"), ("99213", "99213"), ("9921", "99214"), ("J1885", "J1885"),
    ("G0439", "G0439"), ("36415", "36415"), ("93000", "93000"), ("87880", "87880"), ("htn ckd", "I12.9"),
]

#!/usr/bin/env python3
"""Validate rows.tsv (hand-written by the set author) and write heldout3.tsv.

Checks, per row:
  * exactly 13 rows per class, 12 classes, no duplicate queries;
  * every ICD-10-CM code is valid AND billable (simple_icd_10_cm.is_valid_item and is_leaf);
  * injury / poisoning / external-cause codes carry 7th character A (no row says subsequent/sequela);
  * CPT codes are in the allowed list; HCPCS Level II codes exist in
    /work/shared/codesets/HCPC2025_OCT_ANWEB.csv.gz with no termination date;
  * any index_path segment starting "Table of Drugs and Chemicals >" is looked up in the FY2025
    Drug Table XML: the named substance's cell in the named column must equal the first 6 characters
    of a T code in the expected answer;
  * any index_path starting "Neoplasm Table >" is looked up in the FY2025 Neoplasm Table XML: the
    cell in the named column must match the expected code (full match, or same category for skin
    C44 rows where the Tabular splits by histology: basal cell C44.x1x, squamous cell C44.x2x).
Writes heldout3.tsv (same columns) and review.txt (every code with its official description).
Usage: python3 build.py   (exit status 1 on any failure)
"""
import csv, gzip, os, re, sys
import xml.etree.ElementTree as ET
import simple_icd_10_cm as cm

HERE = os.path.dirname(os.path.abspath(__file__))
CS = "/work/shared/codesets"
CLASSES = ["abbreviation", "drug_table", "external_cause", "lay_term", "little_words", "misspelling",
           "negation", "neoplasm", "ranking", "service_words", "superbill_words", "two_code"]
CPT_OK = {"93000", "93005", "93010", "36415", *map(str, range(99202, 99206)), *map(str, range(99211, 99216)),
          *map(str, range(99281, 99286)), "94640", "10060", "10061", "12001", "12002", "12011", "12032",
          "96372", "71045", "71046", "73110", "81002", "81003", "87880", "87804", "87635", "83036", "80053",
          "80061", "85025", "90471", "90472", "90686", "90715", "11102", "11104", "17110", "69210", "20610",
          "29125", "99406"}
CPT_DESC = {"93000": "ECG routine 12-lead with interpretation and report", "36415": "Collection of venous blood by venipuncture",
            "90686": "Influenza vaccine, quadrivalent, preservative free, 0.5 mL, IM", "94640": "Pressurized or nonpressurized inhalation treatment (nebulizer)",
            "10060": "I&D of abscess, simple or single", "99203": "Office/outpatient visit, new patient, low MDM / 30 min",
            "99214": "Office/outpatient visit, established patient, moderate MDM / 30 min", "87880": "Strep A antigen, immunoassay with direct optical observation (rapid strep)",
            "69210": "Removal impacted cerumen requiring instrumentation, unilateral", "20610": "Arthrocentesis/injection major joint (knee) without US guidance",
            "17110": "Destruction benign lesions (e.g. warts) up to 14", "99406": "Smoking/tobacco cessation counseling 3-10 min",
            "90472": "Immunization administration, each additional vaccine", "81003": "Urinalysis, automated, without microscopy",
            "99284": "ED visit, moderate MDM"}
DRUG_COLS = {"Poisoning, Accidental": "2", "Poisoning, Intentional self-harm": "3", "Poisoning, Assault": "4",
             "Poisoning, Undetermined": "5", "Adverse effect": "6", "Underdosing": "7"}
NEO_COLS = {"Malignant Primary": "2", "Malignant Secondary": "3", "Ca in situ": "4", "Benign": "5",
            "Uncertain Behavior": "6", "Unspecified Behavior": "7"}


def load_hcpcs():
    d = {}
    with gzip.open(f"{CS}/HCPC2025_OCT_ANWEB.csv.gz", "rt", encoding="latin-1") as f:
        for r in csv.DictReader(f):
            if r["SEQNUM"] == "0010" or r["HCPC"] not in d:
                d[r["HCPC"]] = (r["LONG DESCRIPTION"], r["TERM DT"].strip())
    return d


def load_table(name):
    """Return list of (path_titles, {col: code}) for every term of a table XML."""
    root = ET.parse(gzip.open(f"{CS}/{name}")).getroot()
    out = []

    def walk(el, path):
        for t in el.findall("mainTerm") + el.findall("term"):
            title_el = t.find("title")
            main = (title_el.text or "").strip()
            p = path + [main]
            out.append((p, {c.get("col"): (c.text or "").strip() for c in t.findall("cell")}))
            walk(t, p)
    for letter in root.findall("letter"):
        walk(letter, [])
    return out


def find_in_table(table, segs):
    """Nodes whose title path contains segs in order (each seg a case-insensitive prefix of a title);
    the last seg must match the node itself."""
    segs = [s.lower() for s in segs]
    hits = []
    for path, cells in table:
        titles = [t.lower() for t in path]
        if not titles[-1].startswith(segs[-1]):
            continue
        i = 0
        for t in titles[:-1]:
            if i < len(segs) - 1 and t.startswith(segs[i]):
                i += 1
        if i == len(segs) - 1 and titles[0].startswith(segs[0]) or (len(segs) == 1 and len(titles) == 1):
            hits.append((path, cells))
    return hits


def kind(code):
    if re.fullmatch(r"\d{5}", code):
        return "cpt"
    if re.fullmatch(r"[A-V]\d{4}", code):
        return "hcpcs"
    return "icd"


def main():
    rows = list(csv.DictReader(open(f"{HERE}/rows.tsv", encoding="utf-8"), delimiter="\t"))
    hcpcs = load_hcpcs()
    drug = load_table("icd-10-cm-drug-2025.xml.gz")
    neo = load_table("icd-10-cm-neoplasm-2025.xml.gz")
    # Neoplasm table: all site terms sit under the one main term "Neoplasm, neoplastic"; drop it from paths
    neo = [(p[1:] if len(p) > 1 else p, c) for p, c in neo]
    errors, review, ncodes = [], [], 0
    counts = {c: 0 for c in CLASSES}
    seen = set()
    for n, r in enumerate(rows, 2):
        cls, q, exp, ip = r["class"], r["query"], r["expected"], r["index_path"] or ""
        where = f"line {n} [{cls}] {q!r}"
        if cls not in counts:
            errors.append(f"{where}: unknown class")
            continue
        counts[cls] += 1
        if q.lower() in seen:
            errors.append(f"{where}: duplicate query")
        seen.add(q.lower())
        codes = [c for alt in exp.split("|") for c in alt.split("+")]
        for code in codes:
            ncodes += 1
            k = kind(code)
            if k == "cpt":
                if code not in CPT_OK:
                    errors.append(f"{where}: CPT {code} not in allowed list")
                if ip:
                    errors.append(f"{where}: CPT row should have empty index_path")
                review.append(f"{cls}\t{q}\t{code}\tCPT\t{CPT_DESC.get(code, '')}")
            elif k == "hcpcs":
                if code not in hcpcs:
                    errors.append(f"{where}: HCPCS {code} not in HCPC2025_OCT file")
                elif hcpcs[code][1]:
                    errors.append(f"{where}: HCPCS {code} terminated {hcpcs[code][1]}")
                review.append(f"{cls}\t{q}\t{code}\tHCPCS\t{hcpcs.get(code, ('?',))[0]}")
            else:
                if not cm.is_valid_item(code):
                    errors.append(f"{where}: ICD-10-CM {code} not a valid code")
                    continue
                if not cm.is_leaf(code):
                    errors.append(f"{where}: ICD-10-CM {code} is not billable (has children)")
                if code[0] in "STVWXY" and len(code.replace(".", "")) == 7 and code[-1] != "A":
                    if not re.search(r"subsequent|follow|sequela", q):
                        errors.append(f"{where}: {code} 7th character should be A")
                review.append(f"{cls}\t{q}\t{code}\tICD\t{cm.get_description(code)}")
        for part in [p.strip() for p in ip.split(";")]:
            if part.startswith("Table of Drugs and Chemicals >"):
                segs = [s.strip() for s in part.split(">")[1:]]
                col = DRUG_COLS[segs[-1]]
                hits = find_in_table(drug, segs[:-1])
                cells = {h[1].get(col) for h in hits}
                tcodes = {c[:7].rstrip("X") for c in codes if c.startswith("T")}
                if not hits:
                    errors.append(f"{where}: Drug Table substance {segs[:-1]} not found")
                elif not (cells & tcodes):
                    errors.append(f"{where}: Drug Table {segs} gives {cells}, expected has {tcodes}")
                else:
                    review.append(f"{cls}\t{q}\t-\tDRUGTABLE\t{' > '.join(hits[0][0])} [{segs[-1]}] = {hits[0][1].get(col)}")
            if part.startswith("Neoplasm Table >"):
                segs = [s.strip() for s in part.split(">")[1:]]
                col = NEO_COLS[segs[-1]]
                site = [re.sub(r"\s*\(.*", "", s) for s in segs[:-1]]
                hits = find_in_table(neo, site)
                ok = False
                for path, cells in hits:
                    cell = cells.get(col, "").rstrip("-").rstrip(".")
                    for c in codes:
                        if c.startswith(cell) or (cell.startswith("C44") and c[:5] == cell[:5]):
                            ok = True
                            review.append(f"{cls}\t{q}\t-\tNEOPLASMTABLE\t{' > '.join(path)} [{segs[-1]}] = {cells.get(col)}")
                            break
                    if ok:
                        break
                if not ok:
                    errors.append(f"{where}: Neoplasm Table {site} [{segs[-1]}] gives "
                                  f"{[h[1].get(col) for h in hits]}; expected {exp}")
    for c, k in counts.items():
        if k != 13:
            errors.append(f"class {c}: {k} rows, want 13")
    with open(f"{HERE}/review.txt", "w", encoding="utf-8") as f:
        f.write("\n".join(review) + "\n")
    if errors:
        print("\n".join(errors))
        print(f"FAILED: {len(errors)} problem(s)")
        return 1
    with open(f"{HERE}/heldout3.tsv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["class", "query", "expected", "index_path"])
        for r in rows:
            w.writerow([r["class"], r["query"], r["expected"], r["index_path"] or ""])
    print(f"OK: {len(rows)} rows, {ncodes} codes checked "
          f"({sum(1 for l in review if l.split(chr(9))[3]=='ICD')} ICD-10-CM, "
          f"{sum(1 for l in review if l.split(chr(9))[3]=='CPT')} CPT, "
          f"{sum(1 for l in review if l.split(chr(9))[3]=='HCPCS')} HCPCS), "
          f"{sum(1 for l in review if 'DRUGTABLE' in l)} Drug Table and "
          f"{sum(1 for l in review if 'NEOPLASMTABLE' in l)} Neoplasm Table look-ups; wrote heldout3.tsv")
    return 0


if __name__ == "__main__":
    sys.exit(main())

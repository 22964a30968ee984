"""Render an answer-key Bundle as a paper chart, in the presentation its ChartStyle fixes.

One renderer serves both the printable ``chart.html`` and the in-app viewer (which shows the same
pages in tabs). Everything printed is escaped: chart text is data, never markup. Claims (the coding
key) are never printed: the superbill lists services and diagnoses in words only.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from html import escape
from typing import Any

from grading.coding import claim_encounter
from simulator.fhir import MRN_SYSTEM
from simulator.generate.key import CHART_SECTIONS, ChartStyle, GeneratedCase

SECTION_TITLES = {
    "face": "Face sheet",
    "notes": "Progress notes",
    "meds": "Medication list",
    "vitals": "Vital signs",
    "labs": "Lab report",
    "superbill": "Superbill",
}
UNIT_LABELS = {"[lb_av]": "lb", "kg": "kg", "[in_i]": "in", "cm": "cm", "[degF]": "°F", "Cel": "°C", "/min": "/min",
               "%": "%", "kg/m2": "kg/m²", "mm[Hg]": "mmHg"}
SEX_LABELS = {"female": "F", "male": "M", "other": "X", "unknown": "U"}


@dataclass(frozen=True)
class ChartPage:
    patient: str  # the patient's name as printed, to label tabs when a case has several patients
    section: str  # one of CHART_SECTIONS
    title: str
    html: str  # an HTML fragment (escaped data inside our own markup)


def format_date(value: str, style: str) -> str:
    """A FHIR date (or the date part of a dateTime) the way the chart's messiness knob prints it."""
    day = dt.date.fromisoformat(value[:10])
    if style == "iso":
        return day.isoformat()
    if style == "us":
        return day.strftime("%m/%d/%Y")
    if style == "us-short":
        return f"{day.month}/{day.day}/{day.strftime('%y')}"
    return f"{day.day} {day.strftime('%b %Y')}"


def format_time(value: str) -> str:
    return value[11:16] if len(value) > 10 else ""


class _Index:
    """The key's resources grouped by patient and encounter, in bundle order."""

    def __init__(self, bundle: dict[str, Any]):
        self.by_ref: dict[str, dict[str, Any]] = {}
        self.patients: list[dict[str, Any]] = []
        self.by_patient: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry in bundle.get("entry", []):
            res = entry["resource"]
            self.by_ref[entry["fullUrl"]] = res
            if res["resourceType"] == "Patient":
                self.patients.append(res)
        for entry in bundle.get("entry", []):
            res = entry["resource"]
            owner = _subject(res)
            if owner:
                self.by_patient[owner].append(res)

    def of(self, patient: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
        return [r for r in self.by_patient[f"urn:uuid:{patient['id']}"] if r["resourceType"] == resource_type]

    def get(self, ref: dict[str, Any] | None) -> dict[str, Any]:
        return self.by_ref.get((ref or {}).get("reference", ""), {})


def _subject(res: dict[str, Any]) -> str | None:
    for key in ("subject", "patient", "beneficiary"):
        if key in res:
            return res[key]["reference"]
    return None


def _e(value: Any) -> str:
    return escape(str(value))


def _text(cc: dict[str, Any] | None) -> str:
    if not cc:
        return ""
    return cc.get("text") or (cc.get("coding") or [{}])[0].get("display", "")


def _qty(q: dict[str, Any]) -> str:
    return f"{q['value']} {UNIT_LABELS.get(q.get('code', ''), q.get('unit', ''))}".strip()


def patient_name(patient: dict[str, Any]) -> str:
    name = patient["name"][0]
    return f"{' '.join(name.get('given', []))} {name.get('family', '')}".strip()


def _field(label: str, value: str, wide: bool = False) -> str:
    cls = "field wide" if wide else "field"
    return f'<div class="{cls}"><span class="label">{_e(label)}</span><span class="value">{_e(value)}</span></div>'


def _encounters(ix: _Index, patient: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(ix.of(patient, "Encounter"), key=lambda e: e["period"]["start"])


def _by_encounter(items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in items:
        ref = (r.get("encounter") or r.get("context", {}).get("encounter", [{}])[0] or {}).get("reference")
        if ref:
            out[ref].append(r)
    return out


# ------------------------------------------------------------------------------------------ sections
def _face(ix: _Index, p: dict[str, Any], style: ChartStyle) -> str:
    d = style.date_formats["face"]
    name = p["name"][0]
    address = p["address"][0]
    mrn = next(i["value"] for i in p["identifier"] if i.get("system") == MRN_SYSTEM)
    coverage = ix.of(p, "Coverage")
    contact = p.get("contact", [{}])[0]
    contact_name = contact.get("name", {})
    allergies = ix.of(p, "AllergyIntolerance")
    problems = [c for c in ix.of(p, "Condition")
                if c["category"][0]["coding"][0]["code"] == "problem-list-item"]
    doc = ix.get((p.get("generalPractitioner") or [None])[0])
    doc_name = doc.get("name", [{}])[0] if doc else {}
    parts = [
        '<h3>Patient registration</h3><div class="grid">',
        _field("Last name", name.get("family", "")),
        _field("First name", name.get("given", [""])[0]),
        _field("Middle initial", (name.get("given", ["", ""]) + [""])[1]),
        _field("MRN", mrn),
        _field("Date of birth", format_date(p["birthDate"], d)),
        _field("Sex", SEX_LABELS.get(p["gender"], p["gender"])),
        _field("Street address", ", ".join(address.get("line", [])), wide=True),
        _field("City", address.get("city", "")),
        _field("State", address.get("state", "")),
        _field("ZIP", address.get("postalCode", "")),
        _field(f"Phone ({p['telecom'][0].get('use', 'home')})", p["telecom"][0]["value"]),
        "</div><h3>Insurance</h3><div class='grid'>",
    ]
    for cov in coverage:
        parts += [_field("Primary insurance", cov["payor"][0].get("display", "")),
                  _field("Member ID", cov.get("subscriberId", "")),
                  _field("Subscriber", "Self")]
    parts.append("</div><h3>Emergency contact</h3><div class='grid'>")
    if contact:
        parts += [
            _field("Name", f"{' '.join(contact_name.get('given', []))} {contact_name.get('family', '')}".strip()),
            _field("Relationship", _text(contact["relationship"][0]).title() if contact.get("relationship") else ""),
            _field("Phone", contact.get("telecom", [{}])[0].get("value", "")),
        ]
    if doc_name:
        parts.append(_field("Primary care provider",
                            f"{' '.join(doc_name.get('given', []))} {doc_name.get('family', '')}, "
                            f"{', '.join(doc_name.get('suffix', []))}"))
    parts.append("</div><h3>Allergies</h3><ul class='list'>")
    for a in allergies:
        reaction = a.get("reaction", [{}])[0]
        manifestation = _text(reaction.get("manifestation", [{}])[0]) if reaction else ""
        severity = reaction.get("severity", "")
        detail = f" — {manifestation} ({severity})" if manifestation else ""
        parts.append(f"<li>{_e(_text(a['code']))}{_e(detail)}</li>")
    parts.append("</ul><h3>Problem list</h3><table><tr><th>Problem</th><th>Onset</th><th>Status</th></tr>")
    for c in problems:
        parts.append(f"<tr><td>{_e(_text(c['code']))}</td><td>{_e(format_date(c['onsetDateTime'], d))}</td>"
                     f"<td>{_e(_text(c['clinicalStatus']))}</td></tr>")
    parts.append("</table>")
    return "".join(parts)


def _notes(ix: _Index, p: dict[str, Any], style: ChartStyle) -> str:
    d = style.date_formats["notes"]
    docs = _by_encounter(ix.of(p, "DocumentReference"))
    parts = []
    for n, enc in enumerate(_encounters(ix, p), start=1):
        start = enc["period"]["start"]
        provider = ix.get(enc["participant"][0]["individual"])
        pname = provider.get("name", [{}])[0]
        signer = f"{' '.join(pname.get('given', []))} {pname.get('family', '')}, {', '.join(pname.get('suffix', []))}"
        setting = "Emergency department" if enc["class"]["code"] == "EMER" else "Office visit"
        org = ix.get(enc.get("serviceProvider"))
        parts.append(f'<article class="note"><header><strong>Visit {n}: {_e(setting)}</strong> — '
                     f"{_e(_text(enc['type'][0]))}<span class='when'>Date: {_e(format_date(start, d))} "
                     f"Time in: {_e(format_time(start))} Time out: {_e(format_time(enc['period']['end']))}</span>"
                     f"<span class='where'>{_e(org.get('name', ''))}</span></header>")
        for doc in docs.get(f"urn:uuid:{enc['id']}", []):
            text = base64.b64decode(doc["content"][0]["attachment"]["data"]).decode("utf-8")
            parts.append(f"<pre>{_e(text)}</pre>")
        parts.append(f"<footer>Electronically signed: {_e(signer)}</footer></article>")
    return "".join(parts)


def _meds(ix: _Index, p: dict[str, Any], style: ChartStyle) -> str:
    d = style.date_formats["meds"]
    rows = ["<table><tr><th>Medication</th><th>Strength / form</th><th>Directions (sig)</th>"
            "<th>Started</th><th>Stop</th><th>Status</th></tr>"]
    for m in sorted(ix.of(p, "MedicationRequest"), key=lambda m: m["authoredOn"]):
        med_text = m["medicationCodeableConcept"]["text"]
        name = m["medicationCodeableConcept"]["coding"][0]["display"]
        strength_form = med_text[len(name):].strip()
        stop = m.get("dispenseRequest", {}).get("validityPeriod", {}).get("end")
        rows.append(f"<tr><td>{_e(name)}</td><td>{_e(strength_form)}</td>"
                    f"<td>{_e(m['dosageInstruction'][0]['text'])}</td><td>{_e(format_date(m['authoredOn'], d))}</td>"
                    f"<td>{_e(format_date(stop, d) if stop else 'ongoing')}</td><td>{_e(m['status'])}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


VITAL_ROWS = (
    ("85354-9", "Blood pressure"), ("8867-4", "Pulse"), ("9279-1", "Respirations"), ("8310-5", "Temperature"),
    ("2708-6", "SpO2"), ("29463-7", "Weight"), ("8302-2", "Height"), ("39156-5", "BMI"),
)


def _vitals(ix: _Index, p: dict[str, Any], style: ChartStyle) -> str:
    d = style.date_formats["vitals"]
    encounters = _encounters(ix, p)
    obs = _by_encounter([o for o in ix.of(p, "Observation")
                         if o["category"][0]["coding"][0]["code"] == "vital-signs"])
    head = "".join(f"<th>{_e(format_date(e['period']['start'], d))}</th>" for e in encounters)
    rows = [f"<table class='flowsheet'><tr><th>Vital sign</th>{head}</tr>"]
    for code, label in VITAL_ROWS:
        cells = []
        for e in encounters:
            match = next((o for o in obs.get(f"urn:uuid:{e['id']}", []) if o["code"]["coding"][0]["code"] == code), None)
            if match is None:
                cells.append("<td>—</td>")
            elif "component" in match:
                sbp, dbp = (c["valueQuantity"]["value"] for c in match["component"])
                cells.append(f"<td>{_e(f'{sbp}/{dbp} mmHg')}</td>")
            else:
                cells.append(f"<td>{_e(_qty(match['valueQuantity']))}</td>")
        rows.append(f"<tr><th>{_e(label)}</th>{''.join(cells)}</tr>")
    rows.append("</table>")
    return "".join(rows)


def _labs(ix: _Index, p: dict[str, Any], style: ChartStyle) -> str:
    d = style.date_formats["labs"]
    labs = _by_encounter([o for o in ix.of(p, "Observation") if o["category"][0]["coding"][0]["code"] == "laboratory"])
    parts = []
    for e in _encounters(ix, p):
        results = labs.get(f"urn:uuid:{e['id']}", [])
        if not results:
            continue
        collected = results[0]["effectiveDateTime"]
        parts.append(f"<section class='labreport'><h3>Collected {_e(format_date(collected, d))} "
                     f"{_e(format_time(collected))}</h3><table><tr><th>Test</th><th>Result</th><th>Flag</th>"
                     f"<th>Units</th><th>Reference range</th><th>LOINC</th></tr>")
        for o in results:
            flag = o["interpretation"][0]["coding"][0]["code"]
            if "valueQuantity" in o:
                q = o["valueQuantity"]
                rr = o["referenceRange"][0]
                value, unit, ref = q["value"], q["unit"], f"{rr['low']['value']}-{rr['high']['value']}"
            else:
                value, unit, ref = o["valueString"], "", o["referenceRange"][0]["text"]
            parts.append(f"<tr><td>{_e(o['code']['coding'][0]['display'])}</td><td>{_e(value)}</td>"
                         f"<td class='flag'>{'' if flag == 'N' else _e(flag)}</td><td>{_e(unit)}</td>"
                         f"<td>{_e(ref)}</td><td>{_e(o['code']['coding'][0]['code'])}</td></tr>")
        parts.append("</table></section>")
    return "".join(parts) or "<p>No laboratory results on file.</p>"


def _superbill(ix: _Index, p: dict[str, Any], style: ChartStyle) -> str:
    """The encounter form as the provider checked it: services and diagnoses in the provider's words,
    no codes, no code titles, no drug units; the codes are the student's job."""
    d = style.date_formats["superbill"]
    claims = {(claim_encounter(c) or {}).get("reference"): c for c in ix.of(p, "Claim")}
    parts = []
    for n, e in enumerate(_encounters(ix, p), start=1):
        claim = claims.get(f"urn:uuid:{e['id']}")
        if claim is None:
            continue
        parts.append(f"<section class='superbill'><h3>Visit {n} — date of service "
                     f"{_e(format_date(e['period']['start'], d))}</h3><table><tr><th>Services checked</th></tr>")
        for words in dict.fromkeys(i["productOrService"].get("text", "") for i in claim["item"]):
            if words:
                parts.append(f"<tr><td>☑ {_e(words)}</td></tr>")
        parts.append("</table><h4>Diagnoses (provider's words)</h4><ol>")
        for dx in e.get("diagnosis", []):
            cond = ix.get(dx["condition"])
            parts.append(f"<li>{_e(_text(cond.get('code')))}</li>")
        parts.append("</ol></section>")
    return "".join(parts)


RENDERERS = {"face": _face, "notes": _notes, "meds": _meds, "vitals": _vitals, "labs": _labs, "superbill": _superbill}


def chart_pages(key: dict[str, Any], style: ChartStyle) -> list[ChartPage]:
    ix = _Index(key)
    pages = []
    for patient in ix.patients:
        for section in CHART_SECTIONS:
            pages.append(ChartPage(patient_name(patient), section, SECTION_TITLES[section],
                                   RENDERERS[section](ix, patient, style)))
    return pages


CHART_CSS = """
.hitsim-chart { font-family: Georgia, 'Times New Roman', serif; color: #1d1d1b; }
.hitsim-chart h2 { border-bottom: 2px solid #1d1d1b; padding-bottom: 4px; margin: 24px 0 8px; font-size: 1.35rem; }
.hitsim-chart h3 { font-size: 1.05rem; margin: 16px 0 6px; }
.hitsim-chart h4 { font-size: 0.95rem; margin: 10px 0 4px; }
.hitsim-chart .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 6px 14px; }
.hitsim-chart .field { border-bottom: 1px solid #9a9a92; padding: 2px 0 3px; min-height: 2.4em; }
.hitsim-chart .field.wide { grid-column: span 2; }
.hitsim-chart .label { display: block; font: 600 0.68rem/1.2 Arial, sans-serif; text-transform: uppercase;
  letter-spacing: .04em; color: #5b5b55; }
.hitsim-chart .value { font-size: 1rem; }
.hitsim-chart table { border-collapse: collapse; width: 100%; margin: 4px 0 10px; font-size: .95rem; }
.hitsim-chart th, .hitsim-chart td { border: 1px solid #b8b8ae; padding: 4px 8px; text-align: left; vertical-align: top; }
.hitsim-chart th { background: #efeee6; font: 600 .8rem Arial, sans-serif; }
.hitsim-chart .flag { color: #a11; font-weight: 700; }
.hitsim-chart .note { border: 1px solid #c9c8bd; background: #fffef7; padding: 10px 14px; margin: 0 0 14px; }
.hitsim-chart .note header { display: flex; flex-wrap: wrap; gap: 4px 14px; align-items: baseline;
  border-bottom: 1px dashed #c9c8bd; padding-bottom: 6px; }
.hitsim-chart .note .when, .hitsim-chart .note .where { font-size: .85rem; color: #4b4b45; }
.hitsim-chart pre { white-space: pre-wrap; font: .95rem/1.45 'Courier New', Courier, monospace; margin: 8px 0; }
.hitsim-chart footer { font-style: italic; font-size: .85rem; color: #4b4b45; }
.hitsim-chart ul.list { margin: 4px 0 10px 18px; padding: 0; list-style: disc; }
.hitsim-chart ol { margin: 4px 0 10px 22px; padding: 0; list-style: decimal; }
@media print { .hitsim-chart h2 { break-before: page; } .hitsim-chart .note { break-inside: avoid; } }
"""


def render_chart_html(case: GeneratedCase) -> str:
    """The whole printable paper chart, one HTML document."""
    pages = chart_pages(case.key, case.style)
    title = f"{case.scenario.title} — paper chart"
    body = []
    current = None
    for page in pages:
        if page.patient != current:
            current = page.patient
            body.append(f"<h1 class='patient'>Patient chart: {_e(page.patient)}</h1>")
        body.append(f"<section id='{_e(page.section)}'><h2>{_e(page.title)}</h2>{page.html}</section>")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>body{{max-width:980px;margin:24px auto;padding:0 16px}}"
        f"h1.patient{{font-family:Arial,sans-serif;font-size:1.5rem}}{CHART_CSS}</style></head>"
        f"<body class='hitsim-chart'><p><em>{_e(case.scenario.title)}</em> · case {_e(case.scenario.slug)}, "
        f"seed {case.seed} · synthetic patient data for training; not a real person.</p>"
        + "".join(body) + "</body></html>\n"
    )

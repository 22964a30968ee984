"""The paper chart: every fact the student is graded on is printed, the coding key is not, data is escaped."""

from __future__ import annotations

import base64
import datetime as dt
import html
import re

import pytest

from simulator.chart import render_chart_html
from simulator.generate import generate_case, load_scenario
from simulator.generate.scenario import list_scenario_files

SCENARIOS = [load_scenario(f) for f in list_scenario_files()]


def chart_text(markup: str) -> str:
    text = re.sub(r"<[^>]+>", " ", markup)
    return re.sub(r"\s+", " ", html.unescape(text))


def date_forms(value: str) -> set[str]:
    """Every way the chart may print a date (written here independently of the renderer)."""
    d = dt.date.fromisoformat(value[:10])
    return {d.isoformat(), f"{d.month:02d}/{d.day:02d}/{d.year}", f"{d.month}/{d.day}/{d.year % 100:02d}",
            f"{d.day} {d.strftime('%b')} {d.year}"}


def facts(key: dict) -> list[tuple[str, set[str]]]:
    """(what, acceptable printings) for each fact of the key a student is graded on."""
    out: list[tuple[str, set[str]]] = []
    for e in key["entry"]:
        r = e["resource"]
        t = r["resourceType"]
        if t == "Patient":
            name = r["name"][0]
            out += [("family name", {name["family"]}), ("first name", {name["given"][0]})]
            if len(name["given"]) > 1:
                out.append(("middle initial", {name["given"][1]}))
            out += [("MRN", {r["identifier"][0]["value"]}), ("birth date", date_forms(r["birthDate"])),
                    ("sex", {r["gender"][0].upper()})]
            a = r["address"][0]
            out += [("street", {", ".join(a["line"])}), ("city", {a["city"]}), ("state", {a["state"]}),
                    ("zip", {a["postalCode"]}), ("phone", {r["telecom"][0]["value"]})]
            c = r["contact"][0]
            out += [("contact name", {c["name"]["given"][0]}), ("contact phone", {c["telecom"][0]["value"]})]
        elif t == "Coverage":
            out += [("payer", {r["payor"][0]["display"]}), ("member id", {r["subscriberId"]})]
        elif t == "AllergyIntolerance":
            out.append(("allergy", {r["code"]["text"]}))
            for reaction in r.get("reaction", []):
                out.append(("reaction", {reaction["manifestation"][0]["text"]}))
        elif t == "Condition":
            out.append(("condition", {r["code"]["text"]}))
            if r["category"][0]["coding"][0]["code"] == "problem-list-item":
                out.append(("onset", date_forms(r["onsetDateTime"])))
        elif t == "Encounter":
            out += [("visit date", date_forms(r["period"]["start"])), ("reason", {r["reasonCode"][0]["text"]}),
                    ("time in", {r["period"]["start"][11:16]})]
        elif t == "MedicationRequest":
            concept = r["medicationCodeableConcept"]
            out += [("medication", {concept["coding"][0]["display"]}),
                    ("strength", {concept["text"][len(concept["coding"][0]["display"]):].strip()}),
                    ("sig", {r["dosageInstruction"][0]["text"]}), ("start", date_forms(r["authoredOn"]))]
        elif t == "Observation":
            if "component" in r:
                values = [str(c["valueQuantity"]["value"]) for c in r["component"]]
                out.append(("blood pressure", {"/".join(values)}))
            elif "valueQuantity" in r:
                out.append((r["code"]["coding"][0]["display"], {f"{r['valueQuantity']['value']} "}))
            else:
                out.append((r["code"]["coding"][0]["display"], {r["valueString"]}))
        elif t == "Procedure":
            out.append(("procedure", {r["code"]["text"]}))
        elif t == "DocumentReference":
            note = base64.b64decode(r["content"][0]["attachment"]["data"]).decode()
            out += [("note line", {re.sub(r"\s+", " ", line)}) for line in note.splitlines() if line.strip()]
        elif t == "Claim":
            # Services as the provider checked them on the encounter form (provider's words, not code titles).
            out += [("service", {i["productOrService"]["text"]}) for i in r["item"]]
    return out


def test_every_graded_fact_of_200_keys_appears_in_its_chart():
    missing = []
    for i in range(200):
        case = generate_case(SCENARIOS[i % len(SCENARIOS)], 500 + i)
        text = chart_text(render_chart_html(case))
        for what, forms in facts(case.key):
            if not any(f in text for f in forms):
                missing.append((case.scenario.slug, case.seed, what, sorted(forms)))
    assert missing == []


def test_the_coding_key_is_not_printed():
    for i in range(40):
        case = generate_case(SCENARIOS[i % len(SCENARIOS)], 900 + i)
        text = chart_text(render_chart_html(case))
        for e in case.key["entry"]:
            if e["resource"]["resourceType"] != "Claim":
                continue
            for d in e["resource"]["diagnosis"]:
                code = d["diagnosisCodeableConcept"]["coding"][0]["code"]
                assert not re.search(rf"\b{re.escape(code)}\b", text), f"ICD-10-CM {code} printed"
            for item in e["resource"]["item"]:
                code = item["productOrService"]["coding"][0]["code"]
                assert not re.search(rf"\b{code}\b", text), f"service code {code} printed"


def test_messiness_knobs_change_the_printing_not_the_facts():
    sc = load_scenario("emergency-department")
    case = generate_case(sc, 3)
    formats = set(case.style.date_formats.values())
    assert formats <= {"iso", "us", "long"}
    units = {o["resource"]["valueQuantity"]["code"] for o in case.key["entry"]
             if o["resource"]["resourceType"] == "Observation" and "valueQuantity" in o["resource"]}
    assert units & {"kg", "[lb_av]"} and units & {"Cel", "[degF]"}


def test_chart_text_is_escaped_never_markup():
    case = generate_case(SCENARIOS[0], 1)
    patient = next(e["resource"] for e in case.key["entry"] if e["resource"]["resourceType"] == "Patient")
    patient["name"][0]["family"] = "<script>alert(1)</script>"
    out = render_chart_html(case)
    assert "<script>alert(1)</script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out


@pytest.mark.parametrize("style", ["iso", "us", "us-short", "long"])
def test_date_formats_print_as_named(style):
    from simulator.chart.render import format_date

    printed = format_date("2021-03-04T10:00:00-07:00", style)
    assert printed == {"iso": "2021-03-04", "us": "03/04/2021", "us-short": "3/4/21", "long": "4 Mar 2021"}[style]


def test_the_fact_check_notices_a_missing_document():
    """Guard for the test above: drop the medication list and the sigs are no longer found."""
    from simulator.chart import chart_pages

    case = generate_case(load_scenario("clinic-chronic-care"), 8)
    pages = [p for p in chart_pages(case.key, case.style) if p.section not in ("meds", "notes")]
    text = chart_text(" ".join(p.html for p in pages))
    missing = [what for what, forms in facts(case.key) if not any(f in text for f in forms)]
    assert "sig" in missing

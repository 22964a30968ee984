"""What the instructor's pages share: the refusal page, field errors, dates, long jobs with a progress bar."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from html import escape
from typing import Any

from nicegui import ui

from simulator.services import gradebook
from simulator.services.accounts import SignedInUser
from simulator.services.errors import InvalidInput
from simulator.store import Store
from simulator.ui.frame import frame, signed_in_user

DIFFICULTY_COLOURS = {"introductory": "green-8", "intermediate": "amber-9", "advanced": "red-8"}


def page_user() -> SignedInUser:
    user = signed_in_user()
    assert user is not None  # the auth middleware guarantees it
    return user


def refused(title: str, exc: Exception) -> None:
    """A page the signed-in user may not see: the reason, and the way back."""
    with frame(title):
        ui.label(str(exc)).classes("text-negative").mark("error")
        ui.link("Back to the start page", "/")


class FieldErrors:
    """Shows a service's InvalidInput at the widget of the field it names (and in a banner above the form)."""

    def __init__(self, banner: ui.label):
        self.widgets: dict[str, Any] = {}
        self.banner = banner
        banner.set_visibility(False)

    def add(self, field: str, widget: Any) -> Any:
        self.widgets[field] = widget
        return widget

    def clear(self) -> None:
        self.banner.set_visibility(False)
        for widget in self.widgets.values():
            if hasattr(widget, "error"):
                widget.error = None

    def show(self, exc: InvalidInput) -> None:
        self.clear()
        widget = self.widgets.get(exc.field)
        if widget is not None and hasattr(widget, "error"):
            widget.error = str(exc)
        self.banner.set_text(str(exc))
        self.banner.set_visibility(True)


def parse_when(value: str | None, label: str, field: str) -> dt.datetime | None:
    """A date and time from a datetime-local field (UTC, like every time the app shows), or None when empty."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(field, f"{label}: expected a date and time like 2026-12-01 23:59, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def when_text(moment: dt.datetime | None, empty: str = "—") -> str:
    if moment is None:
        return empty
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return moment.strftime("%b %d, %Y %H:%M UTC")


class Progress:
    """A progress bar and a line of text that a worker thread may update; the page copies it in a timer."""

    def __init__(self, marker: str):
        self.done, self.total, self.text = 0, 0, ""
        with ui.column().classes("w-full gap-1") as self.box:
            self.bar = ui.linear_progress(value=0, show_value=False, size="12px").props("instant-feedback").classes(
                "w-full").mark(marker)
            self.label = ui.label().classes("text-sm hitsim-muted").mark(f"{marker}-text")
        self.box.set_visibility(False)
        self.timer = ui.timer(0.25, self._show, active=False)

    def update(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def _show(self) -> None:
        self.bar.set_value(self.done / self.total if self.total else 0)
        self.label.set_text(f"{self.text} {self.done} of {self.total}")

    def start(self, text: str, total: int = 0) -> Callable[[int, int], None]:
        self.text, self.done, self.total = text, 0, total
        self.box.set_visibility(True)
        self.timer.activate()
        self._show()
        return self.update

    def finish(self, text: str) -> None:
        self.timer.deactivate()
        self._show()
        self.bar.set_value(1)
        self.label.set_text(text)


def key_rows(bundle: dict[str, Any]) -> list[dict[str, str]]:
    """The answer key as rows an instructor reads: resource type and what it says."""
    rows = []
    for entry in bundle.get("entry", []):
        r = entry["resource"]
        rows.append({"type": r["resourceType"], "what": _summary(r)})
    return rows


def _concept(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    coding = (concept.get("coding") or [{}])[0]
    return concept.get("text") or coding.get("display") or coding.get("code", "")


def _code(concept: Any) -> str:
    return ((concept or {}).get("coding") or [{}])[0].get("code", "") if isinstance(concept, dict) else ""


def _value(r: dict[str, Any]) -> str:
    if "valueQuantity" in r:
        return f"{r['valueQuantity'].get('value', '')} {r['valueQuantity'].get('unit', '')}".strip()
    if "valueString" in r:
        return str(r["valueString"])
    if "valueCodeableConcept" in r:
        return _concept(r["valueCodeableConcept"])
    parts = [_value(c) for c in r.get("component", [])]
    return " / ".join(p for p in parts if p)


def _summary(r: dict[str, Any]) -> str:
    kind = r["resourceType"]
    if kind == "Patient":
        name = (r.get("name") or [{}])[0]
        return f"{' '.join(name.get('given', []))} {name.get('family', '')}, born {r.get('birthDate', '?')}, {r.get('gender', '')}"
    if kind in ("Organization", "Practitioner"):
        name = r.get("name")
        if isinstance(name, list):
            name = " ".join([*(name[0].get("prefix", []) if name else []), *(name[0].get("given", []) if name else []),
                             name[0].get("family", "") if name else ""])
        return str(name or "")
    if kind == "Encounter":
        types = ", ".join(_concept(t) for t in r.get("type", []))
        start = str(r.get("period", {}).get("start", ""))[:16].replace("T", " ")
        return f"{start} · {types} · {_concept((r.get('reasonCode') or [None])[0])}"
    if kind == "Claim":
        dx = [_code(c.get("diagnosisCodeableConcept")) for c in r.get("diagnosis", [])]
        items = [_code(i.get("productOrService")) for i in r.get("item", [])]
        return f"diagnoses {' '.join(dx)} · services {' '.join(items)}"
    if kind == "Observation":
        return f"{_concept(r.get('code'))}: {_value(r)}"
    if kind == "Condition":
        return f"{_code(r.get('code'))} {_concept(r.get('code'))}".strip()
    for key in ("medicationCodeableConcept", "code", "type"):
        if isinstance(r.get(key), dict):
            return _concept(r[key])
    return ""


def answer_key_view(bundle: dict[str, Any]) -> None:
    """The answer key for the instructor: a readable table, and the FHIR Bundle itself."""
    ui.table(columns=[{"name": "type", "label": "Resource", "field": "type", "align": "left"},
                      {"name": "what", "label": "In the key", "field": "what", "align": "left"}],
             rows=key_rows(bundle), row_key="what").props("dense flat").classes("w-full").mark("answer-key")
    with ui.expansion("FHIR Bundle (JSON)").classes("w-full").props("dense"):
        ui.code(json.dumps(bundle, indent=2, ensure_ascii=False), language="json").classes("w-full")


def chart_tabs(pages: tuple[Any, ...]) -> None:
    """The paper chart as tabs, one per document (as the student reads it)."""
    patients = list(dict.fromkeys(p.patient for p in pages))
    with ui.tabs().classes("w-full text-primary").props("align=left dense no-caps outside-arrows").mark("chart-tabs") as tabs:
        tab_list = [ui.tab(f"{p.patient}|{p.section}", label=p.title if len(patients) == 1 else
                           f"{p.patient.split()[-1]}: {p.title}") for p in pages]
    with ui.tab_panels(tabs, value=tab_list[0], animated=False).classes("w-full bg-transparent"):
        for p, tab in zip(pages, tab_list, strict=True):
            with ui.tab_panel(tab).classes("px-0"):
                with ui.element("div").classes("hitsim-chart hitsim-chart-paper"):
                    ui.html(f"<h2>{escape(p.title)} — {escape(p.patient)}</h2>{p.html}").classes("w-full")


def score_change_notice(store: Store, user: SignedInUser, attempt_id: int) -> None:
    """On a grade report: the instructor's score changes, with their reasons (what the student is told)."""
    changes = gradebook.score_overrides_for(store, user=user, attempt_id=attempt_id)
    if not changes:
        return
    latest = changes[0]
    with ui.card().classes("w-full bg-amber-1").mark("score-override"):
        ui.label(f"Your instructor changed the score to {latest.score:.1f} / 100").classes("hitsim-card-title")
        ui.label(f"Reason: {latest.reason}").mark("override-reason")
        ui.label(f"{latest.by}, {when_text(latest.at)} (the grader gave {latest.previous_score:.1f})"
                 if latest.previous_score is not None else f"{latest.by}, {when_text(latest.at)}").classes("text-sm hitsim-muted")

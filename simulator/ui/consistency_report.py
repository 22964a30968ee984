"""The consistency report page: every visit of a patient side by side, changes marked, and the
student's discrepancy records beside it (saved as they are typed)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from nicegui import ui

from simulator.reports.consistency_record import Chart
from simulator.reports.consistency_report import SECTIONS, comparison_rows
from simulator.reports.consistency_rules import DISCREPANCY_KINDS
from simulator.services import consistency
from simulator.services.accounts import SignedInUser
from simulator.services.assignments import AttemptView
from simulator.services.consistency import DiscrepancyInput, ReportView
from simulator.services.errors import InvalidInput, PermissionDenied
from simulator.services.workspace import SavedResource, VersionConflict
from simulator.store import Store
from simulator.ui.frame import frame
from simulator.ui.workspace import Autosave, SaveIndicator, submit_button

CSS = """
.cr-wrap { overflow: auto; max-height: calc(100vh - 270px); border: 1px solid #d8dbd4; background: #fff; }
table.cr { border-collapse: separate; border-spacing: 0; font-size: 13px; }
table.cr th, table.cr td { border-bottom: 1px solid #e6e8e3; border-right: 1px solid #eef0ec; padding: 4px 8px;
  vertical-align: top; min-width: 150px; max-width: 230px; }
table.cr thead th { position: sticky; top: 0; background: #eef3ec; z-index: 2; text-align: left; }
table.cr th.cr-label { position: sticky; left: 0; background: #f8f9f6; z-index: 1; min-width: 190px; font-weight: 500;
  text-align: left; }
table.cr thead th.cr-label { z-index: 3; background: #eef3ec; }
table.cr tr.cr-section th { background: #14532d; color: #fff; text-align: left; position: sticky; left: 0; }
td.cr-changed { background: #fff1c2; box-shadow: inset 3px 0 #d99a00; }
td.cr-added { background: #e3f4e1; box-shadow: inset 3px 0 #2e8b3a; }
td.cr-removed { background: #fbe3e1; box-shadow: inset 3px 0 #c0392b; }
td.cr-removed:empty::after { content: "(not listed)"; color: #a33; font-style: italic; }
td .cr-note { display: block; font-size: 11px; color: #5f6360; font-style: italic; }
td details summary { cursor: pointer; color: #14532d; }
td pre { white-space: pre-wrap; font-family: inherit; font-size: 12px; margin: 4px 0 0; max-width: 320px; }
.cr-legend span { padding: 1px 6px; margin-right: 6px; border-radius: 3px; font-size: 12px; }
"""


def table_html(chart: Chart, sections: list[str], only_changes: bool = False) -> str:
    """The side-by-side table: a column per visit, a row per fact; changed cells carry a class."""
    head = "".join(f"<th>Visit {v.number}<br><span style='font-weight:400'>{v.date:%m/%d/%Y}</span></th>"
                   for v in chart.visits)
    body, current = [], None
    for row in comparison_rows(chart, sections):
        if only_changes and not row.changes:
            continue
        if row.section != current:
            current = row.section
            body.append(f"<tr class='cr-section'><th colspan='{len(chart.visits) + 1}'>{SECTIONS[current]}</th></tr>")
        cells = []
        for cell in row.cells:
            if row.label == "Progress note" and cell.text:
                inner = f"<details><summary>Read the note</summary><pre>{escape(cell.text)}</pre></details>"
            else:
                inner = escape(cell.text)
            if cell.note:
                inner += f"<span class='cr-note'>{escape(cell.note)}</span>"
            css = f" class='cr-{cell.state}'" if cell.state else ""
            cells.append(f"<td{css}>{inner}</td>")
        body.append(f"<tr><th class='cr-label'>{escape(row.label)}</th>{''.join(cells)}</tr>")
    if not body:
        body.append(f"<tr><td colspan='{len(chart.visits) + 1}'>Nothing changes between visits in these sections."
                    "</td></tr>")
    return (f"<table class='cr'><thead><tr><th class='cr-label'>{escape(chart.label)}</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


class RecordEditor:
    """One discrepancy record: category, visits, note, proposed correction; saved a moment after each change."""

    def __init__(self, page: ReportPage, saved: SavedResource | None, chart: Chart,
                 on_delete: Callable[[RecordEditor], None]):
        self.page, self.saved, self.on_delete = page, saved, on_delete
        data = consistency.read_input(saved.resource) if saved else DiscrepancyInput("", ())
        self.autosave = Autosave(self.save, "consistency-autosave", page.indicator)
        options = {v.encounter_id: f"Visit {v.number} · {v.date:%m/%d/%Y}" for v in chart.visits}
        for vid in data.visits:  # visits of another chart stay chosen
            options.setdefault(vid, page.view.visit_label(vid))
        disabled = page.view.read_only
        with ui.card().classes("w-full p-3 gap-1").mark("discrepancy-record") as self.card:
            with ui.row().classes("w-full items-start no-wrap gap-2"):
                self.category = ui.select({k: v for k, v in DISCREPANCY_KINDS.items()}, value=data.category or None,
                                          label="Category").props("outlined dense options-dense").classes(
                    "grow").mark("record-category")
                self.delete_button = ui.button(icon="delete_outline", on_click=self.delete).props(
                    "flat round dense color=grey-7").tooltip("Delete this record").mark("record-delete")
            self.visits = ui.select(options, value=list(data.visits), multiple=True, label="Visits involved").props(
                "outlined dense use-chips options-dense").classes("w-full").mark("record-visits")
            self.note = ui.textarea("Note: what does not add up", value=data.note).props(
                "outlined dense autogrow maxlength=2000").classes("w-full").mark("record-note")
            self.correction = ui.input("Proposed correction (optional)", value=data.correction).props(
                "outlined dense maxlength=500").classes("w-full").mark("record-correction")
        for el in (self.category, self.visits):
            el.on_value_change(lambda: self.changed(immediate=True))
        for el in (self.note, self.correction):
            el.on_value_change(lambda: self.changed())
            el.on("blur", lambda: self.changed(immediate=True))
        if disabled:
            for el in (self.category, self.visits, self.note, self.correction):
                el.disable()
            self.delete_button.set_visibility(False)

    def changed(self, immediate: bool = False) -> None:
        if not self.page.view.read_only:
            self.autosave(immediate)

    def data(self) -> DiscrepancyInput:
        return DiscrepancyInput(category=self.category.value or "", visits=tuple(self.visits.value or ()),
                                note=self.note.value or "", correction=self.correction.value or "",
                                id=self.saved.resource["id"] if self.saved else None)

    def save(self) -> None:
        for el in (self.category, self.visits, self.note, self.correction):
            el.error = None
        try:
            self.saved = consistency.save_discrepancy(
                self.page.store, user=self.page.user, attempt_id=self.page.view.attempt_id, data=self.data(),
                expected_version=self.saved.version if self.saved else 0)
        except InvalidInput as exc:
            field = {"category": self.category, "visits": self.visits, "note": self.note,
                     "correction": self.correction}.get(exc.field, self.category)
            field.error = str(exc)
            self.page.indicator.failed(str(exc))
            return
        except VersionConflict:
            self.page.indicator.failed("this record was changed in another tab; reload the page to see it")
            return
        except PermissionDenied as exc:
            self.page.indicator.failed(str(exc))
            return
        self.page.records[self.saved.resource["id"]] = self.saved
        self.page.indicator.saved()
        self.page.update_count()

    def delete(self) -> None:
        if self.saved is not None:
            try:
                consistency.delete_discrepancy(self.page.store, user=self.page.user,
                                               attempt_id=self.page.view.attempt_id, saved=self.saved)
            except (VersionConflict, PermissionDenied) as exc:
                ui.notify(str(exc), type="warning")
                return
            self.page.records.pop(self.saved.resource["id"], None)
            self.page.indicator.saved()
        self.on_delete(self)


class ReportPage:
    """The state of one open report page: the record, the filters and the student's records."""

    def __init__(self, store: Store, user: SignedInUser, view: ReportView, patient: str):
        self.store, self.user, self.view = store, user, view
        self.records: dict[str, SavedResource] = {r.resource["id"]: r for r in view.records}
        self.chart = next((c for c in view.charts if c.mrn == patient), view.charts[0])
        self.sections = list(SECTIONS)
        self.only_changes = False
        self.indicator = SaveIndicator(view.last_saved_at)
        self.count_label: ui.label | None = None

    def update_count(self) -> None:
        if self.count_label is not None:
            n = len(self.records)
            self.count_label.set_text(f"{n} discrepanc{'y' if n == 1 else 'ies'} recorded in all charts")


def consistency_page(store: Store, user: SignedInUser, attempt: AttemptView, patient: str = "") -> None:
    """The attempt page of a scenario whose task is the consistency report."""
    view = consistency.load_report(store, user=user, attempt_id=attempt.attempt_id)
    ui.add_css(CSS)
    with frame(attempt.assignment_title, wide=True):
        with ui.row().classes("w-full items-center gap-3 hitsim-muted"):
            ui.label(f"{attempt.class_name} · {attempt.scenario_title}")
            ui.label(f"Attempt {attempt.number} of {attempt.attempts_allowed}")
            ui.badge(attempt.status).mark("attempt-status")
            if attempt.status == "graded":
                ui.link("See your grade report", f"/attempt/{attempt.attempt_id}/report").mark("report-link")
        _report_body(store, user, view, patient)
        if not view.read_only:
            with ui.row().classes("w-full justify-end mt-4"):
                submit_button(store, user, attempt)


def _report_body(store: Store, user: SignedInUser, view: ReportView, patient: str) -> ReportPage:
    with ui.row().classes("w-full items-center justify-between"):
        ui.label("Consistency report: compare each patient's visits").classes("text-h6").mark("report-title")
        indicator_slot = ui.row()
    with indicator_slot:
        page = ReportPage(store, user, view, patient)
    charts = {c.mrn: f"{c.label} · {len(c.visits)} visit{'s' if len(c.visits) != 1 else ''}" for c in view.charts}
    with ui.row().classes("w-full items-center gap-4"):
        chart_select = ui.select(charts, value=page.chart.mrn, label="Patient (chart)", with_input=True).props(
            "outlined dense options-dense").classes("w-96").mark("patient-filter")
        changes = ui.switch("Only rows that change").mark("only-changes")
        ui.html("<div class='cr-legend'>Since the visit before: <span style='background:#fff1c2'>changed</span>"
                "<span style='background:#e3f4e1'>added</span><span style='background:#fbe3e1'>removed</span>"
                "</div>").classes("text-xs hitsim-muted")
    with ui.row().classes("w-full items-center gap-0").mark("section-filter"):
        ui.label("Sections:").classes("text-sm mr-2")
        section_boxes = {key: ui.checkbox(title, value=True).props("dense").classes("mr-3").mark(f"section-{key}")
                         for key, title in SECTIONS.items()}
    with ui.row().classes("w-full no-wrap items-start gap-4"):
        with ui.element("div").classes("cr-wrap grow").style("min-width: 0").mark("visit-table"):
            table = ui.html(table_html(page.chart, page.sections)).mark("visit-table-html")
        with ui.column().classes("gap-2").style("width: 400px; flex: none; max-height: calc(100vh - 250px); "
                                                "overflow-y: auto"):
            with ui.row().classes("w-full items-center justify-between"):
                ui.label("Discrepancies you found").classes("hitsim-card-title")
                add = ui.button("Add", icon="add").props("dense no-caps").mark("add-discrepancy")
            page.count_label = ui.label().classes("text-xs hitsim-muted").mark("record-count")
            page.update_count()
            ui.label("Record each one with its category and the visits involved; records save as you type.").classes(
                "text-xs hitsim-muted")
            records_box = ui.column().classes("w-full gap-2").mark("records")
    add.set_visibility(not view.read_only)
    editors: list[RecordEditor] = []

    def remove(editor: RecordEditor) -> None:
        editor.card.delete()
        editors.remove(editor)
        page.update_count()

    def show_records() -> None:
        records_box.clear()
        editors.clear()
        with records_box:
            for saved in sorted(page.records.values(), key=lambda r: r.version):
                if page.chart.ids & set(consistency.read_input(saved.resource).visits):
                    editors.append(RecordEditor(page, saved, page.chart, remove))
            if not editors:
                ui.label("None recorded for this patient yet.").classes("text-sm hitsim-muted").mark("no-records")

    def add_record() -> None:
        for label in records_box.default_slot.children:
            if isinstance(label, ui.label):
                label.delete()
        with records_box:
            editors.append(RecordEditor(page, None, page.chart, remove))

    def render() -> None:
        page.sections = [key for key, box in section_boxes.items() if box.value]
        page.only_changes = bool(changes.value)
        table.set_content(table_html(page.chart, page.sections, page.only_changes))

    def switch_chart() -> None:
        page.chart = next(c for c in view.charts if c.mrn == chart_select.value)
        render()
        show_records()

    add.on_click(add_record)
    chart_select.on_value_change(switch_chart)
    for box in section_boxes.values():
        box.on_value_change(render)
    changes.on_value_change(render)
    show_records()
    return page

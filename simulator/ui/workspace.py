"""The workspace: the paper chart on the left, the EHR on the right; every field saves as you type."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nicegui import background_tasks, run, ui

from simulator.audit.events import PURPOSES
from simulator.ehr import forms
from simulator.ehr.forms import FieldError, NeedsConfirmation, SectionSpec
from simulator.services import assignments, workspace
from simulator.services.accounts import SignedInUser
from simulator.services.errors import InvalidInput, PermissionDenied
from simulator.services.workspace import SavedResource, VersionConflict
from simulator.store import Store
from simulator.ui.audit_session import current_workstation
from simulator.ui.coding import coding_section
from simulator.ui.instructions import instructions_dialog

DEBOUNCE_SECONDS = 0.6


class SaveIndicator:
    """Tells the truth about saving: only a save the server confirmed shows 'Saved at'."""

    def __init__(self, last: dt.datetime | None):
        self.label = ui.label().classes("text-sm hitsim-save-status").mark("save-status")
        self.failures: dict[str, str] = {}  # what -> why: entries whose last change the server did not store
        if last is not None:
            self.saved(last.astimezone())
        else:
            self.label.set_text("Nothing entered yet")

        self.failures: dict[str, str] = {}  # what -> why: entries whose last change the server did not store

    def saving(self) -> None:
        self.label.set_text("Saving…")
        self.label.classes(replace="text-sm hitsim-save-status text-grey-8")

    def saved(self, when: dt.datetime | None = None, what: str = "") -> None:
        """The server stored ``what``; 'All changes saved' only when nothing else is still refused."""
        self.failures.pop(what, None)
        if self.failures:
            self._show_failure()
            return
        when = when or dt.datetime.now().astimezone()
        self.label.set_text(f"All changes saved at {when:%H:%M:%S}")
        self.label.classes(replace="text-sm hitsim-save-status text-positive")

    def failed(self, message: str, what: str = "") -> None:
        self.failures[what] = message
        self._show_failure()

    def _show_failure(self) -> None:
        message = next(reversed(self.failures.values()))
        more = f" (and {len(self.failures) - 1} more)" if len(self.failures) > 1 else ""
        self.label.set_text(f"Not saved: {message}{more}")
        self.label.classes(replace="text-sm hitsim-save-status text-negative")

    def kept(self, message: str, what: str = "") -> None:
        """Saved, except one field whose last valid value was kept: that field is not saved."""
        self.failed(f"{message} (the other fields were saved)", what)


class Workspace:
    """The state of one open workspace page: the saved resources and who is editing them."""

    def __init__(self, store: Store, user: SignedInUser, view: workspace.WorkspaceView):
        self.store, self.user = store, user
        self.attempt_id = view.attempt_id
        self.read_only = view.read_only
        self.saved: dict[str, SavedResource] = {r.resource["id"]: r for r in view.resources}
        patients = [r for r in view.resources if r.resource["resourceType"] == "Patient"]
        self.patient_id: str | None = patients[0].resource["id"] if patients else None
        self.get_encoder: Callable[[], Any] | None = None
        self.tasks: tuple[str, ...] = ()  # the scenario's tasks: enter, verify, code, audit, consistency
        self.on_show: dict[str, Callable[[], None]] = {}  # section key -> run when its tab is opened
        self.visit_selects: list[ui.select] = []
        self.rows: list[RowEditor] = []
        self.on_patient_change: list[Callable[[], None]] = []
        self.indicator: SaveIndicator | None = None
        self.workstation = current_workstation()

    # ------------------------------------------------------------------ reading
    def of(self, resource_type: str, belongs: Callable[[dict[str, Any]], bool] = lambda _r: True) -> list[SavedResource]:
        return [s for s in self.saved.values() if s.resource["resourceType"] == resource_type
                and self._mine(s.resource) and belongs(s.resource)]

    def _mine(self, resource: dict[str, Any]) -> bool:
        if resource["resourceType"] == "Patient":
            return resource["id"] == self.patient_id
        subject = resource.get("subject") or resource.get("patient") or resource.get("beneficiary")
        return forms.ref_id(subject) == self.patient_id

    def patient(self) -> dict[str, Any] | None:
        saved = self.saved.get(self.patient_id or "")
        return saved.resource if saved else None

    def context(self) -> forms.EntryContext:
        patient = self.patient() or {}
        birth = patient.get("birthDate")
        return forms.EntryContext(
            patient_id=self.ensure_patient_id(), birth_date=dt.date.fromisoformat(birth) if birth else None,
            encounters=[s.resource for s in self.of("Encounter")], today=dt.date.today())

    def ensure_patient_id(self) -> str:
        if self.patient_id is None:
            # The same id in every tab of a fresh attempt: two tabs make one Patient, not two.
            self.patient_id = workspace.first_patient_id(self.attempt_id)
        return self.patient_id

    # ------------------------------------------------------------------ writing
    def save(self, resource: dict[str, Any], version: int, what: str | None = None) -> SavedResource:
        """Save through the service; the patient's record is made first when this is its first entry.

        The indicator says saved only when the server stored it; a conflict or a refusal says not saved.
        """
        what = what or resource["id"]
        try:
            if resource["resourceType"] != "Patient" and self.patient_id not in self.saved:
                patient = workspace.ensure_patient(self.store, user=self.user, attempt_id=self.attempt_id,
                                                   patient_id=self.ensure_patient_id())
                self.saved[patient.resource["id"]] = patient
            saved = workspace.save_entry(self.store, user=self.user, attempt_id=self.attempt_id, resource=resource,
                                         expected_version=version, workstation=self.workstation)
        except VersionConflict:
            if self.indicator:
                self.indicator.failed("this entry was changed in another tab or window; the newer version is shown",
                                      what)
            raise
        except (InvalidInput, PermissionDenied) as exc:
            if self.indicator:
                self.indicator.failed(str(exc), what)
            raise
        self.saved[resource["id"]] = saved
        if self.indicator:
            self.indicator.saved(what=what)
        if resource["resourceType"] in ("Encounter", "Patient", "AllergyIntolerance"):
            self.refresh_dependents()
        return saved

    def delete(self, saved: SavedResource, what: str | None = None) -> None:
        what = what or saved.resource["id"]
        try:
            workspace.delete_entry(self.store, user=self.user, attempt_id=self.attempt_id, resource=saved.resource,
                                   expected_version=saved.version, workstation=self.workstation)
        except (VersionConflict, PermissionDenied) as exc:
            if self.indicator:
                self.indicator.failed(str(exc) if isinstance(exc, PermissionDenied)
                                      else "this entry was changed in another tab or window", what)
            raise
        self.saved.pop(saved.resource["id"], None)
        if self.indicator:
            self.indicator.saved(what=what)
        self.refresh_dependents()

    def reload(self) -> None:
        view = workspace.load_workspace(self.store, user=self.user, attempt_id=self.attempt_id)
        self.saved = {r.resource["id"]: r for r in view.resources}

    def sent_to_coding(self, resource: dict[str, Any]) -> bool:
        """Whether a resource belongs to a visit that was sent to coding (and is read-only now)."""
        if resource["resourceType"] == "Encounter":
            return workspace.is_sent_to_coding(resource)
        visits = (self.saved.get(visit_id) for visit_id in workspace.visit_ids(resource))
        return any(v is not None and workspace.is_sent_to_coding(v.resource) for v in visits)

    def refresh_dependents(self) -> None:
        options = self.context().visit_options()
        for select in self.visit_selects:
            select.set_options(options, value=select.value if select.value in options else None)
        for row in list(self.rows):
            row.update_lock()
        for callback in self.on_patient_change:
            callback()


class Autosave:
    """Runs ``save`` a moment after the last change, or at once (leaving a field, picking from a list)."""

    def __init__(self, save: Callable[[], None], name: str, indicator: SaveIndicator | None = None):
        self.save, self.name, self.indicator = save, name, indicator
        self._task: asyncio.Task | None = None

    def __call__(self, immediate: bool = False) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.indicator:
            self.indicator.saving()
        self._task = background_tasks.create(self._later(0 if immediate else DEBOUNCE_SECONDS), name=self.name)

    async def _later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self.save()


class RowEditor:
    """One resource in a section: its inputs, validated and saved (debounced) on every change."""

    def __init__(self, ws: Workspace, spec: SectionSpec, saved: SavedResource | None, on_delete: Callable[[RowEditor], None],
                 start: dict[str, str] | None = None):
        self.ws, self.spec, self.saved, self.on_delete = ws, spec, saved, on_delete
        self.what = f"{spec.key}-{uuid.uuid4()}"  # this row, for the save indicator
        self.inputs: dict[str, Any] = {}
        self.loading = False  # values being set by the program (a reload), not typed: no save
        self.autosave = Autosave(self.save, "autosave", ws.indicator)
        values = spec.read(saved.resource) if saved else dict(start or {})
        ctx = ws.context()
        self.locked = saved is not None and ws.sent_to_coding(saved.resource)
        # One line per entry on a laptop (two for a medication: the drug, then its schedule); the long names grow.
        with ui.row().classes("w-full items-start gap-x-1.5 gap-y-0 hitsim-entry-row").mark(
                f"{spec.key}-row") as self.container:
            for fs in spec.fields:
                if fs.new_line:
                    ui.element("div").classes(f"hitsim-row-break hitsim-row-break-{spec.key}")
                self.inputs[fs.name] = field_widget(spec.key, fs, values.get(fs.name, ""), ctx, self.changed, ws)
                if fs.fills is not None:
                    self.inputs[fs.name].on_value_change(lambda e, fs=fs: self.fill(fs, e.value))
                if self.locked:
                    self.inputs[fs.name].disable()
            self.lock_icon = ui.icon("lock", size="20px").classes("text-grey-6 mt-2").tooltip("Sent to coding: read-only")
            self.lock_icon.set_visibility(self.locked)
            # Out of the tab order: Tab after a row's last field goes to the next row, never to Delete.
            self.delete_button = ui.button(icon="delete_outline", on_click=self.ask_delete).props(
                "flat round dense color=grey-7 tabindex=-1").tooltip("Delete this entry").mark(f"{spec.key}-delete")
            self.delete_button.set_visibility(not ws.read_only and not self.locked)
        ws.rows.append(self)

    def update_lock(self) -> None:
        """Lock the row once its visit is sent to coding."""
        if self.saved is not None:
            self.saved = self.ws.saved.get(self.saved.resource["id"], self.saved)
        self.locked = self.saved is not None and self.ws.sent_to_coding(self.saved.resource)
        self.lock_icon.set_visibility(self.locked)
        self.delete_button.set_visibility(not self.ws.read_only and not self.locked)
        for name, el in self.inputs.items():
            shown_only = next(fs for fs in self.spec.fields if fs.name == name).shown_only
            el.set_enabled(not self.locked and not self.ws.read_only and not shown_only)

    def values(self) -> dict[str, str]:
        return {name: "" if el.value is None else str(el.value) for name, el in self.inputs.items()}

    def set_values(self, values: dict[str, str]) -> None:
        """Show values (a reload, a fill) without saving them as if typed."""
        self.loading = True
        try:
            for name, value in values.items():
                if name in self.inputs:
                    self.inputs[name].set_value(value or None)
        finally:
            self.loading = False

    def fill(self, fs: forms.FieldSpec, value: Any) -> None:
        """Picking e.g. a test fills its unit and reference range."""
        if self.loading or fs.fills is None:
            return
        self.set_values(fs.fills(str(value or "")))

    def changed(self, immediate: bool = False) -> None:
        if not (self.ws.read_only or self.locked or self.loading):
            self.autosave(immediate)

    def save(self) -> None:
        for el in self.inputs.values():
            el.error = None
        typed = [value for fs in self.spec.fields for name, value in self.values().items()
                 if name == fs.name and value and not fs.shown_only and name not in self.spec.carry]
        if self.saved is None and not typed:  # a new row left blank: nothing to save, nothing refused
            if self.ws.indicator:
                self.ws.indicator.saved(what=self.what)
            return
        resource, errors = forms.build_keeping_valid(self.spec.build, self.spec.read, self.values(), self.ws.context(),
                                                     self.saved.resource if self.saved else None)
        for field, message in errors.items():
            self._show_error(field, message)
        if resource is None:
            return
        try:
            self.saved = self.ws.save(resource, self.saved.version if self.saved else 0, self.what)
        except VersionConflict:
            self._conflict()
            return
        except (InvalidInput, PermissionDenied) as exc:
            self._show_error(getattr(exc, "field", self.spec.fields[0].name), str(exc))
            return
        # Show what was saved where the student left a field empty and the record took its default
        # (a note saved as a progress note, a medication as active): the row says what the record holds.
        typed_now = self.values()
        self.set_values({name: value for name, value in self.spec.read(self.saved.resource).items()
                         if value and not typed_now.get(name) and name in self.inputs})
        if errors and self.ws.indicator:
            self.ws.indicator.kept(next(iter(errors.values())), self.what)

    def _show_error(self, field: str, message: str) -> None:
        target = self.inputs.get(field) or self.inputs[self.spec.fields[0].name]
        target.error = message
        if self.ws.indicator:
            self.ws.indicator.failed(message, self.what)

    def _conflict(self) -> None:
        self.ws.reload()
        fresh = self.ws.saved.get(self.saved.resource["id"]) if self.saved else None
        self.saved = fresh
        self.set_values(self.spec.read(fresh.resource) if fresh else {name: "" for name in self.inputs})
        with self.container:
            ui.notify("This entry was changed in another tab or window. You now see the newer version; "
                      "type your change again if it is still needed.", type="warning", multi_line=True)
        if self.ws.indicator:  # stays "not saved" until the student saves this entry again
            self.ws.indicator.failed("an entry was changed in another tab or window; the newer version is shown, "
                                     "your change was not saved", self.what)

    def ask_delete(self) -> None:
        """An entry that was saved is deleted only after the student says so."""
        if self.saved is None:
            self.on_delete(self)
            return
        with self.container, ui.dialog() as dialog, ui.card():
            ui.label(f"Delete this {self.spec.title.lower().rstrip('s')} entry?").classes("text-h6")
            summary = ", ".join(v for v in self.values().values() if v and len(v) < 60)[:120]
            if summary:
                ui.label(summary).classes("hitsim-muted")
            ui.label("It is removed from the record (and from what is graded).")
            with ui.row().classes("justify-end w-full"):
                ui.button("Keep it", on_click=dialog.close).props("flat autofocus").mark("keep-entry")
                ui.button("Delete", icon="delete", color="negative",
                          on_click=lambda: (dialog.close(), self.delete())).mark("confirm-delete")
        dialog.open()

    def delete(self) -> None:
        if self.saved is not None:
            try:
                self.ws.delete(self.saved, self.what)
            except VersionConflict:
                self._conflict()
                return
            except PermissionDenied as exc:
                ui.notify(str(exc), type="warning")
                return
        self.on_delete(self)


def field_widget(section: str, fs: forms.FieldSpec, value: str, ctx: forms.EntryContext, changed: Callable[..., None],
                 ws: Workspace) -> Any:
    """The input for one field: pick-lists where a real EHR has them, free text where it has that."""
    mark = f"{section}-{fs.name}"
    if fs.shown_only:
        el = ui.input(fs.label, value=value).props("outlined dense readonly tabindex=-1")
        el.classes(fs.width).mark(mark)
        el.disable()
        return el
    if fs.kind in ("select", "combo"):
        options = fs.options(ctx) if fs.options else {}
        if fs.kind == "combo":
            names = list(options)
            if value and value not in names:
                names.append(value)
            el = ui.select(names, label=fs.label, value=value or None, with_input=True, new_value_mode="add-unique",
                           clearable=True, on_change=lambda: changed(immediate=True))
        else:
            el = ui.select(options, label=fs.label, value=value if value in options else None, clearable=True,
                           with_input=fs.searchable, on_change=lambda: changed(immediate=True))
            if fs.name == "visit":
                ws.visit_selects.append(el)
        el.props("outlined dense options-dense")
    elif fs.kind == "textarea":
        el = ui.textarea(fs.label, value=value, on_change=lambda: changed()).props(
            f"outlined autogrow maxlength={forms.v.MAX_NOTE + 1}")
        el.on("blur", lambda: changed(immediate=True))
    else:
        el = ui.input(fs.label, value=value, placeholder=fs.hint or None, on_change=lambda: changed())
        # One character more than the longest accepted value: a huge paste is cut there, reaches the
        # server, and is refused at the field ("at most 500 characters"), never dropped silently.
        el.props("outlined dense" + (" inputmode=decimal" if fs.kind == "number" else "")
                 + f" maxlength={forms.v.MAX_TEXT + 1}")
        el.on("blur", lambda: changed(immediate=True))
    el.classes(fs.width + (" hitsim-grow" if fs.grow else "")).mark(mark)
    el.props["error"] = False  # reserve room under the field for its message
    if ws.read_only:
        el.disable()
    return el


def list_section(ws: Workspace, spec: SectionSpec) -> None:
    """Rows for every saved resource of the section; 'Add' (or Enter in a text field) adds a row."""
    rows: list[RowEditor] = []
    for fs in spec.fields:
        if fs.new_line:  # a row wide enough for every field keeps them on one line
            ui.add_css(f"@container (min-width: {fs.new_line}px) {{ .hitsim-row-break-{spec.key} {{ display: none; }} }}")
    column = ui.column().classes("w-full gap-1")

    def remove(row: RowEditor | None) -> None:
        if row is not None:
            row.container.delete()
            rows.remove(row)
            ws.rows.remove(row)

    def add(saved: SavedResource | None = None) -> RowEditor:
        # A new row takes e.g. the visit of the row above: 20 lab results of one visit ask for it once.
        start = {name: rows[-1].values().get(name, "") for name in spec.carry} if rows and saved is None else None
        with column:
            row = RowEditor(ws, spec, saved, remove, start)
        rows.append(row)
        for el in row.inputs.values():
            # Enter adds a row from a text field only: in a pick-list, Enter picks the highlighted option.
            if isinstance(el, ui.input) and not isinstance(el, ui.textarea):
                el.on("keydown.enter", lambda: add_and_focus())
        return row

    def add_and_focus() -> None:
        row = add()
        first = next(name for name in (f.name for f in spec.fields) if name not in spec.carry)
        row.inputs[first].run_method("focus")

    def populate() -> None:
        for row in list(rows):
            row.container.delete()
            ws.rows.remove(row)
        rows.clear()
        for saved in ws.of(spec.resource_type, spec.belongs):
            add(saved)
        if not rows and not ws.read_only:
            add()

    populate()
    if not ws.read_only:
        ui.button(spec.add_label, icon="add", on_click=add_and_focus).props("flat dense no-caps").mark(f"{spec.key}-add")


def demographics_section(ws: Workspace) -> None:
    patient = ws.patient() or {}
    coverage = next((s for s in ws.of("Coverage")), None)
    values = forms.read_patient(patient, coverage.resource if coverage else None)
    inputs: dict[str, Any] = {}
    state: dict[str, Any] = {"coverage": coverage, "loading": False}
    what = "demographics"

    def show(fresh: dict[str, str]) -> None:
        state["loading"] = True
        try:
            for name, el in inputs.items():
                el.set_value(fresh.get(name) or None)
        finally:
            state["loading"] = False

    def save() -> None:
        for el in inputs.values():
            el.error = None
        raw = {k: "" if el.value is None else str(el.value) for k, el in inputs.items()}
        ctx = ws.context()
        existing = ws.saved.get(ctx.patient_id)
        cov = state["coverage"]
        patient_res, errors = forms.build_keeping_valid(
            forms.build_patient, lambda r: forms.read_patient(r, None), raw, ctx, existing.resource if existing else None)
        cov_res, cov_errors = forms.build_keeping_valid(
            forms.build_coverage, lambda r: forms.read_patient({}, r), raw, ctx, cov.resource if cov else None)
        errors |= cov_errors
        for field, message in errors.items():
            inputs[field].error = message
        try:
            if patient_res is not None:
                ws.save(patient_res, existing.version if existing else 0, what)
            if cov_res is not None:
                state["coverage"] = ws.save(cov_res, cov.version if cov else 0, what)
            elif cov is not None and not cov_errors:  # both insurance fields emptied: no coverage any more
                ws.delete(cov, what)
                state["coverage"] = None
        except VersionConflict:
            ws.reload()
            fresh_cov = next((x for x in ws.of("Coverage")), None)
            state["coverage"] = fresh_cov
            show(forms.read_patient(ws.patient() or {}, fresh_cov.resource if fresh_cov else None))
            with section:
                ui.notify("The demographics were changed in another tab or window. You now see the newer version; "
                          "type your change again if it is still needed.", type="warning", multi_line=True)
            if ws.indicator:
                ws.indicator.failed("the demographics were changed elsewhere; the newer version is shown, "
                                    "your change was not saved", what)
            return
        except (InvalidInput, PermissionDenied):
            return  # ws.save told the indicator
        if errors and ws.indicator:
            ws.indicator.kept(next(iter(errors.values())), what)

    autosave = Autosave(save, "autosave demographics", ws.indicator)

    def changed(immediate: bool = False) -> None:
        if not ws.read_only and not state["loading"]:
            autosave(immediate)

    ctx = ws.context()
    section = ui.column().classes("w-full gap-1")
    # The face sheet's order, so Tab follows the paper chart.
    groups = (("Patient", ("family", "given", "middle", "mrn", "birth_date", "sex")),
              ("Address and phone", ("street", "apartment", "city", "state", "zip", "phone")),
              ("Insurance", ("payer", "member_id")))
    specs = {fs.name: fs for fs in forms.DEMOGRAPHIC_FIELDS}
    for title, names in groups:
        with section:
            ui.label(title).classes("text-subtitle2 text-grey-8 mt-2")
        with section, ui.row().classes("w-full gap-2 items-start"):
            for name in names:
                inputs[name] = field_widget("demographics", specs[name], values.get(name, ""), ctx, changed, ws)


def vitals_section(ws: Workspace) -> None:
    """A flowsheet: one card per visit, one input per vital sign; each vital is its own Observation."""
    container = ui.column().classes("w-full gap-3")

    def render() -> None:
        container.clear()
        ctx = ws.context()
        with container:
            visits = ctx.visit_options()
            if not visits:
                ui.label("Add the visits under Encounters first; their vital signs are entered here.").classes(
                    "hitsim-muted").mark("vitals-need-visits")
                return
            for enc_id, label in visits.items():
                with ui.card().classes("w-full p-3").mark(f"vitals-{enc_id}"):
                    ui.label(label).classes("font-medium")
                    with ui.row().classes("gap-2 items-start"):
                        for vital in forms.VITALS:
                            vital_input(ws, vital, enc_id)

    render()
    ws.on_patient_change.append(render)


def vital_input(ws: Workspace, vital: forms.Vital, enc_id: str) -> None:
    existing = next((s for s in ws.of("Observation") if s.resource.get("code", {}).get("coding", [{}])[0].get("code")
                     == vital.loinc and forms.ref_id(s.resource.get("encounter")) == enc_id), None)
    raw, unit = forms.read_vital(existing.resource) if existing else ("", "")
    units = list(vital.units)
    state: dict[str, Any] = {"saved": existing}
    what = f"vital-{vital.key}-{enc_id}"
    with ui.row().classes("items-start gap-0 no-wrap") as cell:
        value = ui.input(vital.label, value=raw, placeholder="120/80" if vital.key == "bp" else None).props(
            "outlined dense maxlength=41").classes("w-36" if vital.key == "bp" else "w-28").mark(f"vital-{vital.key}")
        value.props["error"] = False
        unit_select = None
        if len(units) > 1:
            unit_select = ui.select({u: vital.units[u] for u in units}, value=unit if unit in units else units[0]).props(
                "outlined dense options-dense").classes("w-20").mark(f"vital-{vital.key}-unit")
        enc_resource = ws.saved.get(enc_id)
        if ws.read_only or (enc_resource is not None and ws.sent_to_coding(enc_resource.resource)):
            value.disable()
            if unit_select:
                unit_select.disable()

    def save(confirmed: bool = False) -> None:
        value.error = None
        ctx = ws.context()
        enc = ctx.encounter(enc_id)
        if enc is None:
            return
        chosen = unit_select.value if unit_select else units[0]
        current: SavedResource | None = state["saved"]
        try:
            res = forms.build_vital(vital, value.value or "", chosen, enc, ctx, current.resource if current else None,
                                    confirmed)
        except NeedsConfirmation as exc:
            ask(str(exc))
            return
        except FieldError as exc:
            value.error = str(exc)
            if ws.indicator:
                ws.indicator.failed(str(exc), what)
            return
        try:
            if res is None:
                if current is not None:
                    ws.delete(current, what)
                    state["saved"] = None
                elif ws.indicator:
                    ws.indicator.saved(what=what)
                return
            state["saved"] = ws.save(res, current.version if current else 0, what)
        except VersionConflict:
            with cell:
                ui.notify("This vital sign was changed in another tab; reload the page to see it.", type="warning")
        except (InvalidInput, PermissionDenied) as exc:
            value.error = str(exc)

    def ask(message: str) -> None:
        with cell, ui.dialog() as dialog, ui.card():
            ui.label(message).mark("confirm-message")
            with ui.row():
                ui.button("Yes, keep it", on_click=lambda: (dialog.close(), save(confirmed=True))).mark("confirm-keep")
                ui.button("No, let me fix it", on_click=dialog.close).props("flat").mark("confirm-fix")
        dialog.open()
        value.error = message
        if ws.indicator:
            ws.indicator.failed(f"{message} (answer the question to save it)", what)

    autosave = Autosave(save, "autosave vital", ws.indicator)

    def changed(immediate: bool = False) -> None:
        if not ws.read_only:
            autosave(immediate)

    value.on_value_change(lambda: changed())
    value.on("blur", lambda: changed(immediate=True))
    if unit_select:
        unit_select.on_value_change(lambda: changed(immediate=True))


def patient_banner(ws: Workspace) -> None:
    @ui.refreshable
    def banner() -> None:
        p = ws.patient() or {}
        name = (p.get("name") or [{}])[0]
        full = " ".join([*name.get("given", []), name.get("family", "")]).strip() or "New patient"
        mrn = next((i.get("value") for i in p.get("identifier", []) if i.get("value")), "—")
        dob = forms._show_date(p.get("birthDate")) or "—"
        allergies = [forms._text(s.resource.get("code")) for s in ws.of("AllergyIntolerance")]
        with ui.row().classes("w-full items-center gap-x-6 gap-y-1 px-3 py-2 rounded bg-green-1").mark("patient-banner"):
            ui.icon("person", size="24px").classes("text-primary")
            ui.label(full).classes("text-base font-semibold").mark("banner-name")
            ui.label(f"MRN {mrn}")
            ui.label(f"DOB {dob}")
            ui.label(f"Sex {(p.get('gender') or '—').title()}")
            text = ", ".join(a for a in allergies if a) or "none recorded"
            ui.label(f"Allergies: {text}").classes("text-negative" if allergies else "hitsim-muted").mark("banner-allergies")

    banner()
    ws.on_patient_change.append(banner.refresh)


# ------------------------------------------------------------------------------------------ sections
@dataclass(frozen=True)
class EhrSection:
    """One tab of the EHR. To add one (e.g. a report for a task), append to SECTIONS:

        SECTIONS.append(EhrSection("audit", "Access audit", audit_section, applies=lambda ws: "audit" in ws.tasks))

    ``build(ws)`` draws the section inside its tab; ``applies(ws)`` says whether this attempt shows it.
    """

    key: str
    title: str
    build: Callable[[Workspace], None]
    applies: Callable[[Workspace], bool] = lambda _ws: True


def _coding(ws: Workspace) -> None:
    assert ws.get_encoder is not None
    coding_section(ws, ws.get_encoder)


SECTIONS: list[EhrSection] = [
    EhrSection("demographics", "Demographics", demographics_section),
    EhrSection("encounters", "Encounters", lambda ws: list_section(ws, forms.ENCOUNTERS)),
    EhrSection("problems", "Problem list", lambda ws: list_section(ws, forms.PROBLEMS)),
    EhrSection("medications", "Medications", lambda ws: list_section(ws, forms.MEDICATIONS)),
    EhrSection("allergies", "Allergies", lambda ws: list_section(ws, forms.ALLERGIES)),
    EhrSection("vitals", "Vital signs", vitals_section),
    EhrSection("labs", "Lab results", lambda ws: list_section(ws, forms.LABS)),
    EhrSection("procedures", "Procedures", lambda ws: list_section(ws, forms.PROCEDURES)),
    EhrSection("notes", "Notes", lambda ws: list_section(ws, forms.NOTES)),
    EhrSection("coding", "Coding", _coding, applies=lambda ws: ws.get_encoder is not None),
    EhrSection("fhir", "FHIR view", lambda ws: fhir_view(ws)),
]


def fhir_view(ws: Workspace) -> None:
    """Read-only: the FHIR JSON of every resource the student entered, as the server stored it."""
    ui.label("What your entries look like as FHIR resources (read-only; the server's saved version). "
             "This is what is graded.").classes("text-sm hitsim-muted")
    body = ui.column().classes("w-full gap-1").mark("fhir-view")

    def render() -> None:
        body.clear()
        ws.reload()
        with body:
            if not ws.saved:
                ui.label("Nothing entered yet.").classes("hitsim-muted")
            by_type: dict[str, list[SavedResource]] = {}
            for saved in ws.saved.values():
                by_type.setdefault(saved.resource["resourceType"], []).append(saved)
            for rtype, items in sorted(by_type.items()):
                with ui.expansion(f"{rtype} ({len(items)})").classes("w-full").props("dense").mark(f"fhir-{rtype}"):
                    for saved in items:
                        ui.code(json.dumps(saved.resource, indent=2, ensure_ascii=False), language="json").classes(
                            "w-full text-xs")

    ui.button("Refresh", icon="refresh", on_click=render).props("flat dense no-caps").mark("fhir-refresh")
    ws.on_show["fhir"] = render


def ehr_panel(store: Store, user: SignedInUser, view: assignments.AttemptView, patient: str = "",
              get_encoder: Callable[[], Any] | None = None, tab: str = "") -> None:
    ws_view = workspace.load_workspace(store, user=user, attempt_id=view.attempt_id)
    ws = Workspace(store, user, ws_view)
    ws.get_encoder, ws.tasks = get_encoder, view.tasks
    if patient == "new" and not ws.read_only:
        ws.patient_id = str(uuid.uuid4())
    elif patient and any(r.resource["id"] == patient for r in ws_view.resources):
        ws.patient_id = patient
    with ui.row().classes("w-full items-center justify-between gap-2 no-wrap"):
        with ui.row().classes("items-center gap-x-3 gap-y-0"):
            ui.label("Electronic health record").classes("text-h6")
            ws.indicator = SaveIndicator(ws_view.last_saved_at)
        with ui.row().classes("items-center gap-2 no-wrap hitsim-ehr-actions"):
            instructions = instructions_dialog(view, ws_view.task)
            ui.button("Instructions", icon="help_outline", on_click=instructions.open).props(
                "flat dense no-caps").mark("open-instructions")
            printing = print_dialog(store, user, view.attempt_id)
            ui.button("Print", icon="print", on_click=printing.open).props("flat dense no-caps").mark("open-print")
            if not ws.read_only:
                submit_button(store, user, view)
    if not ws_view.resources and not ws.read_only:
        instructions.open()  # a fresh attempt starts with what goes where and how it is graded
    if ws_view.task == "verify" and not ws.read_only:
        ui.label("This record was entered by someone else. Compare every section with the paper chart and correct "
                 "what is wrong; add what is missing.").classes("text-sm bg-amber-1 p-2 rounded").mark("verify-hint")
    patients = [s.resource for s in ws_view.resources if s.resource["resourceType"] == "Patient"]
    if len(patients) > 1 or len({p.patient for p in view.pages}) > 1:
        patient_switcher(ws, patients)
    patient_banner(ws)
    sections = [section for section in SECTIONS if section.applies(ws)]

    def shown(e: Any) -> None:
        callback = ws.on_show.get(str(e.value))
        if callback:
            callback()

    with ui.tabs(on_change=shown).props("dense no-caps align=left").classes("w-full hitsim-wrap-tabs").mark(
            "ehr-tabs") as tabs:
        tab_items = {s.key: ui.tab(s.key, label=s.title).mark(f"ehr-tab-{s.key}") for s in sections}
    first = tab_items.get(tab, tab_items[sections[0].key])  # a finding's "Show in the record" opens its section
    with ui.tab_panels(tabs, value=first, animated=False).classes("w-full"):
        for section in sections:
            with ui.tab_panel(tab_items[section.key]).classes("px-0 pt-2"):
                section.build(ws)


def print_dialog(store: Store, user: SignedInUser, attempt_id: int) -> ui.dialog:
    """Printing a patient's record needs a reason, recorded with the print in the access-audit trail."""
    with ui.dialog() as dialog, ui.card().classes("w-96"):
        ui.label("Print this record").classes("text-h6")
        ui.label("Every print of a patient's record is recorded in the access-audit trail, with who printed it, "
                 "when, from which workstation and why.").classes("text-sm")
        purpose = ui.select({code: words.capitalize() for code, words in PURPOSES.items()},
                            label="Reason for printing").props("outlined dense autofocus").classes("w-full").mark(
            "print-purpose")

        async def go() -> None:
            try:
                await run.io_bound(workspace.print_record, store, user=user, attempt_id=attempt_id,
                                   purpose=purpose.value or "", workstation=current_workstation())
            except InvalidInput as exc:
                purpose.error = str(exc)
                return
            purpose.error = None
            dialog.close()
            ui.run_javascript("setTimeout(() => window.print(), 300)")  # once the dialog has closed

        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat")
            ui.button("Print", icon="print", on_click=go).mark("confirm-print")
    return dialog


def patient_switcher(ws: Workspace, patients: list[dict[str, Any]]) -> None:
    def label(p: dict[str, Any]) -> str:
        name = (p.get("name") or [{}])[0]
        return " ".join([*name.get("given", []), name.get("family", "")]).strip() or "Unnamed patient"

    options = {p["id"]: label(p) for p in patients}
    if ws.patient_id not in options:
        options[ws.ensure_patient_id()] = "New patient (saved once you type)"
    with ui.row().classes("items-center gap-2"):
        ui.label("This case has several patients. Working on:").classes("text-sm")
        select = ui.select(options, value=ws.patient_id).props("outlined dense").classes("w-64").mark("patient-select")

        def switch() -> None:
            ui.navigate.to(f"/attempt/{ws.attempt_id}?patient={select.value}")

        select.on_value_change(switch)

        def relabel() -> None:
            current = ws.patient()
            if current is not None and current["id"] in options:
                options[current["id"]] = label(current)
                select.set_options(options, value=ws.patient_id)

        ws.on_patient_change.append(relabel)
        if not ws.read_only:
            ui.button("New patient", icon="person_add",
                      on_click=lambda: ui.navigate.to(f"/attempt/{ws.attempt_id}?patient=new")).props(
                "flat dense no-caps").mark("new-patient")


def submit_button(store: Store, user: SignedInUser, view: assignments.AttemptView) -> None:
    """Submit for grading: in the EHR's header, so it never covers the record."""
    async def submit() -> None:
        dialog.close()
        button.props("loading")
        button.disable()
        try:
            await run.io_bound(workspace.submit_attempt, store, user=user, attempt_id=view.attempt_id,
                               workstation=current_workstation())
        except PermissionDenied as exc:
            button.props(remove="loading")
            button.enable()
            ui.notify(str(exc), type="negative")
            return
        ui.navigate.to(f"/attempt/{view.attempt_id}/report")

    with ui.dialog() as dialog, ui.card().classes("p-5"):
        ui.label(f"Submit attempt {view.number} of {view.attempts_allowed} for grading?").classes("text-h6")
        ui.label("After submitting you can no longer change this attempt. You will see your score and feedback "
                 "right away.")
        with ui.row().classes("justify-end w-full"):
            ui.button("Keep working", on_click=dialog.close).props("flat")
            ui.button("Submit", icon="send", on_click=submit).mark("confirm-submit")
    button = ui.button("Submit for grading", icon="task_alt", on_click=dialog.open).props("no-caps").mark("submit")

"""The access-audit report page: filters, summary counts, accesses by hour and by user, a sortable table,
CSV export; in the exercise, flags with a policy category and a note that save as they are typed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from nicegui import run, ui

from simulator.audit.planted import DEPARTMENTS, SHIFTS
from simulator.reports import access_audit as report
from simulator.reports.access_audit import FilterError, ReportIndex, Row
from simulator.services import audit_exercise
from simulator.services.accounts import SignedInUser
from simulator.services.errors import InvalidInput, PermissionDenied
from simulator.services.workspace import SavedResource, VersionConflict
from simulator.store import Store

PAGE_ROWS = 25
COLUMNS = [
    {"name": "start", "label": "When", "field": "when", "sortable": True, "align": "left"},
    {"name": "minutes", "label": "Min", "field": "min", "sortable": True, "align": "right"},
    {"name": "user_name", "label": "User", "field": "user_name", "sortable": True, "align": "left"},
    {"name": "role", "label": "Role", "field": "role", "sortable": True, "align": "left"},
    {"name": "department", "label": "Department", "field": "department", "sortable": True, "align": "left"},
    {"name": "workstation", "label": "Workstation", "field": "workstation", "sortable": True, "align": "left"},
    {"name": "patient_name", "label": "Patient", "field": "patient_name", "sortable": True, "align": "left"},
    {"name": "patient_location", "label": "Patient was in", "field": "patient_location", "align": "left"},
    {"name": "activity", "label": "Action", "field": "action", "sortable": True, "align": "left"},
    {"name": "after_hours", "label": "After hours", "field": "after", "align": "center"},
]
POLICY = """**The facility's access policy** (HIPAA minimum necessary, 45 CFR 164.502(b); workforce access, 164.308(a)(3)):
1. Clinical staff open the charts of patients **in their unit**, from an hour before admission to a day after
   discharge; registration clerks at **admission** (first day); coders **after discharge** (30 days).
2. Nobody opens a **VIP's**, a **co-worker's** or a **family member's** chart outside that relationship.
3. Work happens **on your shift at your own workstations**. After hours at your own desk (finishing charting) or
   on shift at another terminal of your unit (floating) is fine; **after hours from someone else's terminal** is not.
4. A **terminated** account must never be used. Nobody **browses**: 20 or more charts in 10 minutes is browsing.
5. A chart **open more than 120 minutes** needs review. **Printing or exporting needs a documented reason.**"""


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%a %m/%d/%Y %H:%M")


def _table_row(r: Row, flagged: set[str]) -> dict[str, Any]:
    action = r.activity + (f" ({r.purpose})" if r.purpose else "")
    return {"event_id": r.event_id, "when": _when(r.start), "min": "" if r.minutes is None else f"{r.minutes:.0f}",
            "user_name": f"{r.user_name} ({r.user})", "role": r.role, "department": r.department,
            "workstation": r.workstation, "patient_name": r.patient_name + (" ★VIP" if r.vip else ""),
            "patient_location": r.patient_location, "action": action, "after": "yes" if r.after_hours else "",
            "flagged": f"AuditEvent/{r.event_id}" in flagged, "user": r.user}


class AccessReport:
    """One report over a list of rows: filters → summary, charts, table, CSV."""

    def __init__(self, index: ReportIndex, tz: dt.tzinfo, filename: str,
                 on_flag: Callable[[dict[str, Any]], None] | None = None, flagged: Callable[[], set[str]] | None = None):
        self.index, self.tz, self.filename = index, tz, filename
        rows = self.all_rows = index.rows
        self.on_flag, self.flagged = on_flag, flagged or (lambda: set())
        self.shown: list[int] = list(range(len(rows)))
        self._sorted: list[int] = self.shown
        self.sort, self.descending, self.page = "start", False, 1
        self.inputs: dict[str, Any] = {}
        if not rows:
            ui.label("The audit trail is empty: no access has been recorded yet, so there is nothing to report.").classes(
                "text-body1 hitsim-muted").mark("empty-trail")
            return
        self._filters()
        with ui.row().classes("w-full items-start gap-4 no-wrap max-lg:flex-wrap"):
            with ui.card().classes("w-72 shrink-0 gap-1").mark("summary"):
                ui.label("Summary").classes("hitsim-card-title")
                self.summary = ui.column().classes("gap-0")
            with ui.card().classes("grow min-w-0"):
                self.hour_chart = ui.echart(self._bar_options("Accesses by hour of day", [], [])).classes("w-full h-48")
            with ui.card().classes("grow min-w-0"):
                self.user_chart = ui.echart(self._bar_options("Accesses by user (top 12)", [], [])).classes("w-full h-48")
        with ui.row().classes("w-full items-center justify-between"):
            self.count = ui.label().classes("text-subtitle1").mark("row-count")
            ui.button("Export CSV", icon="download", on_click=self.export).props("outline no-caps").mark("export-csv")
        self.table = ui.table(columns=COLUMNS + ([{"name": "flag", "label": "Flag", "field": "flag"}] if on_flag else []),
                              rows=[], row_key="event_id",
                              pagination={"rowsPerPage": PAGE_ROWS, "page": 1, "sortBy": "start", "descending": False,
                                          "rowsNumber": 0}).props("flat bordered dense wrap-cells").classes(
            "w-full hitsim-audit-table").mark("audit-table")
        self.table.on("request", self._request)
        if on_flag:
            self.table.add_slot("body-cell-flag", """<q-td :props="props">
              <q-btn flat dense round size="sm" icon="flag" :color="props.row.flagged ? 'negative' : 'grey-6'"
                     @click="() => $parent.$emit('flag', props.row)" title="Flag this access" /></q-td>""")
            self.table.on("flag", lambda e: on_flag(e.args))
        self.refresh()

    # ------------------------------------------------------------------ filters
    def _filters(self) -> None:
        roles = sorted({r.role for r in self.all_rows})
        departments = sorted({r.department for r in self.all_rows})
        activities = sorted({r.activity for r in self.all_rows})
        with ui.card().classes("w-full gap-1").mark("filters"):
            with ui.row().classes("w-full gap-2 items-start"):
                self._input("user", "User (name or id)", "w-44")
                self._input("patient", "Patient (name or MRN)", "w-44")
                self._select("department", "Department", departments, "w-44")
                self._select("role", "Role", roles, "w-40")
                self._input("workstation", "Workstation", "w-32")
            with ui.row().classes("w-full gap-2 items-start"):
                self._input("from_date", "From date", "w-32", "03/03/2025")
                self._input("from_time", "From time", "w-24", "07:00")
                self._input("to_date", "To date", "w-32", "03/21/2025")
                self._input("to_time", "To time", "w-24", "19:00")
                self._input("min_minutes", "Open longer than (min)", "w-44", "30")
                self._select("activity", "Action", activities, "w-32")
            with ui.row().classes("w-full gap-2 items-center"):
                self.inputs["after_hours"] = ui.checkbox("After hours only").classes("mt-2").mark("filter-after_hours")
                ui.button("Apply", icon="filter_alt", on_click=self.refresh).classes("mt-1").mark("apply-filters")
                ui.button("Clear", on_click=self.clear).props("flat no-caps").classes("mt-1").mark("clear-filters")

    def _input(self, name: str, label: str, width: str, hint: str = "") -> None:
        el = ui.input(label, placeholder=hint or None).props("outlined dense clearable").classes(width).mark(
            f"filter-{name}")
        el.props["error"] = False
        el.on("keydown.enter", self.refresh)
        self.inputs[name] = el

    def _select(self, name: str, label: str, options: list[str], width: str) -> None:
        el = ui.select({"": "any", **{o: o for o in options}}, label=label, value="").props(
            "outlined dense options-dense").classes(width).mark(f"filter-{name}")
        self.inputs[name] = el

    def clear(self) -> None:
        for name, el in self.inputs.items():
            el.set_value(False if name == "after_hours" else "")
        self.refresh()

    # ------------------------------------------------------------------ results
    def refresh(self) -> None:
        for el in self.inputs.values():
            if isinstance(el, ui.input):
                el.error = None
        raw = {k: el.value for k, el in self.inputs.items()}
        try:
            filters = report.parse_filters(raw, self.tz)
        except FilterError as exc:
            self.inputs[exc.field].error = str(exc)
            return
        self.shown = self.index.filter(filters)
        self.page = 1
        self._sorted = self.index.ordered(self.shown, self.sort, self.descending)
        s, hours, users = self.index.overview(self.shown)
        self.summary.clear()
        with self.summary:
            for label, value in (("Accesses", s.events), ("Users", s.users), ("Patients", s.patients),
                                 ("Workstations", s.workstations), ("After hours", s.after_hours),
                                 (f"Open > {report.LONG_MINUTES} min", s.long_sessions),
                                 ("Prints and exports", s.prints_exports)):
                with ui.row().classes("w-full justify-between"):
                    ui.label(label)
                    ui.label(f"{value:,}").classes("font-medium")
        self.hour_chart.options.update(self._bar_options("Accesses by hour of day", [f"{h:02d}" for h in range(24)], hours))
        self.hour_chart.update()
        self.user_chart.options.update(self._bar_options("Accesses by user (top 12)", [u for u, _ in users],
                                                         [n for _, n in users], rotate=True))
        self.user_chart.update()
        self.count.set_text(f"{len(self.shown):,} of {len(self.all_rows):,} accesses")
        self._show_page()

    def _request(self, e: Any) -> None:
        pagination = e.args.get("pagination", {}) if isinstance(e.args, dict) else {}
        sort = pagination.get("sortBy") or "start"
        descending = bool(pagination.get("descending"))
        if (sort, descending) != (self.sort, self.descending):
            self.sort, self.descending = sort, descending
            self._sorted = self.index.ordered(self.shown, sort, descending)
        self.page = max(1, int(pagination.get("page") or 1))
        self._show_page()

    def _show_page(self) -> None:
        flagged = self.flagged()
        self.table.rows = [_table_row(r, flagged) for r in self.index.page(self._sorted, self.page, PAGE_ROWS)]
        self.table.pagination = {"rowsPerPage": PAGE_ROWS, "page": self.page, "sortBy": self.sort,
                                 "descending": self.descending, "rowsNumber": len(self._sorted)}
        self.table.update()

    @staticmethod
    def _bar_options(title: str, labels: list[str], values: list[int], rotate: bool = False) -> dict[str, Any]:
        return {"title": {"text": title, "textStyle": {"fontSize": 13}}, "grid": {"left": 40, "right": 10,
                "top": 42, "bottom": 60 if rotate else 25}, "tooltip": {},
                "xAxis": {"type": "category", "data": labels, "axisLabel": {"rotate": 35 if rotate else 0, "fontSize": 10}},
                "yAxis": {"type": "value"}, "series": [{"type": "bar", "data": values, "itemStyle": {"color": "#14532d"}}]}

    async def export(self) -> None:
        rows = [self.all_rows[i] for i in self.shown]
        text = await run.io_bound(report.to_csv, rows)  # thousands of rows: off the event loop
        ui.download(text.encode("utf-8"), self.filename, "text/csv")


# ------------------------------------------------------------------------------------------ the exercise
def audit_exercise_panel(store: Store, user: SignedInUser, attempt_id: int, workstation: Any) -> None:
    """The student's audit. The log is planted off the event loop (a large one takes seconds the first time),
    so no one else's page waits for it."""
    container = ui.column().classes("w-full gap-3")
    with container, ui.row().classes("items-center gap-3").mark("loading-log"):
        ui.spinner(size="lg")
        ui.label("Loading the facility's access log…").classes("hitsim-muted")

    async def load() -> None:
        exercise = await run.io_bound(audit_exercise.audit_exercise, store, user=user, attempt_id=attempt_id)
        container.clear()
        with container:
            _exercise_view(store, user, attempt_id, workstation, exercise)

    ui.timer(0.01, load, once=True)


def _exercise_view(store: Store, user: SignedInUser, attempt_id: int, workstation: Any,
                   exercise: audit_exercise.AuditExercise) -> None:
    """The report over the planted log, the policy, the directories, and the flags."""
    history = exercise.history
    state: dict[str, list[SavedResource]] = {"flags": list(exercise.flags)}
    tz = history.accesses[0].start.tzinfo if history.accesses else dt.UTC

    def flagged() -> set[str]:
        return {audit_exercise.flag_target(f.resource) for f in state["flags"]}

    with ui.expansion("Access policy, staff directory and patients", icon="policy").classes(
            "w-full bg-white").mark("policy"):
        ui.markdown(POLICY).classes("text-sm")
        staff_rows = [{"id": s.id, "name": s.name, "role": s.role, "department": DEPARTMENTS[s.department],
                       "shift": s.shift_hours, "workstations": ", ".join(s.workstations),
                       "address": f"{s.street}, {s.city}",
                       "status": f"terminated {s.terminated:%m/%d/%Y %H:%M}" if s.terminated else "active"}
                      for s in history.staff.values()]
        ui.label("Staff directory").classes("text-subtitle2 mt-2")
        ui.table(columns=[{"name": k, "label": k.title(), "field": k, "sortable": True, "align": "left"}
                          for k in ("id", "name", "role", "department", "shift", "workstations", "address", "status")],
                 rows=staff_rows, row_key="id", pagination=10).props("dense flat bordered").classes("w-full").mark(
            "staff-directory")
        patient_rows = [{"id": p.id, "mrn": p.mrn, "name": p.name, "vip": p.vip, "address": f"{p.street}, {p.city}",
                         "stays": "; ".join(f"{DEPARTMENTS[st.department]} {st.admitted:%m/%d %H:%M} – "
                                            f"{st.discharged:%m/%d %H:%M}" for st in p.stays)}
                        for p in history.patients.values()]
        ui.label("Patients").classes("text-subtitle2 mt-2")
        ui.table(columns=[{"name": k, "label": k.upper() if k in ("id", "mrn", "vip") else k.title(), "field": k,
                           "sortable": True, "align": "left"} for k in ("mrn", "name", "vip", "address", "stays")],
                 rows=patient_rows, row_key="id", pagination=10).props("dense flat bordered").classes("w-full").mark(
            "patients")
        ui.label("Shifts: " + ", ".join(f"{k} {a:02d}:00–{b:02d}:00" for k, (a, b) in SHIFTS.items())
                 + ". Times are the facility's local time (Arizona, UTC−7).").classes("text-sm hitsim-muted")

    flag_form: dict[str, Any] = {}

    def prefill(row: dict[str, Any]) -> None:
        flag_form["target"].set_value(row["event_id"])
        flag_form["target"].run_method("focus")

    with ui.row().classes("w-full items-start gap-4 no-wrap max-xl:flex-wrap"):
        with ui.column().classes("grow min-w-0 gap-3"):
            table_view = AccessReport(exercise.index, tz, "access-audit.csv", on_flag=None if exercise.read_only else prefill,
                         flagged=flagged)
        with ui.card().classes("w-96 shrink-0 gap-2").mark("flags"):
            ui.label("Your flags").classes("hitsim-card-title")
            if not exercise.read_only:
                ui.label("Flag an access (its id, e.g. ae00123, or the flag icon in the table) or a user (their id).").classes(
                    "text-sm hitsim-muted")
                flag_form["target"] = ui.input("Access or user id").props("outlined dense").classes("w-full").mark(
                    "flag-target")
                flag_form["target"].props["error"] = False
                flag_form["category"] = ui.select({"": "—", **exercise.categories}, label="Reason (policy category)",
                                                  value="").props("outlined dense").classes("w-full").mark("flag-category")
                flag_form["category"].props["error"] = False
                flag_form["note"] = ui.textarea("Note").props("outlined autogrow").classes("w-full").mark("flag-note")
                ui.button("Add flag", icon="flag", on_click=lambda: add()).props("no-caps").mark("add-flag")
            flag_list = ui.column().classes("w-full gap-2")

    def target_ref(typed: str) -> str:
        typed = typed.strip()
        if typed.lower().startswith("ae") and typed[2:].isdigit():
            return f"AuditEvent/{typed.lower()}"
        return f"Practitioner/{typed.lower()}"

    def add() -> None:
        for key in ("target", "category"):
            flag_form[key].error = None
        try:
            saved = audit_exercise.save_flag(store, user=user, attempt_id=attempt_id,
                                             target=target_ref(flag_form["target"].value or ""),
                                             category=flag_form["category"].value or "", note=flag_form["note"].value or "",
                                             workstation=workstation)
        except InvalidInput as exc:
            flag_form["category" if exc.field == "category" else "target"].error = str(exc)
            return
        except PermissionDenied as exc:
            ui.notify(str(exc), type="warning")
            return
        state["flags"].append(saved)
        for key in ("target", "note"):
            flag_form[key].set_value("")
        flag_form["category"].set_value("")
        render_flags()

    def render_flags() -> None:
        if getattr(table_view, "table", None) is not None:
            table_view._show_page()  # the flag icons of the rows on screen follow the flags
        flag_list.clear()
        with flag_list:
            if not state["flags"]:
                ui.label("No flags yet.").classes("hitsim-muted").mark("no-flags")
            for i, flag in enumerate(list(state["flags"])):
                flag_editor(i, flag)

    def flag_editor(index: int, flag: SavedResource) -> None:
        from simulator.ui.workspace import Autosave

        target = audit_exercise.flag_target(flag.resource)
        kind, _, ident = target.partition("/")
        by_id = {a.event_id: a for a in history.accesses} if kind == "AuditEvent" else {}
        if kind == "AuditEvent" and ident in by_id:
            a = by_id[ident]
            title = (f"{ident}: {history.staff[a.user].short} → {history.patients[a.patient].short}, "
                     f"{a.start:%a %m/%d %H:%M}")
        else:
            title = f"User {ident}" + (f" ({history.staff[ident].name})" if ident in history.staff else "")
        with ui.card().classes("w-full p-2 gap-1").mark("flag"):
            with ui.row().classes("w-full items-center justify-between no-wrap"):
                ui.label(title).classes("text-sm font-medium")
                if not exercise.read_only:
                    ui.button(icon="delete_outline", on_click=lambda: remove(flag)).props(
                        "flat round dense color=grey-7").mark("remove-flag")
            category = ui.select({"": "—", **exercise.categories}, label="Reason",
                                 value=audit_exercise.flag_category(flag.resource)).props(
                "outlined dense options-dense").classes("w-full").mark("flag-edit-category")
            note = ui.input("Note", value=str(flag.resource.get("detail", ""))).props("outlined dense").classes(
                "w-full").mark("flag-edit-note")
            status = ui.label("").classes("text-xs hitsim-muted").mark("flag-status")
            if exercise.read_only:
                category.disable()
                note.disable()
                return
            category.props["error"] = False

            def save() -> None:
                category.error = None
                current = next((f for f in state["flags"] if f.resource["id"] == flag.resource["id"]), flag)
                try:
                    saved = audit_exercise.save_flag(store, user=user, attempt_id=attempt_id, target=target,
                                                     category=category.value or "", note=note.value or "",
                                                     current=current, workstation=workstation)
                except InvalidInput as exc:
                    category.error = str(exc)
                    status.set_text("Not saved")
                    return
                except (VersionConflict, PermissionDenied) as exc:
                    status.set_text(f"Not saved: {exc}")
                    return
                state["flags"] = [saved if f.resource["id"] == saved.resource["id"] else f for f in state["flags"]]
                status.set_text(f"Saved at {dt.datetime.now().astimezone():%H:%M:%S}")

            autosave = Autosave(save, "autosave flag")
            category.on_value_change(lambda: autosave(immediate=True))
            note.on_value_change(lambda: autosave())
            note.on("blur", lambda: autosave(immediate=True))

    def remove(flag: SavedResource) -> None:
        current = next((f for f in state["flags"] if f.resource["id"] == flag.resource["id"]), flag)
        try:
            audit_exercise.remove_flag(store, user=user, attempt_id=attempt_id, flag=current, workstation=workstation)
        except (VersionConflict, PermissionDenied) as exc:
            ui.notify(str(exc), type="warning")
            return
        state["flags"] = [f for f in state["flags"] if f.resource["id"] != flag.resource["id"]]
        render_flags()

    render_flags()


# ------------------------------------------------------------------------------------------ the class's own trail
def class_audit_report(store: Store, user: SignedInUser, class_id: int, refused: Callable[[str, Exception], None]) -> None:
    """The instructor's report on hitsim's own trail: who opened which student's record, when, for how long."""
    from simulator.services.errors import NotFound
    from simulator.ui.frame import frame

    try:
        name, rows = audit_exercise.class_access_rows(store, user=user, class_id=class_id)
    except (PermissionDenied, NotFound) as exc:
        refused("Access audit", exc)
        return
    with frame(f"Access audit: {name}", wide=True):
        ui.label("Every opening, edit, export, submission and grading of your students' records, from hitsim's own "
                 "audit trail (verify its hash chain with `hitsim audit verify`). Durations are how long a chart "
                 "stayed open in a browser tab. After hours: before 07:00 or after 19:00 server time.").classes(
            "text-sm hitsim-muted")
        AccessReport(ReportIndex(rows), dt.datetime.now().astimezone().tzinfo or dt.UTC, f"class-{class_id}-access-audit.csv")

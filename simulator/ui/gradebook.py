"""Gradebook pages: the class's grid, an assignment's settings (variants, rubric, regrade, item analysis), drill-down."""

from __future__ import annotations

from typing import Any

from nicegui import run, ui

from simulator.services import assignments, gradebook, item_analysis
from simulator.services.accounts import SignedInUser
from simulator.services.errors import InvalidInput, NotFound, PermissionDenied
from simulator.store import Store
from simulator.ui.audit_session import current_workstation
from simulator.ui.frame import frame
from simulator.ui.instructor_common import FieldErrors, Progress, answer_key_view, page_user, refused, when_text
from simulator.ui.pages import grade_report_view

VARIANT_BATCH = 25
STATUS_FILTERS = ("any status", "graded", "submitted", "in progress", "not started")


def register_gradebook_pages(store: Store) -> None:
    @ui.page("/classes/{class_id}/gradebook")
    def gradebook_page(class_id: int) -> None:
        user = page_user()
        try:
            book = gradebook.gradebook(store, user=user, class_id=class_id)
        except (NotFound, PermissionDenied) as exc:
            refused("Gradebook", exc)
            return
        with frame(f"Gradebook: {book.class_name}", wide=True):
            _gradebook_grid(store, user, book)

    @ui.page("/assignments/{assignment_id}")
    async def assignment_page(assignment_id: int, generate: str = "") -> None:
        user = page_user()
        try:
            settings = assignments.assignment_settings(store, user=user, assignment_id=assignment_id)
        except (NotFound, PermissionDenied) as exc:
            refused("Assignment", exc)
            return
        with frame(settings.title):
            _settings_card(settings)
            _variants_card(store, settings, start=generate == "1")
            _rubric_card(store, settings)
            _item_analysis_card(store, settings)

    @ui.page("/review/{attempt_id}")
    def review_page(attempt_id: int) -> None:
        user = page_user()
        try:
            review = gradebook.instructor_report(store, user=user, attempt_id=attempt_id, workstation=current_workstation())
        except (NotFound, PermissionDenied) as exc:
            refused("Student report", exc)
            return
        with frame(f"{review.student}: {review.assignment_title} (attempt {review.attempt_number})"):
            ui.link("Open the student's record (read only)", f"/attempt/{attempt_id}")
            if review.report is None:
                ui.label("Not graded yet.").mark("not-graded")
            else:
                _override_card(store, attempt_id, review.overrides)
                with ui.expansion("The student's report", value=True).classes("w-full").props("header-class=text-h6"):
                    grade_report_view(review.report, attempt_id)
            with ui.expansion("Answer key", icon="key").classes("w-full").props("header-class=text-h6").mark("key-section"):
                answer_key_view(review.key)


# ------------------------------------------------------------------------------------------ gradebook grid
def _gradebook_grid(store: Store, user: SignedInUser, book: gradebook.Gradebook) -> None:
    with ui.row().classes("items-center gap-3"):
        ui.link("Class page", f"/classes/{book.class_id}")
        search = ui.input("Filter students", placeholder="name or username").props("dense outlined clearable").classes(
            "w-64").mark("gradebook-filter")
        status = ui.select(list(STATUS_FILTERS), value="any status", label="Show students with").props(
            "dense outlined").classes("w-48").mark("gradebook-status")
        ui.button("Export for Canvas", icon="download", on_click=lambda: ui.download.content(
            gradebook.export_csv(store, user=page_user(), class_id=book.class_id, lms="canvas").encode("utf-8"),
            f"hitsim-gradebook-{book.class_id}-canvas.csv", "text/csv")).props("outline dense no-caps").mark("export-canvas")
        ui.button("Export for Moodle", icon="download", on_click=lambda: ui.download.content(
            gradebook.export_csv(store, user=page_user(), class_id=book.class_id, lms="moodle").encode("utf-8"),
            f"hitsim-gradebook-{book.class_id}-moodle.csv", "text/csv")).props("outline dense no-caps").mark("export-moodle")
    if not book.assignments:
        ui.label("No assignments yet.").classes("hitsim-muted")
    columns: list[dict[str, Any]] = [
        {"name": "name", "label": "Student", "field": "name", "sortable": True, "align": "left"},
        {"name": "username", "label": "Username", "field": "username", "sortable": True, "align": "left"},
    ]
    for aid, title in book.assignments:
        columns.append({"name": f"a{aid}", "label": title, "field": f"a{aid}", "sortable": True, "align": "right"})

    def rows() -> list[dict[str, Any]]:
        out = []
        needle = (search.value or "").strip().lower()
        for r in book.rows:
            if needle and needle not in r.name.lower() and needle not in r.username.lower():
                continue
            if status.value != "any status" and not any(c.status == status.value for c in r.cells.values()):
                continue
            row: dict[str, Any] = {"id": r.student_id, "name": r.name, "username": r.username}
            for aid, _ in book.assignments:
                cell = r.cells[aid]
                row[f"a{aid}"] = cell.score  # sorts by score; the slot shows the status when there is none
                row[f"s{aid}"] = cell.status + (" · changed" if cell.overridden else "")
                row[f"l{aid}"] = f"/review/{cell.attempt_id}" if cell.attempt_id else ""
            out.append(row)
        return out

    table = ui.table(columns=columns, rows=rows(), row_key="id", pagination=50).props("dense bordered").classes(
        "w-full").mark("gradebook")
    for aid, _ in book.assignments:
        table.add_slot(f"body-cell-a{aid}", f"""<q-td :props="props">
            <a v-if="props.row.l{aid}" :href="props.row.l{aid}" class="text-primary">
              <b v-if="props.value !== null">{{{{ props.value.toFixed(1) }}}}</b>
              <span v-else>{{{{ props.row.s{aid} }}}}</span></a>
            <span v-else class="text-grey-7">{{{{ props.row.s{aid} }}}}</span>
            <div v-if="props.value !== null" class="text-caption text-grey-7">{{{{ props.row.s{aid} }}}}</div>
            </q-td>""")

    def refilter() -> None:
        table.rows = rows()
        table.update()

    search.on_value_change(refilter)
    status.on_value_change(refilter)
    ui.label("Scores are out of 100; a changed score shows the instructor's value. Click a score for the student's "
             "report, the answer key and score changes.").classes("text-sm hitsim-muted")


# ------------------------------------------------------------------------------------------ one assignment
def _settings_card(settings: assignments.AssignmentSettings) -> None:
    with ui.card().classes("w-full").mark("assignment-settings"):
        with ui.row().classes("w-full justify-between"):
            ui.label(f"{settings.class_name} · {settings.scenario_title}").classes("hitsim-card-title")
            ui.link("Gradebook", f"/classes/{settings.class_id}/gradebook").mark("to-gradebook")
        facts = [
            ("Tasks", ", ".join(settings.tasks)),
            ("Opens", when_text(settings.opens_at, "now")),
            ("Due", when_text(settings.due_at, "no due date")),
            ("Attempts allowed", str(settings.attempts_allowed)),
            ("Answer key released", settings.release_policy.replace("-", " ")),
            ("Per-student variants", "yes" if settings.per_student_variants else "no: everyone gets the same chart"),
            ("A retry keeps the same chart", "yes" if settings.retry_same_chart else "no: each attempt gets a new chart"),
            ("Submissions", str(settings.submissions)),
        ]
        with ui.grid(columns=2).classes("gap-x-6 gap-y-1"):
            for label, value in facts:
                ui.label(label).classes("hitsim-muted")
                ui.label(value)


def _variants_card(store: Store, settings: assignments.AssignmentSettings, start: bool) -> None:
    with ui.card().classes("w-full gap-2"):
        ui.label("Charts for the class").classes("hitsim-card-title")
        ui.label("Generates every enrolled student's chart and answer key now (in a worker process), so that a "
                 "scenario that cannot produce a chart is found before students open it.").classes("text-sm hitsim-muted")
        progress = Progress("variants-progress")

        async def generate() -> None:
            button.disable()
            try:
                plan = assignments.variant_plan(store, user=page_user(), assignment_id=settings.assignment_id)
                step = progress.start("Generating charts:", len(plan.seeds))
                names: list[str] = []
                for i in range(0, len(plan.seeds), VARIANT_BATCH):
                    batch = await run.cpu_bound(assignments.generate_variants, plan.source_toml, plan.slug,
                                                plan.seeds[i:i + VARIANT_BATCH])
                    if batch is None:  # the app is shutting down (NiceGUI cancels the worker's call)
                        return
                    names += batch
                    step(len(names), len(plan.seeds))
                progress.finish(f"{len(names)} charts ready ({len(set(names))} different patients).")
            finally:
                button.enable()

        button = ui.button("Generate the class's charts", icon="auto_awesome", on_click=generate).props("outline").mark(
            "generate-variants")
        if start:
            ui.timer(0.1, generate, once=True)


def _rubric_card(store: Store, settings: assignments.AssignmentSettings) -> None:
    with ui.card().classes("w-full gap-2").mark("rubric"):
        ui.label("Rubric: points per section").classes("hitsim-card-title")
        ui.label("Sections with nothing in the key are left out and the rest scaled to 100. Changing the points "
                 "keeps every chart and key; submissions are regraded.").classes("text-sm hitsim-muted")
        errors = FieldErrors(ui.label().classes("text-negative"))
        inputs = {}
        with ui.row().classes("gap-2"):
            for section, points in settings.rubric_sections.items():
                inputs[section] = errors.add(section, ui.number(section.replace("_", " ").capitalize(), value=points, min=0,
                                                                max=100).props("outlined dense").classes("w-36").mark(
                    f"rubric-{section}"))
        progress = Progress("regrade-progress")

        async def regrade() -> None:
            step = progress.start("Regrading:")
            count = await run.io_bound(gradebook.regrade_assignment, store, user=page_user(),
                                       assignment_id=settings.assignment_id, progress=step)
            progress.finish(f"{count} submission{'s' if count != 1 else ''} regraded.")

        async def save(confirmed: bool = False) -> None:
            errors.clear()
            try:
                count = gradebook.change_rubric(store, user=page_user(), assignment_id=settings.assignment_id,
                                                section_points={k: w.value for k, w in inputs.items()}, confirmed=confirmed)
            except InvalidInput as exc:
                errors.show(exc)
                return
            except gradebook.NeedsConfirmation as exc:
                _confirm(str(exc), "Change the rubric and regrade", lambda: save(confirmed=True))
                return
            ui.notify("Rubric saved", type="positive")
            if count:
                await regrade()

        def ask_regrade() -> None:
            count = len(gradebook.submitted_attempts(store, user=page_user(), assignment_id=settings.assignment_id))
            _confirm(f"Regrade {count} submission{'s' if count != 1 else ''} with the current rubric? Each gets a new "
                     "report; score changes you made stay.", "Regrade", regrade)

        with ui.row().classes("gap-2"):
            ui.button("Save rubric", icon="save", on_click=save).mark("save-rubric")
            ui.button("Regrade all submissions", icon="refresh", on_click=ask_regrade).props("outline").mark("regrade")


def _confirm(question: str, action: str, then: Any) -> None:
    with ui.dialog(value=True) as dialog, ui.card().mark("confirm"):
        ui.label(question)
        with ui.row().classes("justify-end w-full"):
            ui.button("Cancel", on_click=dialog.close).props("flat").mark("confirm-cancel")

            async def go() -> None:
                dialog.close()
                await then()

            ui.button(action, on_click=go).mark("confirm-yes")


def _item_analysis_card(store: Store, settings: assignments.AssignmentSettings) -> None:
    analysis = item_analysis.item_analysis(store, user=page_user(), assignment_id=settings.assignment_id)
    with ui.card().classes("w-full gap-2").mark("item-analysis"):
        ui.label("Item analysis: what the class missed most").classes("hitsim-card-title")
        if not analysis.graded:
            ui.label("Nothing graded yet.").classes("hitsim-muted")
            return
        ui.label(f"Across {analysis.graded} graded student{'s' if analysis.graded != 1 else ''} "
                 "(each student's latest graded attempt).").classes("text-sm hitsim-muted")
        for title, items, marker in (("Fields", analysis.fields, "missed-fields"), ("Codes", analysis.codes, "missed-codes")):
            if not items:
                continue
            ui.label(title).classes("text-h6")
            shown = list(reversed(items[:10]))
            ui.echart({
                "grid": {"left": 260, "right": 30, "top": 10, "bottom": 30},
                "xAxis": {"type": "value", "max": 100, "name": "% of students", "nameLocation": "middle", "nameGap": 22},
                "yAxis": {"type": "category", "data": [i.item for i in shown], "axisLabel": {"width": 240, "overflow": "truncate"}},
                "series": [{"type": "bar", "data": [round(100 * i.share) for i in shown], "itemStyle": {"color": "#14532d"}}],
                "tooltip": {"trigger": "axis"},
            }).classes("w-full").style(f"height: {60 + 28 * len(shown)}px").mark(f"{marker}-plot")
            ui.table(columns=[{"name": "item", "label": "Item", "field": "item", "align": "left"},
                              {"name": "students", "label": "Students who missed it", "field": "students", "sortable": True},
                              {"name": "share", "label": "%", "field": "share", "sortable": True},
                              {"name": "lost", "label": "Points lost (class)", "field": "lost", "sortable": True},
                              {"name": "example", "label": "Example", "field": "example", "align": "left"}],
                     rows=[{"item": i.item, "students": i.students, "share": round(100 * i.share), "lost": i.points_lost,
                            "example": i.example} for i in items], row_key="item").props("dense flat").classes(
                "w-full").mark(marker)


# ------------------------------------------------------------------------------------------ drill-down
def _override_card(store: Store, attempt_id: int, overrides: list[gradebook.Override]) -> None:
    with ui.card().classes("w-full gap-2").mark("override"):
        ui.label("Change the score").classes("hitsim-card-title")
        ui.label("The student sees the new score and your reason; every change is kept with who and when.").classes(
            "text-sm hitsim-muted")
        errors = FieldErrors(ui.label().classes("text-negative"))
        with ui.row().classes("gap-2 items-start w-full"):
            score = errors.add("score", ui.number("New score (0-100)", min=0, max=100).props("outlined dense").classes(
                "w-44").mark("override-score"))
            reason = errors.add("reason", ui.input("Reason (the student reads it)").props("outlined dense").classes(
                "grow").mark("override-reason-input"))

            def save() -> None:
                errors.clear()
                try:
                    gradebook.override_score(store, user=page_user(), attempt_id=attempt_id, score=score.value,
                                             reason=reason.value or "", workstation=current_workstation())
                except InvalidInput as exc:
                    errors.show(exc)
                    return
                ui.notify("Score changed", type="positive")
                ui.navigate.reload()

            ui.button("Change score", icon="edit", on_click=save).mark("override-save")
        for o in overrides:
            ui.label(f"{when_text(o.at)} · {o.by}: {o.previous_score if o.previous_score is not None else '—'} → {o.score:.1f} · "
                     f"{o.reason}").classes("text-sm").mark("override-history")

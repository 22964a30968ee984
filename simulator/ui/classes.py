"""Class pages: create a class, its students (one by one or a roster CSV), new assignments, and the admin page."""

from __future__ import annotations

import csv
import io
from typing import Any

from nicegui import run, ui

from simulator.services import assignments, classes, library
from simulator.services.errors import InvalidInput, NotFound, PermissionDenied
from simulator.store import Store
from simulator.store.models import RELEASE_POLICIES, ROLES
from simulator.ui.frame import frame
from simulator.ui.instructor_common import FieldErrors, Progress, page_user, parse_when, refused, when_text

RELEASE_LABELS = {"after-submission": "after the student submits", "after-due-date": "after the due date",
                  "never": "never"}


def passwords_dialog(title: str, passwords: list[classes.NewPassword]) -> None:
    """Initial passwords, shown once: a table and a CSV to download and hand out."""
    if not passwords:
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", "username", "password"])
    writer.writerows([(p.name, p.username, p.password) for p in passwords])
    with ui.dialog(value=True) as dialog, ui.card().classes("min-w-[520px]").mark("passwords"):
        ui.label(title).classes("hitsim-card-title")
        ui.label("Shown this once: hand them out or download them now.").classes("text-sm hitsim-muted")
        ui.table(columns=[{"name": k, "label": k.capitalize(), "field": k, "align": "left"}
                          for k in ("name", "username", "password")],
                 rows=[{"name": p.name, "username": p.username, "password": p.password} for p in passwords],
                 row_key="username", pagination=10).props("dense flat").classes("w-full")
        with ui.row():
            ui.button("Download CSV", icon="download",
                      on_click=lambda: ui.download.content(buffer.getvalue().encode("utf-8"), "initial-passwords.csv", "text/csv"))
            ui.button("Close", on_click=dialog.close).props("flat")


def register_class_pages(store: Store) -> None:
    @ui.page("/classes/new")
    def new_class_page() -> None:
        user = page_user()
        if user.role not in ("instructor", "admin"):
            refused("New class", PermissionDenied("This page is for instructors."))
            return
        with frame("New class"), ui.card().classes("w-[560px] gap-3"):
            errors = FieldErrors(ui.label().classes("text-negative"))
            name = errors.add("name", ui.input("Class name", placeholder="HIT 101 - Health Data Management").props(
                "outlined dense").classes("w-full").mark("class-name"))
            term = errors.add("term", ui.input("Term", placeholder="Spring 2027").props("outlined dense").classes(
                "w-full").mark("class-term"))
            teacher = None
            if user.role == "admin":
                teacher = errors.add("instructor", ui.input("Instructor's username (empty: you)").props(
                    "outlined dense").classes("w-full").mark("class-instructor"))

            def create() -> None:
                errors.clear()
                try:
                    class_id = classes.create_class(store, user=page_user(), name=name.value or "", term=term.value or "",
                                                    instructor_username=teacher.value if teacher else None)
                except InvalidInput as exc:
                    errors.show(exc)
                    return
                ui.navigate.to(f"/classes/{class_id}")

            ui.button("Create class", icon="add", on_click=create).mark("create-class")

    @ui.page("/classes/{class_id}")
    def class_page(class_id: int) -> None:
        user = page_user()
        try:
            info = classes.get_class(store, user=user, class_id=class_id)
        except (NotFound, PermissionDenied) as exc:
            refused("Class", exc)
            return
        with frame(f"{info.name} ({info.term})" if info.term else info.name):
            with ui.row().classes("gap-2"):
                ui.button("Gradebook", icon="grid_on", on_click=lambda: ui.navigate.to(f"/classes/{class_id}/gradebook")).mark(
                    "open-gradebook")
                ui.button("New assignment", icon="assignment_add",
                          on_click=lambda: ui.navigate.to(f"/assign?class_id={class_id}")).props("outline").mark("new-assignment")
            _assignments_card(store, class_id)
            _students_card(store, class_id)

    @ui.page("/assign")
    def assign_page(scenario: str = "", class_id: str = "") -> None:
        user = page_user()
        try:
            mine = classes.list_classes(store, user=user)
            entries = library.list_library(store, user=user)
        except PermissionDenied as exc:
            refused("New assignment", exc)
            return
        with frame("New assignment"):
            _assignment_form(store, mine, entries, scenario, int(class_id) if class_id.isdigit() else None)

    @ui.page("/admin")
    def admin_page() -> None:
        user = page_user()
        try:
            accounts = classes.list_accounts(store, user=user)
            all_classes = classes.list_classes(store, user=user)
        except PermissionDenied as exc:
            refused("Administration", exc)
            return
        with frame("Administration: accounts and classes"):
            _admin_accounts(store, accounts)
            with ui.card().classes("w-full"):
                with ui.row().classes("w-full justify-between items-center"):
                    ui.label(f"Every class ({len(all_classes)})").classes("hitsim-card-title")
                    ui.button("New class", icon="add", on_click=lambda: ui.navigate.to("/classes/new")).props("outline dense")
                for c in all_classes:
                    with ui.row().classes("w-full gap-4 border-b py-1 items-baseline"):
                        ui.link(f"{c.name} {c.term}".strip(), f"/classes/{c.class_id}").classes("w-96")
                        ui.label(f"taught by {c.instructor}").classes("hitsim-muted")
                        ui.label(f"{c.students} students").classes("text-sm")


def _assignments_card(store: Store, class_id: int) -> None:
    with ui.card().classes("w-full"):
        ui.label("Assignments").classes("hitsim-card-title")
        rows = assignments.class_assignments(store, user=page_user(), class_id=class_id)
        if not rows:
            ui.label("No assignments yet: pick a scenario from the library.").classes("hitsim-muted")
        for row in rows:
            with ui.row().classes("w-full items-baseline gap-4 border-b py-1").mark(f"class-assignment-{row.assignment_id}"):
                ui.link(row.title, f"/assignments/{row.assignment_id}").classes("font-medium")
                ui.label(row.scenario_title).classes("hitsim-muted")
                ui.label(f"opens {when_text(row.opens_at, 'now')} · due {when_text(row.due_at, 'no due date')}").classes("text-sm")


def _students_card(store: Store, class_id: int) -> None:
    with ui.card().classes("w-full gap-3"):
        ui.label("Students").classes("hitsim-card-title")

        @ui.refreshable
        def roster() -> None:
            people = classes.students(store, user=page_user(), class_id=class_id)
            ui.label(f"{len(people)} enrolled").classes("hitsim-muted").mark("enrolled-count")
            rows = [{"id": p.user_id, "name": p.name, "username": p.username, "email": p.email} for p in people]
            table = ui.table(columns=[{"name": "name", "label": "Name", "field": "name", "sortable": True, "align": "left"},
                                      {"name": "username", "label": "Username", "field": "username", "sortable": True,
                                       "align": "left"},
                                      {"name": "email", "label": "E-mail", "field": "email", "align": "left"},
                                      {"name": "reset", "label": "", "field": "id"}],
                             rows=rows, row_key="id", pagination=25).props("dense flat").classes("w-full").mark("roster")
            table.add_slot("body-cell-reset", """<q-td :props="props"><q-btn flat dense no-caps size="sm"
                icon="key" label="New password" @click="$parent.$emit('reset', props.row)"/></q-td>""")

            def reset(e: Any) -> None:
                try:
                    new = classes.reset_student_password(store, user=page_user(), class_id=class_id, student_id=int(e.args["id"]))
                except (NotFound, PermissionDenied) as exc:
                    ui.notify(str(exc), type="negative")
                    return
                passwords_dialog(f"New password for {new.name}", [new])

            table.on("reset", reset)

        roster()
        with ui.expansion("Add a student", icon="person_add").classes("w-full").mark("add-student"):
            errors = FieldErrors(ui.label().classes("text-negative"))
            with ui.row().classes("gap-2 items-start"):
                name = errors.add("name", ui.input("Name").props("outlined dense").mark("student-name"))
                username = errors.add("username", ui.input("Username").props("outlined dense").mark("student-username"))
                email = errors.add("email", ui.input("E-mail (optional)").props("outlined dense").mark("student-email"))

                def add() -> None:
                    errors.clear()
                    try:
                        new = classes.add_student(store, user=page_user(), class_id=class_id, name=name.value or "",
                                                  username=username.value or "", email=email.value or "")
                    except InvalidInput as exc:
                        errors.show(exc)
                        return
                    if new is None:
                        ui.notify(f"{username.value} already had an account: enrolled, password unchanged")
                    else:
                        passwords_dialog(f"Initial password for {new.name}", [new])
                    for widget in (name, username, email):
                        widget.set_value("")
                    roster.refresh()

                ui.button("Add", icon="add", on_click=add).mark("add-student-button")
        with ui.expansion("Import a roster (CSV)", icon="upload_file").classes("w-full").mark("import-roster"):
            ui.label("A CSV file with a header line name,username,email (UTF-8). Rows that cannot be used are "
                     "listed with the reason and nobody is created for them; a username that already belongs to a "
                     "student is enrolled, never created twice.").classes("text-sm hitsim-muted")
            progress = Progress("roster-progress")
            report_box = ui.column().classes("w-full gap-1").mark("roster-report")

            async def received(e: Any) -> None:
                content = await e.file.read()
                report_box.clear()
                step = progress.start("Creating accounts:")
                try:
                    report = await run.io_bound(classes.import_roster, store, user=page_user(), class_id=class_id,
                                                content=content, progress=step)
                except (NotFound, PermissionDenied) as exc:
                    progress.finish(str(exc))
                    return
                progress.finish(f"{len(report.created)} created, {len(report.enrolled)} already had an account, "
                                f"{len(report.refused)} refused")
                with report_box:
                    for row, why in report.refused:
                        ui.label(f"Row {row}: {why}" if row else why).classes("text-negative text-sm").mark("refused-row")
                roster.refresh()
                passwords_dialog(f"Initial passwords ({len(report.created)} new accounts)", report.created)

            ui.upload(on_upload=received, auto_upload=True, max_file_size=classes.MAX_ROSTER_BYTES).props(
                "accept=.csv,text/csv flat bordered").classes("w-96").mark("roster-upload")


def _assignment_form(store: Store, mine: list[classes.ClassInfo], entries: list[library.LibraryEntry],
                     scenario_key: str, class_id: int | None) -> None:
    by_key = {e.key: e for e in entries}
    errors = FieldErrors(ui.label().classes("text-negative font-medium").mark("form-error"))
    with ui.card().classes("w-full max-w-[900px] gap-3"):
        class_select = errors.add("class_id", ui.select({c.class_id: f"{c.name} {c.term}".strip() for c in mine},
                                                        label="Class", value=class_id if class_id in {c.class_id for c in mine}
                                                        else (mine[0].class_id if len(mine) == 1 else None)).props(
            "outlined dense").classes("w-full").mark("assign-class"))
        scenario = errors.add("scenario", ui.select({e.key: f"{e.title} ({e.difficulty})" for e in entries},
                                                    label="Scenario from the library",
                                                    value=scenario_key if scenario_key in by_key else None).props(
            "outlined dense").classes("w-full").mark("assign-scenario"))
        title = errors.add("title", ui.input("Title students see").props("outlined dense").classes("w-full").mark(
            "assign-title"))
        tasks = errors.add("tasks", ui.select([], label="Tasks", multiple=True).props("outlined dense use-chips").classes(
            "w-full").mark("assign-tasks"))

        def scenario_chosen() -> None:
            entry = by_key.get(scenario.value)
            tasks.set_options(list(entry.tasks) if entry else [], value=list(entry.tasks) if entry else [])
            if entry and not title.value:
                title.set_value(entry.title)

        scenario.on_value_change(scenario_chosen)
        scenario_chosen()
        with ui.row().classes("gap-3 items-start"):
            opens = errors.add("opens_at", ui.input("Opens (UTC; empty: now)").props("outlined dense type=datetime-local stack-label")
                               .classes("w-64").mark("assign-opens"))
            due = errors.add("due_at", ui.input("Due (UTC)").props("outlined dense type=datetime-local stack-label").classes(
                "w-64").mark("assign-due"))
            attempts = errors.add("attempts_allowed", ui.number("Attempts allowed", value=1, min=1, max=20, format="%.0f").props(
                "outlined dense").classes("w-44").mark("assign-attempts"))
        release = errors.add("release_policy", ui.radio({p: f"Release the answer key {RELEASE_LABELS[p]}"
                                                         for p in RELEASE_POLICIES}, value="after-due-date").mark(
            "assign-release"))
        variants = ui.switch("A different patient for each student (per-student variants)", value=True).mark("assign-variants")
        same_chart = ui.switch("A retry keeps the same chart", value=False).mark("assign-retry-same")

        def create() -> None:
            errors.clear()
            try:
                raw_attempts = attempts.value
                if raw_attempts is None or float(raw_attempts) != int(raw_attempts):
                    raise InvalidInput("attempts_allowed", "Attempts allowed: a whole number from 1 to 20")
                aid = assignments.assign_from_library(
                    store, user=page_user(), class_id=class_select.value, scenario_key=scenario.value or "",
                    title=title.value or "", opens_at=parse_when(opens.value, "Opens", "opens_at"),
                    due_at=parse_when(due.value, "Due", "due_at"), attempts_allowed=int(raw_attempts),
                    release_policy=release.value, per_student_variants=bool(variants.value),
                    retry_same_chart=bool(same_chart.value), tasks=tuple(tasks.value or ()))
            except InvalidInput as exc:
                errors.show(exc)
                return
            except PermissionDenied as exc:
                errors.show(InvalidInput("class_id", str(exc)))
                return
            ui.navigate.to(f"/assignments/{aid}?generate=1")

        ui.button("Create assignment", icon="assignment_add", on_click=create).mark("create-assignment")


def _admin_accounts(store: Store, accounts: list[classes.AccountInfo]) -> None:
    with ui.card().classes("w-full gap-2"):
        ui.label(f"Accounts ({len(accounts)})").classes("hitsim-card-title")
        ui.table(columns=[{"name": "username", "label": "Username", "field": "username", "sortable": True, "align": "left"},
                                  {"name": "name", "label": "Name", "field": "name", "sortable": True, "align": "left"},
                                  {"name": "email", "label": "E-mail", "field": "email", "align": "left"},
                                  {"name": "role", "label": "Role", "field": "role", "sortable": True, "align": "left"}],
                         rows=[{"id": a.user_id, "username": a.username, "name": a.name, "email": a.email, "role": a.role}
                               for a in accounts], row_key="id", pagination=20).props("dense flat").classes("w-full").mark(
            "accounts")
        with ui.row().classes("gap-2 items-start").mark("change-role"):
            who = ui.select({a.user_id: f"{a.username} ({a.name})" for a in accounts}, label="Account", with_input=True).props(
                "outlined dense").classes("w-72").mark("role-account")
            new_role = ui.select(list(ROLES), value="instructor", label="New role").props("outlined dense").classes("w-40").mark(
                "role-value")

            def change() -> None:
                try:
                    classes.set_role(store, user=page_user(), user_id=int(who.value or 0), role=str(new_role.value))
                except (InvalidInput, NotFound, PermissionDenied) as exc:
                    ui.notify(str(exc), type="negative")
                    return
                ui.notify("Role changed", type="positive")
                ui.navigate.reload()

            ui.button("Change role", icon="manage_accounts", on_click=change).props("outline").mark("change-role-button")
        with ui.expansion("Create an account", icon="person_add").classes("w-full").mark("create-account"):
            errors = FieldErrors(ui.label().classes("text-negative"))
            with ui.row().classes("gap-2 items-start"):
                name = errors.add("display_name", ui.input("Name").props("outlined dense").mark("account-name"))
                username = errors.add("username", ui.input("Username").props("outlined dense").mark("account-username"))
                email = errors.add("email", ui.input("E-mail").props("outlined dense"))
                role = errors.add("role", ui.select(list(ROLES), value="instructor", label="Role").props("outlined dense").classes(
                    "w-40").mark("account-role"))

                def create() -> None:
                    errors.clear()
                    try:
                        new = classes.create_account(store, user=page_user(), name=name.value or "",
                                                     username=username.value or "", role=role.value, email=email.value or "")
                    except InvalidInput as exc:
                        errors.show(exc)
                        return
                    passwords_dialog(f"Initial password for {new.name}", [new])

                ui.button("Create", on_click=create).mark("create-account-button")


def class_links(class_id: int) -> None:
    """The ways from a class on the instructor's start page to its pages."""
    with ui.row().classes("gap-3"):
        ui.link("Students", f"/classes/{class_id}").mark(f"class-page-{class_id}")
        ui.link("Gradebook", f"/classes/{class_id}/gradebook").mark(f"gradebook-{class_id}")
        ui.link("New assignment", f"/assign?class_id={class_id}")

"""The scenario library pages: browse, preview (chart and key for a sample seed), copy and edit, upload."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from nicegui import ui

from simulator.clinical import load_catalog
from simulator.generate.scenario import DATE_FORMATS, DIFFICULTIES, FAULT_KINDS, SEED_POLICIES, SETTINGS, TASKS, UNIT_STYLES
from simulator.services import library
from simulator.services.errors import InvalidInput, PermissionDenied
from simulator.store import Store
from simulator.ui.frame import frame
from simulator.ui.instructor_common import (
    DIFFICULTY_COLOURS,
    FieldErrors,
    answer_key_view,
    chart_tabs,
    page_user,
    refused,
)


def register_library_pages(store: Store) -> None:
    @ui.page("/library")
    def library_page() -> None:
        user = page_user()
        try:
            entries = library.list_library(store, user=user)
        except PermissionDenied as exc:
            refused("Scenario library", exc)
            return
        with frame("Scenario library"):
            ui.label("Every scenario an assignment can use: the shipped ones, easiest first, then your own. "
                     "Preview shows the paper chart and the answer key a sample seed gives.").classes("hitsim-muted")
            _upload_box(store)
            for entry in entries:
                _entry_card(entry)

    @ui.page("/library/preview")
    def preview_page(key: str = "", seed: str = "") -> None:
        user = page_user()
        try:
            chosen = int(seed) if seed.strip().isdigit() else None
            preview = library.preview(store, user=user, key=key, seed=chosen)
        except (PermissionDenied, InvalidInput) as exc:
            refused("Scenario preview", exc)
            return
        with frame(f"Preview: {preview.entry.title}", wide=True):
            with ui.row().classes("items-center gap-3"):
                ui.label(f"Sample seed {preview.seed}").classes("font-medium").mark("preview-seed")
                seed_input = ui.number("Another seed", value=preview.seed + 1, min=0, format="%d").props(
                    "dense outlined").classes("w-40").mark("seed")
                ui.button("Show", on_click=lambda: ui.navigate.to(
                    f"/library/preview?key={quote(key)}&seed={int(seed_input.value or 0)}")).props("outline").mark("show-seed")
                ui.link("Back to the library", "/library")
                ui.label("The key is shown to instructors only; students never receive it.").classes("text-sm hitsim-muted")
            with ui.splitter(value=55).classes("w-full").style("height: calc(100vh - 200px)") as split:
                with split.before:
                    with ui.column().classes("w-full h-full overflow-auto pr-3"):
                        ui.label("Paper chart").classes("text-h6")
                        chart_tabs(preview.pages)
                with split.after:
                    with ui.column().classes("w-full h-full overflow-auto pl-3"):
                        ui.label("Answer key").classes("text-h6")
                        answer_key_view(preview.key)

    @ui.page("/library/edit")
    def edit_page(key: str = "") -> None:
        user = page_user()
        try:
            entry, scenario = library.load_entry(store, user=user, key=key)
        except (PermissionDenied, InvalidInput) as exc:
            refused("Edit a scenario", exc)
            return
        slug = entry.slug if entry.editable else f"{entry.slug}-copy"
        with frame(f"{'Edit' if entry.editable else 'Copy and edit'}: {entry.title}"):
            _scenario_form(store, slug, library.form_values(scenario))


def _entry_card(entry: library.LibraryEntry) -> None:
    with ui.card().classes("w-full").mark(f"scenario-{entry.slug}"):
        with ui.row().classes("w-full items-start justify-between no-wrap"):
            with ui.column().classes("gap-1 grow"):
                with ui.row().classes("items-center gap-2"):
                    ui.label(entry.title).classes("hitsim-card-title")
                    ui.badge(entry.difficulty, color=DIFFICULTY_COLOURS[entry.difficulty])
                    ui.badge(entry.setting, color="blue-grey-6")
                    for task in entry.tasks:
                        ui.badge(task, color="teal-7").props("outline")
                ui.label(entry.description).classes("text-sm")
                ui.label(f"{entry.slug} · {entry.patients} patient{'s' if entry.patients != 1 else ''} · "
                         f"by {entry.owner}").classes("text-xs hitsim-muted")
            with ui.row().classes("gap-1 no-wrap items-center flex-none"):
                key = quote(entry.key)
                ui.button("Preview", icon="visibility", on_click=lambda: ui.navigate.to(f"/library/preview?key={key}")).props(
                    "flat dense no-caps").classes("whitespace-nowrap").mark(f"preview-{entry.slug}")
                ui.button("Edit" if entry.editable else "Copy & edit", icon="edit",
                          on_click=lambda: ui.navigate.to(f"/library/edit?key={key}")).props("flat dense no-caps").classes(
                    "whitespace-nowrap").mark(f"edit-{entry.slug}")
                ui.button("Assign", icon="assignment_add", on_click=lambda: ui.navigate.to(f"/assign?scenario={key}")).props(
                    "no-caps").classes("whitespace-nowrap").mark(f"assign-{entry.slug}")


def _upload_box(store: Store) -> None:
    with ui.expansion("Upload a scenario file (.toml)", icon="upload_file").classes("w-full").mark("upload-scenario"):
        message = ui.label().classes("text-negative").mark("upload-error")

        async def received(e: Any) -> None:
            try:
                key = library.upload(store, user=page_user(), filename=e.file.name, content=await e.file.read())
            except InvalidInput as exc:
                message.set_text(str(exc))
                return
            ui.navigate.to(f"/library/edit?key={quote(key)}")

        ui.label("Checked like the shipped files: every key, type, range and condition. "
                 "A problem is named with its key, and nothing is saved.").classes("text-sm hitsim-muted")
        ui.upload(on_upload=received, auto_upload=True, max_file_size=library.MAX_UPLOAD_BYTES).props(
            "accept=.toml flat bordered").classes("w-96")


def _scenario_form(store: Store, slug: str, values: dict[str, Any]) -> None:
    catalog = load_catalog()
    kinds: dict[str, list[str]] = {"chronic": [], "acute": [], "preventive": []}
    for key, condition in sorted(catalog.conditions.items()):
        kinds[condition.kind].append(key)
    errors = FieldErrors(ui.label().classes("text-negative font-medium").mark("form-error"))
    widgets: dict[str, Any] = {}

    def field(name: str, widget: Any) -> Any:
        widgets[name] = errors.add(name, widget.mark(f"field-{name}"))
        return widget

    def span(name: str, label: str) -> None:
        low, high = values.get(name, [None, None])
        with ui.row().classes("items-start gap-2 no-wrap"):
            first = ui.number(f"{label}: from", value=low, format="%.0f").props("outlined dense").classes("w-40")
            second = ui.number("to", value=high, format="%.0f").props("outlined dense").classes("w-28")
        errors.add(name, first.mark(f"field-{name}"))
        widgets[name] = (first, second)

    def many(name: str, label: str, options: list[str] | tuple[str, ...]) -> None:
        field(name, ui.select(list(options), label=label, value=list(values.get(name, [])), multiple=True).props(
            "outlined dense use-chips").classes("w-full"))

    with ui.card().classes("w-full gap-3"):
        ui.label("The scenario").classes("hitsim-card-title")
        field("slug", ui.input("Short name (the file name)", value=slug).props("outlined dense").classes("w-96"))
        field("title", ui.input("Title", value=values["title"]).props("outlined dense").classes("w-full"))
        field("description", ui.textarea("Description", value=values["description"]).props("outlined dense").classes("w-full"))
        with ui.row().classes("gap-3"):
            field("difficulty", ui.select(list(DIFFICULTIES), label="Difficulty", value=values["difficulty"]).props(
                "outlined dense").classes("w-48"))
            field("setting", ui.select(list(SETTINGS), label="Setting", value=values["setting"]).props(
                "outlined dense").classes("w-48"))
        many("tasks", "Tasks", TASKS)
    with ui.card().classes("w-full gap-3"):
        ui.label("Patients").classes("hitsim-card-title")
        with ui.row().classes("gap-3 items-start"):
            field("patients.count", ui.number("Patients in the case", value=values["patients.count"], format="%.0f").props(
                "outlined dense").classes("w-48"))
            field("patients.sex", ui.select(["any", "female", "male"], label="Sex", value=values["patients.sex"]).props(
                "outlined dense").classes("w-40"))
        with ui.row().classes("gap-6"):
            span("patients.visits", "Visits per patient")
            span("patients.ages", "Ages")
            span("patients.months_between_visits", "Months between visits")
    with ui.card().classes("w-full gap-3"):
        ui.label("Case mix (conditions from the clinical catalog)").classes("hitsim-card-title")
        many("case_mix.chronic", "Chronic conditions", kinds["chronic"])
        span("case_mix.chronic_per_patient", "Chronic conditions per patient")
        many("case_mix.acute", "Acute conditions", kinds["acute"])
        many("case_mix.preventive", "Preventive visits", kinds["preventive"])
        with ui.row().classes("gap-3"):
            field("case_mix.acute_visit_share", ui.number("Share of sick visits (0-1)", value=values["case_mix.acute_visit_share"],
                                                          step=0.05).props("outlined dense").classes("w-56"))
            field("case_mix.allergy_rate", ui.number("Allergy rate (0-1)", value=values["case_mix.allergy_rate"],
                                                     step=0.05).props("outlined dense").classes("w-56"))
    with ui.card().classes("w-full gap-3"):
        ui.label("Seed, timeline, how the chart is printed, planted faults").classes("hitsim-card-title")
        with ui.row().classes("gap-3 items-start"):
            field("seed.policy", ui.select(list(SEED_POLICIES), label="Seed policy", value=values["seed.policy"]).props(
                "outlined dense").classes("w-48"))
            field("seed.default", ui.number("Default seed", value=values["seed.default"], format="%.0f").props(
                "outlined dense").classes("w-48"))
            field("timeline.start", ui.input("First visit on or after (YYYY-MM-DD)", value=values["timeline.start"]).props(
                "outlined dense").classes("w-64"))
        many("messiness.date_formats", "Date formats on the chart", DATE_FORMATS)
        with ui.row().classes("gap-3 items-start"):
            field("messiness.units", ui.select(list(UNIT_STYLES), label="Units", value=values["messiness.units"]).props(
                "outlined dense").classes("w-40"))
            field("messiness.abbreviations", ui.number("Abbreviations (0-1)", value=values["messiness.abbreviations"],
                                                       step=0.05).props("outlined dense").classes("w-48"))
            field("faults.count", ui.number("Planted faults (verify task)", value=values["faults.count"], format="%.0f").props(
                "outlined dense").classes("w-56"))
        many("faults.kinds", "Fault kinds", FAULT_KINDS)

    def save() -> None:
        errors.clear()
        form: dict[str, Any] = {"rubric": values["rubric"]} if "rubric" in values else {}
        for name, widget in widgets.items():
            if name == "slug":
                continue
            form[name] = [widget[0].value, widget[1].value] if isinstance(widget, tuple) else widget.value
        try:
            key = library.save_from_form(store, user=page_user(), slug=widgets["slug"].value or "", values=form)
        except InvalidInput as exc:
            errors.show(exc)
            return
        ui.notify("Scenario saved to your library", type="positive")
        ui.navigate.to(f"/library/preview?key={quote(key)}")

    with ui.row().classes("gap-3"):
        ui.button("Save to my library", icon="save", on_click=save).mark("save-scenario")
        ui.link("Cancel", "/library")

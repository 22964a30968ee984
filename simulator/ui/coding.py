"""The coding view: send a visit to coding, look codes up in the encoder, and build the visit's claim."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from simulator.coding.codes import CodeError, check_diagnosis, check_modifier, check_service
from simulator.coding.encoder import ICD10CM_RELEASE, Encoder
from simulator.ehr import claims
from simulator.services import workspace
from simulator.services.errors import InvalidInput, PermissionDenied
from simulator.services.workspace import SavedResource, VersionConflict, is_sent_to_coding

CPT_NOTICE = ("CPT® is a registered trademark of the American Medical Association. hitsim shows CPT code numbers "
              "with descriptions in its own plain words, not the AMA's descriptors.")


def code_page_dialog(encoder: Encoder, code: str) -> None:
    page = encoder.page(code)
    if page is None:
        ui.notify(f"{code}: no such code", type="warning")
        return
    labels = {"inclusion_terms": "Inclusion terms", "includes": "Includes", "excludes1": "Excludes1",
              "excludes2": "Excludes2", "code_first": "Code first", "use_additional_code": "Use additional code",
              "code_also": "Code also", "notes": "Notes"}
    with ui.dialog() as dialog, ui.card().classes("w-[720px] max-w-full").mark("code-page"):
        ui.label(f"{page['code']}  {page['title']}").classes("text-h6")
        ui.label(f"{page['system']} · {'billable' if page['billable'] else 'header — not billable'}").classes(
            "text-positive" if page["billable"] else "text-negative")
        if page["lay_description"]:
            ui.label(CPT_NOTICE).classes("text-xs hitsim-muted")
        for parent, title in page["parents"]:
            ui.label(f"in {parent} {title}").classes("text-sm hitsim-muted")
        for section, title in page.get("sections", []):
            ui.label(f"in {'block' if '-' in section else 'chapter'} {section} {title}").classes("text-sm hitsim-muted")
        for kind, label in labels.items():
            for text in page["notes"].get(kind, []):
                with ui.row().classes("gap-2 no-wrap items-start"):
                    ui.label(label).classes("text-xs font-bold w-36 shrink-0 text-negative" if kind == "excludes1"
                                            else "text-xs font-bold w-36 shrink-0")
                    ui.label(" ".join(text.split())).classes("text-sm")
        if page["seventh_characters"]:
            ui.label("7th characters").classes("font-medium mt-2")
            for char, meaning in page["seventh_characters"].items():
                ui.label(f"{char} — {' '.join(meaning.split())}").classes("text-sm")
        if page["children"]:
            ui.label("Codes below it").classes("font-medium mt-2")
            for child, title, billable in page["children"][:30]:
                ui.label(f"{child} {title}{'' if billable else ' (header)'}").classes("text-sm")
        ui.button("Close", on_click=dialog.close).props("flat")
    dialog.open()


def _code_input(label: str, placeholder: str, mark: str, on_enter: Callable[[ui.input], None]) -> ui.input:
    """A field where a code is typed and Enter puts it on the claim (or shows why it cannot go there)."""
    entry = ui.input(label, placeholder=placeholder).props("outlined dense").classes("w-56").mark(mark)
    entry.props["error"] = False
    entry.on("keydown.enter", lambda: on_enter(entry))
    return entry


class ClaimEditor:
    """One visit's claim: diagnoses in sequence and service lines; every change is saved."""

    def __init__(self, ws: Any, encounter: dict[str, Any], label: str, get_encoder: Callable[[], Encoder]):
        self.ws, self.encounter, self.get_encoder = ws, encounter, get_encoder
        self.saved: SavedResource | None = next(
            (s for s in ws.of("Claim") if claims.CLAIM_ENCOUNTER_URL in str(s.resource.get("extension"))
             and encounter["id"] in str(s.resource.get("extension"))), None)
        self.draft = claims.read_claim(self.saved.resource if self.saved else None)
        self.sent = is_sent_to_coding(encounter)
        with ui.card().classes("w-full").mark(f"claim-{encounter['id']}") as self.card:
            with ui.row().classes("w-full items-center justify-between"):
                ui.label(label).classes("font-medium")
                self.status = ui.row().classes("items-center gap-2")
            self.body = ui.column().classes("w-full gap-1")
        self.render()

    # ------------------------------------------------------------------ rendering
    def render(self) -> None:
        self.status.clear()
        with self.status:
            if self.sent:
                ui.badge("sent to coding", color="primary").mark("sent-badge")
                if self.ws.user.role in ("instructor", "admin"):
                    ui.button("Reopen for entry", icon="lock_open", on_click=self.reopen).props(
                        "dense flat no-caps").mark("reopen-entry")
            elif not self.ws.read_only:
                ui.label("Entry in progress").classes("text-sm hitsim-muted")
                ui.button("Send to coding", icon="send", on_click=self.ask_send).props("dense no-caps").mark(
                    "send-to-coding")
        self.body.clear()
        with self.body:
            if not self.sent:
                ui.label("Finish entering this visit, then send it to coding. Its entry becomes read-only.").classes(
                    "text-sm hitsim-muted")
                return
            # The code fields stay while the lines above them are redrawn: after Enter the focus stays in the
            # field, and a code typed into the other field meanwhile is not lost with a redrawn field.
            ui.label("Diagnoses (ICD-10-CM), first-listed first").classes("text-subtitle2 mt-1")
            self.dx_rows = ui.column().classes("w-full gap-0")
            if not self.ws.read_only:
                _code_input("Add diagnosis code", "e.g. E11.22", "add-dx", self.add_dx)
            ui.label("Services (CPT / HCPCS)").classes("text-subtitle2 mt-2")
            self.service_rows = ui.column().classes("w-full gap-0")
            if not self.ws.read_only:
                _code_input("Add service code", "e.g. 99213 or J1885", "add-service", self.add_service)
        self.render_lines()

    def render_lines(self) -> None:
        """Redraw the claim's diagnoses and service lines (after a change), not the fields to add codes."""
        if not self.sent:
            return
        self.dx_rows.clear()
        with self.dx_rows:
            self._diagnoses()
        self.service_rows.clear()
        with self.service_rows:
            self._services()

    def _diagnoses(self) -> None:
        for i, (code, title) in enumerate(self.draft.diagnoses):
            with ui.row().classes("w-full items-center gap-2 no-wrap border-b").mark("dx-row"):
                ui.label(f"{i + 1}.").classes("w-6 shrink-0")
                ui.label(code).classes("font-mono font-medium w-20 shrink-0").mark("dx-code")
                ui.label(title).classes("flex-1 min-w-0 text-sm")
                if not self.ws.read_only:
                    ui.button(icon="arrow_upward", on_click=lambda i=i: self.move(i, -1)).props("flat dense round").tooltip(
                        "Move up (first-listed is first)")
                    ui.button(icon="close", on_click=lambda i=i: self.remove_dx(i)).props("flat dense round").tooltip(
                        "Remove")

    def _services(self) -> None:
        pointer_options = {code: f"{i}: {code}" for i, (code, _t) in enumerate(self.draft.diagnoses, start=1)}
        for i, line in enumerate(self.draft.lines):
            with ui.row().classes("w-full items-start gap-2 no-wrap border-b py-1").mark("service-row"):
                ui.label(line.code).classes("font-mono font-medium w-16 shrink-0 mt-2").mark("service-code")
                # Columns line up from line to line: the title takes what is left, the inputs keep their width.
                ui.label(line.title).classes("flex-1 min-w-0 text-sm mt-2")
                units = ui.number("Units", value=line.units, min=1, max=999, precision=0).props("outlined dense").classes(
                    "w-20 shrink-0").mark("service-units")
                mods = ui.input("Modifiers", value=", ".join(line.modifiers), placeholder="25").props(
                    "outlined dense").classes("w-28 shrink-0").mark("service-modifiers")
                mods.props["error"] = False
                pointers = ui.select(pointer_options, multiple=True, label=f"Diagnosis pointers (up to {claims.MAX_POINTERS})",
                                     value=[p for p in line.pointers if p in pointer_options][:claims.MAX_POINTERS]).props(
                    f"outlined dense use-chips max-values={claims.MAX_POINTERS}").classes("w-56 shrink-0").mark("service-pointers")
                if self.ws.read_only:
                    for el in (units, mods, pointers):
                        el.disable()
                else:
                    units.on_value_change(lambda e, line=line: self.set_units(line, e.value))
                    mods.on("blur", lambda _e, line=line, el=mods: self.set_modifiers(line, el))
                    pointers.on_value_change(lambda e, line=line, el=pointers: self.set_pointers(line, e.value, el))
                    ui.button(icon="close", on_click=lambda i=i: self.remove_line(i)).props("flat dense round").tooltip(
                        "Remove")

    # ------------------------------------------------------------------ changes
    def _move_visit(self, service: Callable[..., SavedResource]) -> bool:
        """Send the visit to coding or reopen it (``service``); True when that worked."""
        try:
            saved = service(self.ws.store, user=self.ws.user, attempt_id=self.ws.attempt_id,
                            encounter_id=self.encounter["id"], workstation=self.ws.workstation)
        except (PermissionDenied, VersionConflict) as exc:
            ui.notify(str(exc), type="warning")
            return False
        self.ws.saved[saved.resource["id"]] = saved
        self.encounter = saved.resource
        self.sent = is_sent_to_coding(saved.resource)
        self.render()
        return True

    def ask_send(self) -> None:
        """Sending locks the visit's entry until the instructor reopens it: the student confirms first."""
        with self.card, ui.dialog() as dialog, ui.card().classes("max-w-lg"):
            ui.label("Send this visit to coding?").classes("text-h6")
            ui.label("The visit's entry (encounter, vital signs, labs, procedures, notes and visit diagnoses) becomes "
                     "read-only, on the server too, and its claim opens for coding. Only your instructor can reopen it "
                     "for entry. Check the visit against the paper chart first.")
            with ui.row().classes("justify-end w-full"):
                ui.button("Not yet", on_click=dialog.close).props("flat autofocus").mark("cancel-send-to-coding")
                ui.button("Send to coding", icon="send",
                          on_click=lambda: (dialog.close(), self.send())).mark("confirm-send-to-coding")
        dialog.open()

    def send(self) -> None:
        if self._move_visit(workspace.send_to_coding):
            self.ws.refresh_dependents()
            if self.ws.indicator:
                self.ws.indicator.saved()

    def reopen(self) -> None:
        if self._move_visit(workspace.reopen_for_entry):
            ui.notify("The visit is open for entry again; the student can correct it.", type="positive")

    def put(self, typed: str, as_service: bool) -> str | None:
        """Put a code on this claim; the reason it cannot go there, or None when it went."""
        encoder = self.get_encoder()
        try:
            hit = check_service(encoder, typed) if as_service else check_diagnosis(encoder, typed)
        except CodeError as exc:
            return str(exc)
        if as_service:
            first_listed = [c for c, _ in self.draft.diagnoses[:1]]
            self.draft.lines.append(claims.ClaimLine(hit.code, hit.title, 1, [], first_listed))
        elif any(code == hit.code for code, _t in self.draft.diagnoses):
            return f"{hit.code} is already on this claim"
        elif len(self.draft.diagnoses) >= claims.MAX_DIAGNOSES:
            return (f"A claim takes at most {claims.MAX_DIAGNOSES} diagnoses (CMS-1500 item 21, A-L); "
                    "remove one first")
        else:
            self.draft.diagnoses.append((hit.code, hit.title))
        self.save()
        return None

    def add_dx(self, entry: ui.input) -> None:
        self._add(entry, as_service=False)

    def add_service(self, entry: ui.input) -> None:
        self._add(entry, as_service=True)

    def _add(self, entry: ui.input, as_service: bool) -> None:
        """The typed code goes on the claim and the field empties for the next one; or the field says why not."""
        entry.error = self.put(entry.value or "", as_service)
        if entry.error is None:
            entry.set_value("")

    def add_code(self, code: str, as_service: bool) -> None:
        """From the encoder panel."""
        problem = self.put(code, as_service)
        if problem:
            ui.notify(problem, type="warning")

    def move(self, i: int, step: int) -> None:
        j = i + step
        if 0 <= j < len(self.draft.diagnoses):
            dx = self.draft.diagnoses
            dx[i], dx[j] = dx[j], dx[i]
            self.save()

    def remove_dx(self, i: int) -> None:
        code, _ = self.draft.diagnoses.pop(i)
        for line in self.draft.lines:
            line.pointers = [p for p in line.pointers if p != code]
        self.save()

    def remove_line(self, i: int) -> None:
        self.draft.lines.pop(i)
        self.save()

    def set_units(self, line: claims.ClaimLine, value: Any) -> None:
        if isinstance(value, int | float) and 1 <= value <= 999:  # what the field allows; a crafted message too
            line.units = int(value)
            self.save(rerender=False)

    def set_modifiers(self, line: claims.ClaimLine, el: ui.input) -> None:
        el.error = None
        try:
            mods = [check_modifier(m) for m in (el.value or "").replace(";", ",").split(",") if m.strip()]
        except CodeError as exc:
            el.error = str(exc)
            return
        line.modifiers = mods
        self.save(rerender=False)

    def set_pointers(self, line: claims.ClaimLine, value: Any, el: ui.select | None = None) -> None:
        chosen = list(value or [])
        if len(chosen) > claims.MAX_POINTERS:
            if el is not None:
                el.error = f"At most {claims.MAX_POINTERS} diagnosis pointers per line (CMS-1500 item 24E)"
                el.set_value(chosen[:claims.MAX_POINTERS])
            return
        if el is not None:
            el.error = None
        line.pointers = chosen
        self.save(rerender=False)

    def save(self, rerender: bool = True) -> None:
        coverage = next((s.resource for s in self.ws.of("Coverage")), None)
        resource = claims.build_claim(self.draft, patient_id=self.ws.ensure_patient_id(), encounter=self.encounter,
                                      coverage=coverage, existing=self.saved.resource if self.saved else None)
        try:
            self.saved = self.ws.save(resource, self.saved.version if self.saved else 0, f"claim-{self.encounter['id']}")
        except InvalidInput as exc:
            ui.notify(str(exc), type="warning")
        except VersionConflict:
            self.ws.reload()
            self.saved = self.ws.saved.get(resource["id"])
            self.draft = claims.read_claim(self.saved.resource if self.saved else None)
            ui.notify("This claim was changed in another tab; you now see the newer version.", type="warning")
        except PermissionDenied as exc:
            ui.notify(str(exc), type="warning")
        if rerender:
            self.render_lines()


def coding_section(ws: Any, get_encoder: Callable[[], Encoder]) -> None:
    """The encoder panel above one claim editor per visit."""
    editors: dict[str, ClaimEditor] = {}
    with ui.card().classes("w-full bg-grey-1").mark("encoder"):
        with ui.row().classes("w-full items-center justify-between"):
            ui.label("Encoder").classes("font-medium")
            ui.label(f"{ICD10CM_RELEASE} · HCPCS Oct 2025 · CPT numbers in plain words").classes("text-xs hitsim-muted")
        with ui.row().classes("w-full items-start gap-2"):
            # Results follow the typing once it pauses (debounce): a search per keystroke queues up on a busy server
            # and shows the results of a word half typed; Enter searches what is in the box at once.
            query = ui.input("Search codes", placeholder="words, abbreviations (dm2 ckd) or a code").props(
                "outlined dense clearable debounce=300").classes("grow min-w-[200px] max-w-[384px]").mark("encoder-search")
            mode = ui.toggle({"tabular": "Tabular", "index": "Alphabetic Index"}, value="tabular").props("dense no-caps")
            target = ui.select({}, label="Add to visit").props("outlined dense").classes("w-52").mark("encoder-target")
        results = ui.column().classes("w-full gap-0").mark("encoder-results")
        ui.label(CPT_NOTICE).classes("text-xs hitsim-muted")

    shown: list[str | None] = [None]  # the query and mode the results are for

    def search(typed: str | None = None) -> None:
        text = query.value or "" if typed is None else typed
        if shown[0] == f"{mode.value}:{text}":
            return  # Enter, then the debounced value of the same text: one search
        shown[0] = f"{mode.value}:{text}"
        results.clear()
        encoder = get_encoder()
        with results:
            if mode.value == "index":
                for path, code, see in encoder.alphabetic_index(text, 15):
                    with ui.row().classes("w-full items-center gap-2 no-wrap border-b"):
                        ui.label(path + (f" (see {see})" if see else "")).classes("grow text-sm")
                        if code:
                            ui.button(code, on_click=lambda c=code: code_page_dialog(encoder, c)).props(
                                "flat dense no-caps").tooltip("Verify it in the Tabular")
                return
            hits = encoder.search(text, 12)
            if text and not hits:
                ui.label("No codes found. Try other words, an abbreviation, or the Alphabetic Index.").classes(
                    "text-sm hitsim-muted")
            for hit in hits:
                with ui.row().classes("w-full items-center gap-2 no-wrap border-b").mark("encoder-hit"):
                    ui.label(hit.code).classes("font-mono font-medium w-20")
                    ui.label(hit.title + ("" if hit.billable else "  — header, not billable")).classes(
                        "grow text-sm" + ("" if hit.billable else " hitsim-muted"))
                    if hit.also:  # the Tabular's "use additional code" (or Chapter 19's external cause) note
                        ui.label("+ " + ", ".join(hit.also)).classes("font-mono text-sm text-primary").tooltip(
                            "With this code: " + "; ".join(f"{c} {h.title}" for c in hit.also
                                                           if (h := encoder.lookup(c)) is not None)).mark("encoder-also")
                    ui.button(icon="info", on_click=lambda c=hit.code: code_page_dialog(encoder, c)).props(
                        "flat dense round").tooltip("Code page: notes, Excludes, 7th characters")
                    if hit.billable and not ws.read_only:
                        as_service = hit.system != "ICD-10-CM"
                        ui.button("Add both" if hit.also else "Add",
                                  on_click=lambda cs=hit.codes, s=as_service: [add(c, s) for c in cs]).props(
                            "dense no-caps flat").mark(f"encoder-add-{hit.code}")

    def add(code: str, as_service: bool) -> None:
        editor = editors.get(target.value or "")
        if editor is None or not editor.sent:
            ui.notify("Pick a visit that was sent to coding under 'Add to visit'.", type="warning")
            return
        editor.add_code(code, as_service)

    query.on("keydown.enter", lambda e: search(e.args if isinstance(e.args, str) else None),
             js_handler="(e) => emit(e.target.value)")
    query.on_value_change(lambda: search() if len(query.value or "") >= 3 or not query.value else None)
    mode.on_value_change(lambda: search())
    container = ui.column().classes("w-full gap-2")

    def render() -> None:
        container.clear()
        editors.clear()
        ctx = ws.context()
        visits = ctx.visit_options()
        target.set_options(visits, value=target.value if target.value in visits else next(iter(visits), None))
        with container:
            if not visits:
                ui.label("Add the visits under Encounters first; each visit gets its own claim here.").classes(
                    "hitsim-muted").mark("coding-need-visits")
            for enc_id, label in visits.items():
                enc = ctx.encounter(enc_id)
                if enc is not None:
                    editors[enc_id] = ClaimEditor(ws, enc, label, get_encoder)

    render()
    ws.on_patient_change.append(render)


"""The workspace's instructions: per task, what goes where, what is graded and how the score is made.

Nothing graded may depend on a rule the student was never told: every rule the grader applies to a
student's entry is said here (and in the README's student section, in the same words).
"""

from __future__ import annotations

from nicegui import ui

from simulator.services.assignments import AttemptView

RELEASE_WORDS = {
    "after-submission": "right after you submit",
    "after-due-date": "after the due date (before then you see your score and what was wrong, not the expected codes)",
    "never": "never (you see your score and what was wrong, not the expected codes)",
}

WHAT_GOES_WHERE = (
    ("Demographics", "From the face sheet: name, MRN, date of birth, sex, address, phone, primary insurance and "
                     "member ID. Empty both insurance fields if the chart shows none."),
    ("Encounters", "One row per visit (the progress note's header): date, time in, class, type and the reason for "
                   "the visit (chief complaint)."),
    ("Problem list", "The face sheet's problem list: each ongoing problem once, category *Problem list item*, with "
                     "onset and status, no visit. Pick the problem from the list where it is there: it carries its "
                     "ICD-10-CM code."),
    ("Visit diagnoses", "Also under *Problem list*: a diagnosis a progress note's assessment makes that is **not** "
                        "already on the problem list (e.g. an acute bronchitis) gets a row with category *Visit "
                        "diagnosis* and its visit; its onset is the visit date. A problem already on the list is not "
                        "entered again."),
    ("Medications", "The medication list: drug, strength, dose and unit, route, frequency, PRN reason, start date, "
                    "status."),
    ("Allergies", "Each substance with its reaction and severity; *NKDA* when the chart says no known drug "
                  "allergies."),
    ("Vital signs", "Per visit, the vital signs table. Pick the unit the chart uses (lb or kg, °F or °C)."),
    ("Lab results", "Per visit, the lab report: test, result, unit. Picking the test fills its unit and reference "
                    "range; change the unit only if the report prints another. A new row keeps the visit of the "
                    "row above."),
    ("Procedures", "Procedures the progress note or the superbill lists, with the date and the visit."),
    ("Notes", "Each visit's progress note, as written."),
)

CLAIM = ("The claim (Coding tab)", "Codes go on the claim only, never in the problem list. Send a finished visit to "
         "coding (its entry becomes read-only), then enter the ICD-10-CM diagnoses in sequence, first-listed first, "
         "and the CPT/HCPCS service lines with units, modifiers and diagnosis pointers. A claim takes at most 12 "
         "diagnoses and a service line at most 4 pointers, as on the CMS-1500.")

SCORING = (
    "Each section has the points shown; each expected item (a medication, a lab result…) is worth an equal share "
    "of its section, split across its fields. A missing item costs its share, a wrong field its part, an extra "
    "item one share (never below zero for the section); a near miss (a name one letter off) gets partial credit.",
    "The order you enter things in does not matter. Names ignore case and spacing; dates, phone numbers and "
    "addresses are compared in any format; quantities are compared across units (lb and kg, °F and °C).",
    "Coding is scored as coding audits do: the first-listed diagnosis on its own; the other codes and the service "
    "lines as correct codes ÷ the larger of codes entered and codes expected, so an extra code costs what a "
    "missing one does; codes the chart makes optional (e.g. a long-term drug use Z-code) neither earn nor cost; "
    "the right category at the wrong specificity or a wrong 7th character gets a small credit.",
)


def instructions_dialog(view: AttemptView, task: str) -> ui.dialog:
    """The instructions for this attempt, in a dialog the workspace opens on a fresh attempt and on request."""
    with ui.dialog() as dialog, ui.card().classes("w-[860px] max-w-full").mark("instructions"):
        with ui.row().classes("w-full items-center justify-between no-wrap"):
            ui.label("How this assignment works").classes("text-h6")
            ui.button(icon="close", on_click=dialog.close).props("flat round dense").tooltip("Close")
        with ui.scroll_area().classes("w-full").style("height: min(70vh, 640px)"):
            if task == "verify":
                ui.markdown("**Your task: verify.** Someone else entered this record from the paper chart, with "
                            "errors. Compare every section with the chart; correct what is wrong, add what is "
                            "missing, delete what the chart does not support.")
            else:
                ui.markdown("**Your task: enter.** Read the paper chart on the left and enter it into the EHR on "
                            "the right, section by section.")
            if view.codes:
                ui.markdown("**Then code** each visit in the *Coding* tab.")
            ui.label("What goes where").classes("text-subtitle1 font-medium mt-2")
            rows = [*WHAT_GOES_WHERE, *((CLAIM,) if view.codes else ())]
            with ui.element("div").classes("w-full").style(
                    "display:grid; grid-template-columns: 10rem 1fr; gap: 4px 12px").mark("what-goes-where"):
                for where, what in rows:
                    ui.label(where).classes("font-medium")
                    ui.markdown(what).classes("text-sm")
            ui.label("What is graded").classes("text-subtitle1 font-medium mt-3")
            if view.graded_sections:
                with ui.row().classes("gap-x-6 gap-y-1").mark("graded-sections"):
                    for title, points in view.graded_sections:
                        ui.label(f"{title}: {points:g} points")
                ui.label("Only what this chart contains is graded; the points add up to 100. Sections not listed "
                         "(and the FHIR view) are not graded.").classes("text-sm hitsim-muted")
            ui.label("How the score is made").classes("text-subtitle1 font-medium mt-3")
            for paragraph in SCORING if view.codes else SCORING[:2]:
                ui.label(paragraph).classes("text-sm")
            ui.label("Saving and submitting").classes("text-subtitle1 font-medium mt-3")
            ui.markdown(
                "Every change is saved as you type. The indicator says *All changes saved* only when the server "
                "stored everything; a field with a red message is **not** saved (its last good value is kept). "
                f"You have {view.attempts_allowed} attempt{'s' if view.attempts_allowed != 1 else ''}; this is "
                f"attempt {view.number}. *Submit for grading* ends the attempt. The expected codes are shown "
                f"{RELEASE_WORDS.get(view.release_policy, RELEASE_WORDS['after-due-date'])}.").classes("text-sm")
        with ui.row().classes("w-full justify-end"):
            ui.button("Got it", on_click=dialog.close).mark("close-instructions")
    return dialog

"""The note writer: a visit's clinical facts -> the progress note a clinician would write.

Several phrasings per fact, the scenario's share of abbreviations, the specifics a coder needs
(stage, type, laterality, cause, place, encounter) in clinicians' words, never the code title.
Every test mentioned has its result; plans name only drugs the patient takes or starts.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from typing import TYPE_CHECKING

from simulator.clinical import FREQUENCIES, ROUTES, Catalog
from simulator.coding import rules_injury
from simulator.generate.scenario import Scenario

if TYPE_CHECKING:
    from simulator.generate.clinical_course import ActiveCondition, Course, LabResult, MedOrder, Visit

EM_CODES = {"99202": ("new", 2), "99203": ("new", 3), "99204": ("new", 4), "99205": ("new", 5),
            "99212": ("established", 2), "99213": ("established", 3), "99214": ("established", 4),
            "99215": ("established", 5), "99282": ("ED", 2), "99283": ("ED", 3), "99284": ("ED", 4),
            "99285": ("ED", 5)}
STABLE = ("stable", "well controlled", "at goal", "controlled, no changes needed", "doing well")
STEADY = ("stable", "unchanged", "steady", "no new symptoms", "about the same")
NOT_AT_GOAL = ("not at goal", "above goal", "suboptimally controlled", "not controlled")
_INT = re.compile(r"<int:(\d+)-(\d+)>")


def phrase(rng: random.Random, text: str, abbreviations: float, side: str = "", sentence: bool = True) -> str:
    """Expand ``{abbr|plain}`` markup, choosing abbreviations with the scenario's probability."""
    out, i = [], 0
    while True:
        j = text.find("{", i)
        if j < 0:
            out.append(text[i:])
            break
        k = text.index("}", j)
        abbr, plain = text[j + 1:k].split("|", 1)
        out.append(text[i:j])
        out.append(abbr if rng.random() < abbreviations else plain)
        i = k + 1
    result = "".join(out).replace("<side>", side)
    result = _INT.sub(lambda m: str(rng.randint(int(m.group(1)), int(m.group(2)))), result)
    return result[:1].upper() + result[1:] if sentence else result


def us_date(day: dt.date) -> str:
    return f"{day.month}/{day.day}/{day.year}"


def sig_text(order: MedOrder, abbreviated: bool) -> str:
    """A prescription's directions, the way a clinician writes them (``1 tablet PO BID``)."""
    med, sig = order.medication, order.sig
    words = FREQUENCIES[sig.frequency][0]
    dose = int(sig.dose) if float(sig.dose).is_integer() else sig.dose
    route_abbr = ROUTES[med.route][0]
    if abbreviated:
        text = f"{dose} {sig.unit} {route_abbr} {sig.frequency}"
        if sig.prn:
            text += f" PRN {sig.prn}"
    else:
        text = f"{dose} {sig.unit} {med.route} {words}"
        if sig.prn:
            text += f" as needed for {sig.prn}"
    if sig.note:
        text += f" ({sig.note})"
    if med.days:
        text += f" x {med.days} days" if abbreviated else f" for {med.days} days"
    return text


def _med_words(order: MedOrder) -> str:
    med, sig = order.medication, order.sig
    return f"{med.name} {order.strength} {FREQUENCIES[sig.frequency][0]}"


class NoteWriter:
    def __init__(self, catalog: Catalog, scenario: Scenario, rng: random.Random):
        self.cat, self.sc, self.rng = catalog, scenario, rng

    def p(self, text: str, side: str = "", sentence: bool = True) -> str:
        return phrase(self.rng, text, self.sc.abbreviations, side, sentence)

    def pick(self, options: tuple[str, ...], side: str = "") -> str:
        return self.p(self.rng.choice(options), side)

    # ------------------------------------------------------------------ the whole note
    def write(self, course: Course, visit: Visit, previous: Visit | None) -> None:
        v, c = visit, course
        names = self._names(c, v)
        for d in v.diagnoses:
            if d.condition:
                d.text = names.get(d.condition, d.text)
        history = self._history(c, v)
        if previous is not None and self.rng.random() < self.sc.copy_forward:
            history = previous.note.split("\n\n")[0]
            v.copied_forward = True
        paragraphs = [history, self._objective(c, v), self._assessment_and_plan(c, v, names)]
        v.note = "\n\n".join(paragraphs)
        self._superbill_words(v)

    def _names(self, course: Course, visit: Visit) -> dict[str, str]:
        """The assessment wording of each documented condition: the problem list's words for chronic
        conditions, a fresh phrasing for today's acute problem or checkup."""
        out = {ac.condition.key: ac.name for ac in course.chronic}
        for ac in visit.focus:
            if ac.condition.kind != "chronic":
                out[ac.condition.key] = self.pick(ac.condition.names, ac.side)
        return out

    # ------------------------------------------------------------------ S
    def _history(self, course: Course, visit: Visit) -> str:
        c, v, cat = course, visit, self.cat
        rng = self.rng
        v.complaint = self._complaint(v)
        lines = [f"CC: {v.complaint}"]
        s = [self._intro(c, v)]
        if _age(c, v) == 0:
            s.append(_infant_age(c, v))
        if c.lmp:
            s.append(self._gestation(c, v))
        for ac in v.focus:
            text = self.pick(ac.condition.subjective, ac.side)
            text = text.replace("<event>", v.event[:1].upper() + v.event[1:] if v.event else "Injured")
            s.append(text)
        if v.kind == "preventive":
            s.append(self._preventive_history(c, v))
        lines.append("S: " + " ".join(x for x in s if x))
        age = _age(c, v)
        if age < 12:
            lines.append(f"History from {rng.choice(('mother', 'father', 'parent'))}.")
        others = [ac.name for ac in c.chronic if ac not in v.focus]
        if others:
            lines.append("PMH: " + "; ".join(others) + ".")
        meds = [m for m in c.meds if m.start < v.start.date() and (m.end is None or m.end >= v.start.date())
                and m.medication.days == 0]
        if meds:
            lines.append("Current meds: " + "; ".join(_med_words(m) for m in meds) + ".")
        allergies = ", ".join(f"{cat.allergies[k].substance} ({r})" for k, r in c.allergies) or "NKDA"
        lines.append(f"Allergies: {allergies}")
        if age >= 16:
            lines.append("Social: " + self._tobacco(c))
        return "\n".join(lines)

    def _complaint(self, visit: Visit) -> str:
        ac = visit.focus[0]
        return self.p(self.rng.choice(ac.condition.complaint), ac.side, sentence=False)

    def _intro(self, course: Course, visit: Visit) -> str:
        v, c = visit, course
        if v.setting == "emergency":
            when = v.start.strftime("%H:%M")
            return self.rng.choice((f"Arrived by private vehicle at {when}.", f"Walked in, triaged at {when}.",
                                    f"Brought in by family, arrival {when}."))
        last = v.last_seen
        if v.number > 1:
            return self.rng.choice((f"Seen here last on {us_date(last)}.", f"Last office visit {us_date(last)}.",
                                    f"Returns; previous visit {us_date(last)}."))
        if last is None and c.history_source == "transfer":
            return "New patient establishing care, transferring from another practice; outside records reviewed."
        if last is None:
            return self.rng.choice(("New patient to the practice.", "First visit with us, no prior records here."))
        if (v.start.date() - last).days > 3 * 365:
            return f"Returning after a long absence; last seen in this practice {us_date(last)}."
        return self.rng.choice((f"Established patient, last seen {us_date(last)}.",
                                f"Known to the practice; last visit {us_date(last)}."))

    def _gestation(self, course: Course, visit: Visit) -> str:
        """Weeks and days of gestation by the last menstrual period, as an obstetric note dates a pregnancy."""
        lmp = course.lmp
        assert lmp is not None
        weeks, days = divmod((visit.start.date() - lmp).days, 7)
        last, edd = us_date(lmp), us_date(lmp + dt.timedelta(days=280))
        return self.p(self.rng.choice((
            f"{{GA|Gestational age}} {weeks}w{days}d by {{LMP|last menstrual period}} {last}, {{EDD|due date}} {edd}.",
            f"{weeks} weeks {days} days pregnant by dates ({{LMP|last menstrual period}} {last}, {{EDD|due date}} {edd}).",
            f"{{IUP|Intrauterine pregnancy}} at {weeks}w{days}d by {{LMP|last menstrual period}} {last}.")))

    def _preventive_history(self, course: Course, visit: Visit) -> str:
        v = visit
        if not course.medicare:
            return ""
        if v.awv_elements:
            prior = (f"Last annual wellness visit {us_date(v.prior_awv)}." if v.prior_awv
                     else "First Medicare annual wellness visit.")
            return (prior + " Health risk assessment completed; Mini-Cog normal; no falls in the past year, "
                    "independent in ADLs; advance directive discussed; written 5-10 year screening schedule given.")
        return "Requests a head-to-toe physical; Medicare wellness questionnaire not done today."

    def _tobacco(self, course: Course) -> str:
        c = course
        if c.tobacco == "current":
            return self.rng.choice(("Current smoker, about 1 {ppd|pack per day}.", "Smokes cigarettes daily."))\
                .replace("{ppd|pack per day}", "ppd" if self.rng.random() < self.sc.abbreviations else "pack per day")
        if c.tobacco == "former":
            return self.rng.choice((f"Former smoker, quit {c.quit_year}.", f"Ex-smoker (quit in {c.quit_year}).",
                                    f"Former smoker; stopped {c.quit_year}."))
        return self.rng.choice(("Never smoker.", "No tobacco use ever.", "Denies ever smoking."))

    # ------------------------------------------------------------------ O
    def _objective(self, course: Course, visit: Visit) -> str:
        v, cat = visit, self.cat
        vs = v.vitals
        unit = {"[degF]": "F", "Cel": "C", "[lb_av]": "lb", "kg": "kg", "[in_i]": "in", "cm": "cm"}
        vitals = (f"BP {vs.systolic}/{vs.diastolic}, HR {vs.heart_rate}, RR {vs.resp_rate}, T {vs.temp} "
                  f"{unit[vs.temp_unit]}, SpO2 {vs.spo2}% on RA, Wt {vs.weight} {unit[vs.weight_unit]}, "
                  f"Ht {vs.height:g} {unit[vs.height_unit]}")
        if vs.bmi is not None:
            vitals += f", BMI {vs.bmi}"
        lines = [f"O: {vitals}."]
        exam = [self._fill(v, self.pick(ac.condition.exam, ac.side)) for ac in v.focus]
        lines.append(" ".join(exam))
        if v.labs:
            lines.append("Results: " + "; ".join(lab_phrase(r, cat) for r in v.labs) + ".")
        tests = [cat.procedures[k] for k in v.procedures if cat.procedures[k].test]
        if tests:
            lines.append("Ordered: " + "; ".join(t.name for t in tests) + ".")
        for key in v.procedures:
            if cat.procedures[key].test:
                lines.append(self._procedure_text(visit, key))
        return "\n".join(lines)

    def _fill(self, visit: Visit, text: str) -> str:
        """Measured facts into a phrase: wound lengths (<size>, <size:procedure>), an excised lesion's diameter and
        margins (<lesion>, <margin>; excised diameter = lesion + 2 margins), burn extent (<tbsa>, <third>)."""
        for key, length in visit.wound_lengths.items():
            text = text.replace(f"<size:{key}>", f"{length:g}")
        margin = max((self.cat.procedures[k].margin for k in visit.procedures if self.cat.procedures[k].size[1]),
                     default=0.0)
        lesion = round(visit.wound_cm - 2 * margin, 1)
        return (text.replace("<size>", f"{visit.wound_cm:g}").replace("<lesion>", f"{lesion:g}")
                .replace("<margin>", f"{margin:g}").replace("<tbsa>", f"{visit.tbsa:g}")
                .replace("<third>", f"{visit.third_degree:g}"))

    def _procedure_text(self, visit: Visit, key: str) -> str:
        proc = self.cat.procedures[key]
        reason = next((ac for ac in visit.focus if key in ac.condition.procedures), visit.focus[0])
        findings = {"rhythm": "normal sinus rhythm", "cxr": "no acute process"}
        for ac in visit.focus:
            findings.update(ac.condition.findings)
        text = self.pick(proc.result, reason.side) if proc.result else f"{proc.name} done."
        text = self._fill(visit, text.replace("<size>", f"{visit.wound_lengths.get(key, visit.wound_cm):g}"))
        text = text.replace("<minutes>", str(visit.infusion_minutes.get(key, 0)))
        for name, value in findings.items():
            text = text.replace(f"<{name}>", value)
        return text

    # ------------------------------------------------------------------ A/P
    def _assessment_and_plan(self, course: Course, visit: Visit, names: dict[str, str]) -> str:
        v, cat = visit, self.cat
        documented = [d for d in v.diagnoses if d.condition]
        keys = list(dict.fromkeys(d.condition for d in documented))
        lines = ["A:"]
        plans = []
        conditions = {ac.condition.key: ac for ac in list(v.focus) + list(course.chronic)}
        for n, key in enumerate(keys, start=1):
            ac = conditions[key]
            lines.append(f"{n}. {names[key]} — {self._status(course, visit, ac)}")
            plans.append(f"{n}. {self._plan(course, visit, ac)}")
        lines.append("P:")
        lines += plans
        if v.meds_started:
            lines.append("Rx: " + "; ".join(
                f"{o.medication.name} {o.strength} {sig_text(o, True)}" + (f" ({o.dosing})" if o.dosing else "")
                for o in v.meds_started))
        if v.meds_stopped:
            lines.append("Stopped: " + "; ".join(f"{o.medication.name} {o.strength} (dose changed)"
                                                 for o in v.meds_stopped))
        done = [f"{cat.procedures[k].name}: {self._procedure_text(visit, k)}" for k in v.procedures
                if not cat.procedures[k].test]
        if done:
            lines.append("Procedures: " + " ".join(done))
        if v.total_minutes:
            lines.append(f"Total time on the date of the encounter: {v.total_minutes} minutes (" + self.rng.choice((
                "history, exam, counseling and documentation", "record review, counseling and care coordination",
                "face-to-face and non-face-to-face, including documentation"))
                         + ("; not counting the separately billed procedure" if any(
                             not self.cat.procedures[k].test for k in v.procedures) else "") + ").")
        follow = v.follow_up
        if v.critical_minutes:
            lines.append(f"Critical care time {v.critical_minutes} minutes, exclusive of separately billable "
                         "procedures.")
            lines.append(f"Disposition: admitted to the ICU {v.end.strftime('%H:%M')}.")
        elif v.setting == "emergency" and v.focus[0].condition.disposition:
            lines.append(f"Disposition: {v.focus[0].condition.disposition} {v.end.strftime('%H:%M')}.")
        elif v.setting == "emergency":
            lines.append(f"Disposition: discharged home {v.end.strftime('%H:%M')}, " +
                         self.rng.choice(("PCP follow-up in 2-3 days.", "follow up with primary care this week.",
                                          "return precautions given.")))
        elif follow:
            lines.append(f"Follow-up: {us_date(dt.date.fromisoformat(follow))}.")
        else:
            lines.append(self.rng.choice(("Follow-up: as needed.", "Return as needed.", "RTC PRN.")))
        return "\n".join(lines)

    def _evidence(self, visit: Visit, ac: ActiveCondition) -> str:
        v, c = visit, ac.condition
        keys = set(c.uncontrolled) | set(c.labs)
        bits = []
        if {"systolic", "diastolic"} & keys:
            bits.append(f"BP {v.vitals.systolic}/{v.vitals.diastolic}")
        for r in v.labs:
            if r.lab in keys and r.lab not in ("glucose", "creatinine"):
                bits.append(lab_phrase(r, self.cat))
        return ", ".join(bits[:2])

    def _status(self, course: Course, visit: Visit, ac: ActiveCondition) -> str:
        v, c = visit, ac.condition
        if c.kind == "preventive" and c.findings.get("abnormal"):
            return f"abnormal finding: {c.findings['abnormal']}"
        if c.kind == "preventive":
            abnormal = [a for a in course.chronic if not v.at_goal.get(a.condition.key, True)]
            if abnormal:
                return f"abnormal finding: {abnormal[0].name} not at goal today ({self._evidence(v, abnormal[0])})"
            return self.rng.choice(("normal exam, no abnormal findings", "exam unremarkable", "healthy, normal exam"))
        if c.kind == "acute" and ac.variant_codes[0].startswith("Z"):  # a Z-code encounter: screening, shots, aftercare
            return self.rng.choice(("reason for today's visit", "done today", "as planned"))
        if c.kind == "acute":
            text = self.rng.choice(("new problem", "acute", "today's main problem", "new today"))
            if c.encounter == "subsequent":
                return self.rng.choice(("follow-up of this injury, healing as expected", "routine healing, recheck",
                                        "healing well on follow-up"))
            if c.encounter == "sequela":
                return self.rng.choice(("late effect of the old injury", "residual of the healed injury"))
            if any(code.startswith("S") or rules_injury.burn_degree(code) for code in ac.variant_codes):
                text = self.rng.choice(("initial visit for this injury", "new injury, first evaluation",
                                        "first visit for this injury"))
            return text
        evidence = self._evidence(v, ac)
        if v.at_goal.get(c.key, True):
            status = self.rng.choice(STABLE if c.uncontrolled else STEADY)
        else:
            status = self.rng.choice(c.not_at_goal or NOT_AT_GOAL)
        return f"{status} ({evidence})" if evidence else status

    def _plan(self, course: Course, visit: Visit, ac: ActiveCondition) -> str:
        v, c = visit, ac.condition
        parts = []
        if c.kind == "chronic" and v.kind != "preventive":
            meds = [m for m in course.meds if m.condition == c.key and m.medication.days == 0
                    and m.start <= v.start.date() and not (m.stopped and m.end and m.end <= v.start.date())
                    and m not in v.meds_started]
            change = v.changes.get(c.key)
            if change:
                parts.append(change[:1].upper() + change[1:] + ".")
                rest = [m for m in meds if m.medication.name not in change]
                if rest:
                    parts.append("Continue " + ", ".join(_med_words(m) for m in rest) + ".")
            elif meds:
                verb = self.rng.choice(("Continue", "Cont", "Stay on")) if v.at_goal.get(c.key, True) \
                    else "Adherence reviewed; continue"
                parts.append(f"{verb} " + ", ".join(_med_words(m) for m in meds) + ".")
        elif c.kind == "chronic" and not v.at_goal.get(c.key, True):
            parts.append("Above goal today; recheck and manage at the follow-up visit.")
        elif c.kind == "chronic":
            parts.append("Managed at separate visits; no changes today.")
        started = [m for m in v.meds_started if m.condition == c.key and c.kind != "chronic"]
        if started:
            parts.append("Start " + ", ".join(m.medication.name for m in started) + " (see Rx).")
        parts.append(self.pick(c.plan, ac.side))
        return " ".join(parts)

    # ------------------------------------------------------------------ superbill
    def _superbill_words(self, visit: Visit) -> None:
        """The encounter form's E/M box: the visit type only, or the provider's own level choice
        (a scenario setting; the provider is sometimes a level off, for the coder to catch)."""
        for line in visit.services:
            if line.code not in EM_CODES:
                continue
            kind, level = EM_CODES[line.code]
            where = "ED visit" if kind == "ED" else "Office visit"
            if self.sc.superbill_em == "shown":
                chosen = min(5, max(2, level + self.rng.choice((-1, 0, 0, 0, 1))))
                line.text = f"{where}, level {chosen} (provider's choice)"
            else:
                line.text = where


def _infant_age(course: Course, visit: Visit) -> str:
    """An infant's age as a pediatric note gives it: in days for the first four weeks, then in weeks."""
    days = (visit.start.date() - course.birth_date).days
    return f"{days}-day-old infant." if days <= 28 else f"{days // 7}-week-old infant ({days} days)."


def _age(course: Course, visit: Visit) -> int:
    birth, day = course.birth_date, visit.start.date()
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def qualitative_text(lab_key: str, value: float) -> str:
    if value <= 0:
        return "Negative"
    return f"{int(value)}+" if lab_key == "urine-leukocytes" else "Positive"


def lab_phrase(result: LabResult, catalog: Catalog) -> str:
    lab = catalog.labs[result.lab]
    if lab.qualitative:
        return f"{lab.abbrev} {qualitative_text(result.lab, result.value)}"
    value = int(result.value) if lab.decimals == 0 else result.value
    return f"{lab.abbrev} {value}"

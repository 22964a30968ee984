"""A patient's clinical course: which conditions, visits, vitals, labs, meds and services.

Pure Python data, no FHIR yet: ``key.py`` turns a course into the answer-key Bundle. Keeping the
clinical reasoning here makes it readable by a clinician and testable on its own.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from simulator.clinical import Catalog, Condition, Medication, Sig, bmi_code
from simulator.generate.scenario import Scenario

MDM_ORDER = {"straightforward": 0, "low": 1, "moderate": 2, "high": 3}
NEW_PATIENT_EM = ("99202", "99203", "99204", "99205")
ESTABLISHED_EM = ("99212", "99213", "99214", "99215")
ED_EM = {2: "99282", 3: "99283", 4: "99284", 5: "99285"}


@dataclass
class Diagnosis:
    code: str
    title: str  # official ICD-10-CM title
    text: str  # the clinician's words
    condition: str  # catalog key ("" for a Z-code added by a rule)
    optional: bool = False


@dataclass
class ActiveCondition:
    """A catalog condition as this patient has it (variant chosen, combination rules applied)."""

    condition: Condition
    name: str
    codes: tuple[str, ...]
    side: str
    onset: dt.date


@dataclass
class MedOrder:
    medication: Medication
    strength: str
    sig: Sig
    start: dt.date
    end: dt.date | None  # None for an ongoing medication
    condition: str
    optional_long_term: bool


@dataclass
class LabResult:
    lab: str
    value: float
    panel: str


@dataclass
class ServiceLine:
    code: str
    units: int = 1
    modifiers: tuple[str, ...] = ()
    diagnosis_codes: tuple[str, ...] = ()


@dataclass
class Vitals:
    systolic: int
    diastolic: int
    heart_rate: int
    resp_rate: int
    temp: float
    temp_unit: str  # "[degF]" | "Cel"
    spo2: int
    weight: float
    weight_unit: str  # "[lb_av]" | "kg"
    height: float
    height_unit: str  # "[in_i]" | "cm"
    bmi: float | None  # adults only


@dataclass
class Visit:
    number: int
    start: dt.datetime
    end: dt.datetime
    setting: str  # office | emergency
    kind: str  # new | follow-up | acute | preventive | emergency
    focus: list[ActiveCondition]
    diagnoses: list[Diagnosis] = field(default_factory=list)
    vitals: Vitals | None = None
    labs: list[LabResult] = field(default_factory=list)
    procedures: list[str] = field(default_factory=list)
    meds_started: list[MedOrder] = field(default_factory=list)
    services: list[ServiceLine] = field(default_factory=list)
    complaint: str = ""
    subjective: list[str] = field(default_factory=list)
    exam: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)


@dataclass
class Course:
    sex: str
    birth_date: dt.date
    chronic: list[ActiveCondition]
    allergies: list[tuple[str, str]]  # (allergy key, reaction key)
    visits: list[Visit]
    meds: list[MedOrder]


def _age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _pick_range(rng: random.Random, low: float, high: float, decimals: int) -> float:
    return round(rng.uniform(low, high), decimals)


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
    return result[:1].upper() + result[1:] if sentence else result


class CourseBuilder:
    def __init__(self, catalog: Catalog, scenario: Scenario, rng: random.Random):
        self.cat, self.sc, self.rng = catalog, scenario, rng

    # -------------------------------------------------------------- who the patient is
    def _choose_sex_and_age(self) -> tuple[str, int]:
        sc, rng = self.sc, self.rng
        sex = sc.sex if sc.sex != "any" else rng.choice(("female", "male"))
        return sex, rng.randint(*sc.ages)

    def _choose_chronic(self, age: int, sex: str) -> list[Condition]:
        rng, cat = self.rng, self.cat
        candidates = [cat.conditions[k] for k in self.sc.chronic if cat.conditions[k].fits(age, sex)]
        rng.shuffle(candidates)
        want = rng.randint(*self.sc.chronic_per_patient)
        chosen: list[Condition] = []
        for c in candidates:
            if len(chosen) >= want:
                break
            if any(c.key in o.excludes or o.key in c.excludes for o in chosen):
                continue
            chosen.append(c)
        return chosen

    def _activate(self, c: Condition, first_visit: dt.date, onset_years: tuple[int, int]) -> ActiveCondition:
        variant = self.rng.choice(c.variants)
        onset = first_visit - dt.timedelta(days=self.rng.randint(onset_years[0] * 365, onset_years[1] * 365))
        return ActiveCondition(c, variant.name, variant.codes, variant.side, onset)

    def _apply_combinations(self, active: list[ActiveCondition]) -> None:
        tags = {t for a in active for t in a.condition.tags}
        for a in active:
            for comb in a.condition.combine:
                if comb.with_tag in tags:
                    a.name, a.codes = comb.name, comb.codes
                    break

    def _choose_allergies(self) -> list[tuple[str, str]]:
        rng = self.rng
        if rng.random() >= self.sc.allergy_rate:
            return []
        keys = sorted(self.cat.allergies)
        chosen = rng.sample(keys, 2 if rng.random() < 0.2 else 1)
        return [(k, rng.choice(self.cat.allergies[k].reactions)) for k in chosen]

    # -------------------------------------------------------------- when visits happen
    def _visit_dates(self, count: int, setting: str) -> list[dt.datetime]:
        rng, sc = self.rng, self.sc
        day = sc.start + dt.timedelta(days=rng.randint(0, 60))
        out = []
        for i in range(count):
            if i:
                months = rng.randint(*sc.months_between_visits)
                day = day + dt.timedelta(days=max(7, months * 30 + rng.randint(-6, 6)))
            if setting == "office":
                while day.weekday() >= 5:
                    day += dt.timedelta(days=1)
                minute = rng.randrange(8 * 60, 16 * 60 + 31, 15)
            else:
                minute = rng.randrange(0, 24 * 60, 1)
            out.append(dt.datetime.combine(day, dt.time(minute // 60, minute % 60)))
        return out

    # -------------------------------------------------------------- the course
    def build(self) -> Course:
        rng, sc, cat = self.rng, self.sc, self.cat
        sex, age = self._choose_sex_and_age()
        n_visits = rng.randint(*sc.visits)
        starts = self._visit_dates(n_visits, sc.setting)
        birth = starts[0].date() - dt.timedelta(days=age * 365 + rng.randint(5, 360))
        age = _age_on(birth, starts[0].date())
        chronic = [self._activate(c, starts[0].date(), (1, 12)) for c in self._choose_chronic(age, sex)]
        self._apply_combinations(chronic)
        allergies = self._choose_allergies()
        avoid = {cls for key, _ in allergies for cls in cat.allergies[key].avoid}
        course = Course(sex=sex, birth_date=birth, chronic=chronic, allergies=allergies, visits=[], meds=[])
        for chronic_condition in chronic:
            self._prescribe(course, chronic_condition, starts[0].date(), avoid, existing=True)
        base = self._baseline(sex, age)
        for i, start in enumerate(starts):
            visit = self._plan_visit(course, i, start, _age_on(birth, start.date()))
            self._vitals(course, visit, base, i)
            self._orders(course, visit, avoid, i, n_visits)
            self._code_visit(course, visit, _age_on(birth, start.date()))
            course.visits.append(visit)
        return course

    def _plan_visit(self, course: Course, i: int, start: dt.datetime, age: int) -> Visit:
        rng, sc, cat = self.rng, self.sc, self.cat
        acute_options = [cat.conditions[k] for k in sc.acute
                         if cat.conditions[k].fits(age, course.sex) and sc.setting in cat.conditions[k].settings]
        preventive = [cat.conditions[k] for k in sc.preventive if cat.conditions[k].fits(age, course.sex)]
        if sc.setting == "emergency":
            cond = self._activate(rng.choice(acute_options), start.date(), (0, 0))
            length = dt.timedelta(minutes=rng.randrange(90, 300, 5))
            return Visit(i + 1, start, start + length, "emergency", "emergency", [cond])
        length = dt.timedelta(minutes=rng.choice((20, 30, 40)))
        if i == 0 and preventive:
            cond = self._activate(rng.choice(preventive), start.date(), (0, 0))
            return Visit(1, start, start + length, "office", "preventive", [cond])
        wants_acute = acute_options and (not course.chronic or (i > 0 and rng.random() < sc.acute_visit_share))
        if wants_acute:
            cond = self._activate(rng.choice(acute_options), start.date(), (0, 0))
            return Visit(i + 1, start, start + length, "office", "new" if i == 0 else "acute", [cond])
        if not course.chronic:
            cond = self._activate(rng.choice(preventive or acute_options), start.date(), (0, 0))
            return Visit(i + 1, start, start + length, "office", "preventive" if preventive else "acute", [cond])
        focus = list(course.chronic)
        rng.shuffle(focus)
        return Visit(i + 1, start, start + length, "office", "new" if i == 0 else "follow-up", focus)

    # -------------------------------------------------------------- vitals
    def _baseline(self, sex: str, age: int) -> dict[str, float]:
        rng = self.rng
        if age >= 18:
            height_cm = rng.gauss(177, 7) if sex == "male" else rng.gauss(163, 6.5)
            bmi = rng.uniform(20.5, 29.4)
        else:
            height_cm = 76 + 6.2 * age + rng.uniform(-4, 4) if age < 13 else rng.gauss(165 if sex == "male" else 158, 6)
            bmi = rng.uniform(15.2, 20.5)
        return {"height_cm": height_cm, "bmi": bmi}

    def _vitals(self, course: Course, visit: Visit, base: dict[str, float], i: int) -> None:
        rng, sc = self.rng, self.sc
        metric = sc.units == "metric" or (sc.units == "mixed" and rng.random() < 0.5)
        ranges: dict[str, tuple[float, float]] = {}
        for ac in visit.focus:
            ranges.update(ac.condition.vitals)
        # Chronic conditions (e.g. hypertension) show in every visit's vitals.
        for ac in course.chronic:
            for k, v in ac.condition.vitals.items():
                ranges.setdefault(k, v)
        child = base["bmi"] < 21 and base["height_cm"] < 150
        sbp = ranges.get("systolic", (102, 128) if child else (112, 134))
        dbp = ranges.get("diastolic", (60, 78) if child else (68, 84))
        hr = ranges.get("heart_rate", (80, 110) if child else (62, 88))
        rr = ranges.get("resp_rate", (18, 24) if child else (14, 18))
        temp_f = ranges.get("temp_f", (97.6, 98.9))
        spo2 = ranges.get("spo2", (96, 99))
        bmi = ranges["bmi"] if "bmi" in ranges else None
        if bmi is not None and "_bmi" not in base:
            base["_bmi"] = rng.uniform(*bmi)
        target_bmi = base.get("_bmi", base["bmi"]) + rng.uniform(-0.4, 0.4) * (i > 0)
        h_m = base["height_cm"] / 100
        weight_kg = target_bmi * h_m * h_m
        t_f = rng.uniform(*temp_f)
        if metric:
            weight, weight_unit = round(weight_kg, 1), "kg"
            height, height_unit = round(base["height_cm"]), "cm"
            temp, temp_unit = round((t_f - 32) * 5 / 9, 1), "Cel"
            kg, m = weight, height / 100
        else:
            weight, weight_unit = round(weight_kg / 0.45359237, 1), "[lb_av]"
            height, height_unit = round(base["height_cm"] / 2.54), "[in_i]"
            temp, temp_unit = round(t_f, 1), "[degF]"
            kg, m = weight * 0.45359237, height * 0.0254
        adult = not child and base["height_cm"] >= 150
        visit.vitals = Vitals(
            systolic=rng.randint(*map(int, sbp)), diastolic=rng.randint(*map(int, dbp)),
            heart_rate=rng.randint(*map(int, hr)), resp_rate=rng.randint(*map(int, rr)),
            temp=temp, temp_unit=temp_unit, spo2=rng.randint(*map(int, spo2)),
            weight=weight, weight_unit=weight_unit, height=height, height_unit=height_unit,
            bmi=round(kg / (m * m), 1) if adult else None,
        )

    # -------------------------------------------------------------- orders: labs, procedures, meds
    def _orders(self, course: Course, visit: Visit, avoid: set[str], i: int, n: int) -> None:
        rng, cat, sc = self.rng, self.cat, self.sc
        panels: list[str] = []
        overrides: dict[str, tuple[float, float]] = {}
        for ac in course.chronic:
            overrides.update(ac.condition.labs)
        for ac in visit.focus:
            c = ac.condition
            overrides.update(c.labs)
            # Chronic conditions get their labs and procedures at the first and the last visit.
            if c.kind != "chronic" or i in (0, n - 1):
                panels += [p for p in c.panels if p not in panels]
                visit.procedures += [p for p in c.procedures if p not in visit.procedures]
            if c.kind != "chronic":
                self._prescribe(course, ac, visit.start.date(), avoid, existing=False, visit=visit)
            visit.complaint = visit.complaint or phrase(rng, rng.choice(c.complaint), sc.abbreviations, ac.side,
                                                        sentence=False)
            visit.subjective.append(phrase(rng, rng.choice(c.subjective), sc.abbreviations, ac.side))
            visit.exam.append(phrase(rng, rng.choice(c.exam), sc.abbreviations, ac.side))
            visit.plan.append(phrase(rng, rng.choice(c.plan), sc.abbreviations, ac.side))
        age = _age_on(course.birth_date, visit.start.date())
        for key in panels:
            for lab_key in cat.panels[key].labs:
                if any(r.lab == lab_key for r in visit.labs):
                    continue
                visit.labs.append(LabResult(lab_key, self._lab_value(lab_key, overrides, course.sex, age), key))
        self._kidney_labs(visit, overrides, course.sex, age)

    def _lab_value(self, key: str, overrides: dict[str, tuple[float, float]], sex: str, age: int) -> float:
        lab = self.cat.labs[key]
        low, high = overrides.get(key, lab.normal)
        if key not in overrides and not lab.qualitative:
            span = high - low
            low, high = low + span * 0.1, high - span * 0.1
        return _pick_range(self.rng, low, high, lab.decimals)

    def _kidney_labs(self, visit: Visit, overrides: dict[str, tuple[float, float]], sex: str, age: int) -> None:
        """Creatinine and eGFR agree: eGFR is computed from creatinine with CKD-EPI 2021."""
        results = {r.lab: r for r in visit.labs}
        if "egfr" not in results or "creatinine" not in results:
            return
        low, high = overrides.get("egfr", (65.0, max(70.0, 125 - 0.7 * age)))
        target = self.rng.uniform(low, high)
        scr = round(creatinine_for_egfr(target, sex, age), 2)
        results["creatinine"].value = scr
        results["egfr"].value = float(round(ckd_epi_2021(scr, sex, age)))

    def _prescribe(self, course: Course, ac: ActiveCondition, day: dt.date, avoid: set[str], existing: bool,
                   visit: Visit | None = None) -> None:
        rng = self.rng
        active_classes = {cls for m in course.meds for cls in m.medication.classes}
        options = [self.cat.medications[k] for k in ac.condition.meds]
        allowed = [m for m in options if not (set(m.classes) & avoid) and not (set(m.classes) & active_classes)]
        for med in allowed[: ac.condition.med_count]:
            strength = rng.choice(med.strengths)
            sig = rng.choice(med.sigs)
            start = day - dt.timedelta(days=rng.randint(60, 900)) if existing else day
            end = None if med.days == 0 else day + dt.timedelta(days=med.days)
            order = MedOrder(med, strength, sig, start, end, ac.condition.key,
                             optional_long_term="diabetes" not in ac.condition.tags)
            course.meds.append(order)
            active_classes.update(med.classes)
            if visit is not None:
                visit.meds_started.append(order)

    # -------------------------------------------------------------- coding: the answer key
    def _code_visit(self, course: Course, visit: Visit, age: int) -> None:
        cat = self.cat
        dx: list[Diagnosis] = []

        def add(code: str, text: str, condition: str, optional: bool = False) -> None:
            if all(d.code != code for d in dx):
                dx.append(Diagnosis(code, cat.icd10cm_titles[code], text, condition, optional))

        for ac in visit.focus:
            for code in ac.codes:
                add(code, ac.name if code == ac.codes[0] else cat.icd10cm_titles[code], ac.condition.key)
        if visit.kind in ("emergency", "acute"):
            # Coexisting chronic conditions that affect care are coded after the reason for the visit.
            for ac in course.chronic:
                for code in ac.codes:
                    add(code, ac.name if code == ac.codes[0] else cat.icd10cm_titles[code], ac.condition.key)
        addressed = {d.condition for d in dx}
        for med in course.meds:
            if med.medication.long_term_code and med.condition in addressed and med.end is None:
                add(med.medication.long_term_code, f"Long-term use of {med.medication.name}", "",
                    med.optional_long_term)
        if visit.vitals and visit.vitals.bmi is not None and any(ac.condition.bmi_code for ac in course.chronic
                                                                  if ac.condition.key in addressed):
            z_code = bmi_code(visit.vitals.bmi)
            if z_code:
                add(z_code, f"BMI {visit.vitals.bmi}", "")
        visit.diagnoses = dx
        self._services(course, visit, age)

    def _services(self, course: Course, visit: Visit, age: int) -> None:
        cat = self.cat
        all_dx = tuple(d.code for d in visit.diagnoses)
        first = all_dx[:1]
        mdm = max(MDM_ORDER[ac.condition.mdm] for ac in visit.focus)
        chronic_addressed = sum(1 for ac in visit.focus if ac.condition.kind == "chronic")
        if chronic_addressed >= 2:
            mdm = max(mdm, MDM_ORDER["moderate"])
        lines: list[ServiceLine] = []
        if visit.kind == "emergency":
            lines.append(ServiceLine(ED_EM[max(ac.condition.ed_level for ac in visit.focus)], diagnosis_codes=all_dx[:4]))
        elif visit.kind == "preventive":
            lines.append(ServiceLine(preventive_service(age, new=visit.number == 1, medicare=age >= 65),
                                     diagnosis_codes=first))
        else:
            table = NEW_PATIENT_EM if visit.kind == "new" else ESTABLISHED_EM
            lines.append(ServiceLine(table[max(mdm, 1 if visit.kind == "new" else 0)], diagnosis_codes=all_dx[:4]))
        for key in visit.procedures:
            proc = cat.procedures[key]
            owner = next((d.code for d in visit.diagnoses
                          if key in cat.conditions.get(d.condition, _NO_CONDITION).procedures), first[0])
            lines.append(ServiceLine(proc.service, diagnosis_codes=(owner,)))
            if proc.drug:
                lines.append(ServiceLine(proc.drug, units=proc.units, diagnosis_codes=(owner,)))
        sent_out = False
        for panel_key in dict.fromkeys(r.panel for r in visit.labs):
            panel = cat.panels[panel_key]
            owner = next((d.code for d in visit.diagnoses
                          if panel_key in cat.conditions.get(d.condition, _NO_CONDITION).panels), first[0])
            if panel.in_office and panel.service:
                lines.append(ServiceLine(panel.service, diagnosis_codes=(owner,)))
            elif panel.specimen == "blood":
                sent_out = True
        if sent_out:
            lines.append(ServiceLine("36415", diagnosis_codes=first))
        # A procedure on the same day as an office visit: the visit carries modifier 25 when a
        # minor procedure (0- or 10-day global) is done. hitsim marks it for injections and repairs.
        if visit.kind != "preventive" and any(cat.services[ln.code].system == "CPT" and ln.code[:1] in "12"
                                              for ln in lines[1:]):
            lines[0] = ServiceLine(lines[0].code, lines[0].units, ("25",), lines[0].diagnosis_codes)
        visit.services = lines

_NO_CONDITION = Condition(key="", variants=(), kind="acute", ages=(0, 0))


def preventive_service(age: int, new: bool, medicare: bool) -> str:
    if medicare:
        return "G0438" if new else "G0439"
    bands = ((1, 4, "2"), (5, 11, "3"), (12, 17, "4"), (18, 39, "5"), (40, 64, "6"), (65, 200, "7"))
    digit = next(d for lo, hi, d in bands if lo <= age <= hi)
    return f"99{'38' if new else '39'}{digit}"


def ckd_epi_2021(creatinine: float, sex: str, age: int) -> float:
    """eGFR (mL/min/1.73 m2) by the 2021 race-free CKD-EPI creatinine equation."""
    kappa, alpha, factor = (0.7, -0.241, 1.012) if sex == "female" else (0.9, -0.302, 1.0)
    ratio = creatinine / kappa
    return 142 * min(ratio, 1) ** alpha * max(ratio, 1) ** -1.200 * 0.9938 ** age * factor


def creatinine_for_egfr(egfr: float, sex: str, age: int) -> float:
    """The serum creatinine that gives ``egfr`` by CKD-EPI 2021 (the equation solved for creatinine)."""
    kappa, alpha, factor = (0.7, -0.241, 1.012) if sex == "female" else (0.9, -0.302, 1.0)
    base = egfr / (142 * 0.9938 ** age * factor)
    high_branch = kappa * base ** (1 / -1.200)
    if high_branch >= kappa:
        return high_branch
    return kappa * base ** (1 / alpha)


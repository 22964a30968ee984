"""A patient's clinical course: which conditions, visits, vitals, labs, meds and services.

Facts first, then words, then codes: this module decides what happened at each visit (the clinical
facts), ``notes.py`` writes the clinician's note from them, and ``simulator.coding.rules`` turns the
documented facts into the claim. Pure Python data, no FHIR yet: ``key.py`` turns a course into the
answer-key Bundle.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from simulator.clinical import FREQUENCIES, Catalog, Condition, Medication, Sig
from simulator.coding import rules
from simulator.coding.rules import CodedVisit, Diagnosis, ServiceLine
from simulator.generate.scenario import Scenario

__all__ = ["ActiveCondition", "Course", "CourseBuilder", "Diagnosis", "LabResult", "MedOrder", "ServiceLine",
           "Visit", "Vitals", "ckd_epi_2021", "creatinine_for_egfr"]

WEIGHT_BASED_LIMIT_KG = 40.0


@dataclass
class ActiveCondition:
    """A catalog condition as this patient has it (variant, side, onset, the words on the problem list)."""

    condition: Condition
    name: str  # the clinician's words on the problem list (never the code title)
    variant_codes: tuple[str, ...]
    side: str
    onset: dt.date
    codes: tuple[str, ...] = ()  # the problem list's codes, combination rules applied

    def __post_init__(self) -> None:
        self.codes = self.codes or self.variant_codes


@dataclass
class MedOrder:
    medication: Medication
    strength: str
    sig: Sig
    start: dt.date
    end: dt.date | None  # None for an ongoing medication
    condition: str
    optional_long_term: bool = True
    stopped: bool = False  # replaced at a visit (dose change)
    dosing: str = ""  # weight-based: how the dose was worked out, for the note


@dataclass
class LabResult:
    lab: str
    value: float
    panel: str


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
    weight_kg: float = 0.0


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
    meds_stopped: list[MedOrder] = field(default_factory=list)
    services: list[ServiceLine] = field(default_factory=list)
    complaint: str = ""
    last_seen: dt.date | None = None
    at_goal: dict[str, bool] = field(default_factory=dict)  # chronic condition key -> at goal today
    changes: dict[str, str] = field(default_factory=dict)  # condition key -> the medication change made
    event: str = ""  # an injury: how it happened, as told
    event_codes: tuple[str, ...] = ()
    wound_cm: float = 0.0
    awv_elements: bool = False
    prior_awv: dt.date | None = None
    follow_up: str = ""
    coded: CodedVisit | None = None
    note: str = ""
    copied_forward: bool = False  # the messiness knob copied the previous visit's history paragraph
    total_minutes: int = 0  # the total time on the date the note documents (0: not documented)
    infusion_minutes: dict[str, int] = field(default_factory=dict)  # infusion procedure -> its running time
    wound_lengths: dict[str, float] = field(default_factory=dict)  # repair procedure -> wound length (cm)
    critical_minutes: int = 0  # ED: documented critical care time
    tbsa: float = 0.0  # burns: percent of body surface, and the third-degree part of it
    third_degree: float = 0.0
    event_index: int = 0  # which of the condition's injury events happened (a follow-up visit tells the same one)


@dataclass
class Course:
    sex: str
    birth_date: dt.date
    chronic: list[ActiveCondition]
    allergies: list[tuple[str, str]]  # (allergy key, reaction key)
    visits: list[Visit]
    meds: list[MedOrder]
    tobacco: str = "never"  # never | former | current
    quit_year: int = 0
    last_seen: dt.date | None = None  # before the first visit of the case
    history_source: str = ""  # "transfer" when records came from another practice
    medicare: bool = False
    base: dict[str, float] = field(default_factory=dict)
    lmp: dt.date | None = None  # pregnant: first day of the last menstrual period


def _age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _pick_range(rng: random.Random, low: float, high: float, decimals: int) -> float:
    return round(rng.uniform(low, high), decimals)


# Children's vital signs by age (PALS / pediatric references): (HR, RR, SBP, DBP) ranges.
CHILD_VITALS = ((0, (115, 160), (30, 50), (65, 85), (35, 50)),  # infants under one year
                (2, (98, 130), (24, 32), (88, 104), (45, 62)), (5, (80, 115), (20, 26), (90, 108), (50, 68)),
                (11, (72, 105), (18, 22), (96, 114), (56, 74)), (17, (60, 95), (14, 18), (104, 124), (60, 78)))


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
            if self._excluded(c, chosen):
                continue
            chosen.append(c)
        return chosen

    @staticmethod
    def _excluded(c: Condition, others: list[Condition]) -> bool:
        return any(c.key in o.excludes or o.key in c.excludes for o in others)

    def _activate(self, c: Condition, first_visit: dt.date, onset_years: tuple[int, int],
                  birth: dt.date | None = None) -> ActiveCondition:
        variant = self.rng.choice(c.variants)
        onset = first_visit - dt.timedelta(days=self.rng.randint(onset_years[0] * 365, onset_years[1] * 365))
        if birth is not None:  # a chronic condition began after the first birthday, never before birth
            onset = min(max(onset, birth + dt.timedelta(days=365)), first_visit)
        return ActiveCondition(c, "", variant.codes, variant.side, onset)

    def _name_problems(self, course: Course) -> None:
        """Problem-list wording and codes: the clinician's words, combination codes applied (rules)."""
        from simulator.generate.notes import phrase

        problems = tuple(rules.Problem(ac.condition, ac.variant_codes, "") for ac in course.chronic)
        for ac, p in zip(course.chronic, problems, strict=True):
            ac.codes = rules.combined_codes(p, problems)
            ac.name = phrase(self.rng, self.rng.choice(ac.condition.names), self.sc.abbreviations, ac.side)

    def _choose_allergies(self, age: int) -> list[tuple[str, str]]:
        rng = self.rng
        if rng.random() >= self.sc.allergy_rate:
            return []
        keys = sorted(k for k, a in self.cat.allergies.items() if a.min_age <= age)
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

    def _history(self, course: Course, first: dt.date) -> None:
        """Whether this practice has seen the patient before, and when: the chart prints it, the
        new/established rule reads it."""
        rng = self.rng
        if _age_on(course.birth_date, first) == 0:  # an infant: no earlier visit, no tobacco
            return
        roll = rng.random()
        if course.chronic and roll < 0.7 or not course.chronic and roll < 0.45:
            course.last_seen = first - dt.timedelta(days=rng.randint(45, 900))
        elif roll < 0.82:
            course.last_seen = first - dt.timedelta(days=rng.randint(3 * 365 + 20, 6 * 365))
        else:
            course.history_source = "transfer" if course.chronic else ""
        if any(ac.condition.key == "nicotine-dependence" for ac in course.chronic):
            course.tobacco = "current"
        elif any(ac.condition.tobacco == "former" for ac in course.chronic) or (
                _age_on(course.birth_date, first) >= 25 and rng.random() < 0.2):
            course.tobacco = "former"
            # quit as an adult (the note prints the year: "quit 2009" for a 30-year-old would be quitting at 12)
            course.quit_year = min(max(first.year - rng.randint(2, 25), course.birth_date.year + 18), first.year - 1)

    def _pregnancy(self, course: Course, starts: list[dt.datetime]) -> None:
        """A pregnant patient: the last menstrual period so that the first visit falls at 8-20 weeks and the
        last before 40; the pregnancy's onset is that date, and the practice has not seen her since."""
        pregnancies = [ac for ac in course.chronic if "pregnancy" in ac.condition.tags]
        if not pregnancies:
            return
        span = (starts[-1].date() - starts[0].date()).days
        latest = max(8 * 7, min(20 * 7, 39 * 7 - span))
        course.lmp = starts[0].date() - dt.timedelta(days=self.rng.randint(8 * 7, latest))
        for ac in pregnancies:
            ac.onset = course.lmp
        if course.last_seen and course.last_seen >= course.lmp:
            course.last_seen = course.lmp - dt.timedelta(days=self.rng.randint(30, 400))

    # -------------------------------------------------------------- the course
    def build(self) -> Course:
        rng, sc, cat = self.rng, self.sc, self.cat
        sex, age = self._choose_sex_and_age()
        n_visits = rng.randint(*sc.visits)
        starts = self._visit_dates(n_visits, sc.setting)
        newborns = age == 0 and any("newborn-exam" in cat.conditions[k].tags for k in sc.preventive)
        birth = starts[0].date() - dt.timedelta(days=age * 365 + (rng.randint(2, 6) if newborns else rng.randint(5, 360)))
        age = _age_on(birth, starts[0].date())
        chronic = [self._activate(c, starts[0].date(), (1, 12), birth) for c in self._choose_chronic(age, sex)]
        allergies = self._choose_allergies(age)
        course = Course(sex=sex, birth_date=birth, chronic=chronic, allergies=allergies, visits=[], meds=[],
                        medicare=starts[0].year - birth.year >= 65)
        course.base = self._baseline(sex, age)
        plans: list[Visit] = []
        shift = dt.timedelta(0)
        for i, start in enumerate(starts):
            start += shift
            if plans and plans[-1].focus[0].condition.follow_up and sc.setting == "office":
                plans.append(self._follow_up(plans[-1], i, start))
                shift += plans[-1].start - start
            else:
                plans.append(self._plan_visit(course, i, start, _age_on(birth, start.date())))
        self._name_problems(course)
        self._history(course, starts[0].date())
        self._pregnancy(course, starts)
        avoid = self._avoid(course)
        for chronic_condition in course.chronic:
            self._prescribe(course, chronic_condition, starts[0].date(), avoid, existing=True)
        for i, visit in enumerate(plans):
            visit.last_seen = course.last_seen if i == 0 else plans[i - 1].start.date()
            visit.follow_up = plans[i + 1].start.date().isoformat() if i + 1 < len(plans) else ""
            self._vitals_and_status(course, visit, i, n_visits)
            self._orders(course, visit, avoid, i, n_visits)
            course.visits.append(visit)
        from simulator.generate.notes import NoteWriter

        writer = NoteWriter(cat, sc, rng)
        for i, visit in enumerate(course.visits):
            visit.coded = rules.code_visit(self._facts(course, visit), cat, sc.coding_policy)
            visit.diagnoses, visit.services = visit.coded.diagnoses, visit.coded.services
            writer.write(course, visit, course.visits[i - 1] if i else None)
        return course

    def _avoid(self, course: Course) -> set[str]:
        return {cls for key, _ in course.allergies for cls in self.cat.allergies[key].avoid}

    def _acute_options(self, course: Course, start: dt.datetime, age: int) -> list[Condition]:
        """Acute conditions this patient can have on this day: right setting, age, sex and season, and an
        exacerbation only of a disease the patient has (or can be given as history)."""
        out = []
        for key in self.sc.acute:
            c = self.cat.conditions[key]
            if not c.fits(age, course.sex) or self.sc.setting not in c.settings:
                continue
            if c.months and start.month not in c.months:
                continue
            if any(ac.condition.key in c.not_with for ac in course.chronic) or any(
                    key in c.allergy_excludes for key, _ in course.allergies):
                continue
            if c.history and all(ac.condition.key != c.history for ac in course.chronic):
                hist = self.cat.conditions[c.history]
                if not hist.fits(age, course.sex) or self._excluded(hist, [ac.condition for ac in course.chronic]):
                    continue
            out.append(c)
        return out

    def _ensure_history(self, course: Course, c: Condition, first_visit: dt.date) -> None:
        if c.history and all(ac.condition.key != c.history for ac in course.chronic):
            course.chronic.append(self._activate(self.cat.conditions[c.history], first_visit, (1, 10), course.birth_date))

    def _follow_up(self, previous: Visit, i: int, start: dt.datetime) -> Visit:
        """An injury seen again: the same injury, same side, at a subsequent (or sequela) encounter."""
        before = previous.focus[0]
        c = self.cat.conditions[before.condition.follow_up]
        variant = next((v for v in c.variants if v.side == before.side), c.variants[0])
        cond = ActiveCondition(c, "", variant.codes, variant.side, before.onset)
        day = previous.start.date() + dt.timedelta(days=self.rng.randint(*before.condition.follow_days))
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        start = dt.datetime.combine(day, start.time())
        length = dt.timedelta(minutes=self.rng.choice((20, 30)))
        return Visit(i + 1, start, start + length, "office", "follow-up", [cond])

    def _plan_visit(self, course: Course, i: int, start: dt.datetime, age: int) -> Visit:
        rng, sc, cat = self.rng, self.sc, self.cat
        first_day = course.visits[0].start.date() if course.visits else start.date()
        acute_options = self._acute_options(course, start, age)
        preventive = [cat.conditions[k] for k in sc.preventive if cat.conditions[k].fits(age, course.sex)]
        if sc.setting == "emergency":
            if not acute_options:  # out of season: any acute condition of the scenario that fits
                acute_options = [cat.conditions[k] for k in sc.acute if cat.conditions[k].fits(age, course.sex)
                                 and not cat.conditions[k].history and not cat.conditions[k].months] or \
                                [cat.conditions[sc.acute[0]]]
            chosen = rng.choice(acute_options)
            self._ensure_history(course, chosen, first_day)
            cond = self._activate(chosen, start.date(), (0, 0))
            length = dt.timedelta(minutes=rng.randrange(90, 300, 5))
            return Visit(i + 1, start, start + length, "emergency", "emergency", [cond])
        length = dt.timedelta(minutes=rng.choice((20, 30, 40)))
        if i == 0 and preventive:
            cond = self._activate(rng.choice(preventive), start.date(), (0, 0))
            return Visit(1, start, start + length, "office", "preventive", [cond])
        wants_acute = acute_options and (not course.chronic or (i > 0 and rng.random() < sc.acute_visit_share))
        if wants_acute:
            chosen = rng.choice(acute_options)
            self._ensure_history(course, chosen, first_day)
            cond = self._activate(chosen, start.date(), (0, 0))
            return Visit(i + 1, start, start + length, "office", "new" if i == 0 else "acute", [cond])
        if not course.chronic:
            options = preventive or acute_options or [cat.conditions[k] for k in sc.acute
                                                      if cat.conditions[k].fits(age, course.sex)
                                                      and not cat.conditions[k].history]
            cond = self._activate(rng.choice(options), start.date(), (0, 0))
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
        elif age == 0:  # length and BMI at birth; see _vitals_and_status for growth by the day
            height_cm, bmi = rng.uniform(48.5, 53.0), rng.uniform(12.6, 13.6)
        else:
            height_cm = 76 + 6.2 * age + rng.uniform(-4, 4) if age < 13 else rng.gauss(165 if sex == "male" else 158, 6)
            bmi = rng.uniform(15.2, 17.5) if age < 8 else rng.uniform(16.0, 21.5)
        return {"height_cm": height_cm, "bmi": bmi, "age": age}

    def _vitals_and_status(self, course: Course, visit: Visit, i: int, n: int) -> None:
        """Each chronic condition is at goal or not today; vitals follow the conditions and the age."""
        rng, sc, base = self.rng, self.sc, course.base
        age = _age_on(course.birth_date, visit.start.date())
        ranges: dict[str, tuple[float, float]] = {}
        for ac in visit.focus:
            ranges.update(ac.condition.vitals)
        for ac in course.chronic:
            c = ac.condition
            for k, v in c.vitals.items():
                ranges.setdefault(k, v)
            shows_in_vitals = any(k in VITAL_RANGE_KEYS for k in c.uncontrolled)
            labs_today = visit.kind in ("new", "follow-up") and i in (0, n - 1) and bool(c.panels)
            if c.goal_rate == 0:  # never at goal by definition (diabetes with hyperglycemia)
                visit.at_goal[c.key] = False
            elif c.uncontrolled and (shows_in_vitals or labs_today):
                visit.at_goal[c.key] = rng.random() < c.goal_rate
            else:
                visit.at_goal[c.key] = True
            if not visit.at_goal[c.key]:
                for k, v in c.uncontrolled.items():
                    if k in VITAL_RANGE_KEYS:
                        ranges[k] = v
        metric = sc.units == "metric" or (sc.units == "mixed" and rng.random() < 0.5)
        child = age < 18
        if child:
            _, hr, rr, sbp, dbp = next(row for row in CHILD_VITALS if age <= row[0])
            if "temp_f" in ranges and ranges["temp_f"][0] >= 100.4:
                hr = (hr[1] - 10, hr[1] + 15)  # fever raises the heart rate
        else:
            sbp = ranges.get("systolic", (112, 134))
            dbp = ranges.get("diastolic", (68, 84))
            hr = ranges.get("heart_rate", (62, 88))
            rr = ranges.get("resp_rate", (14, 18))
        temp_f = ranges.get("temp_f", (97.6, 98.9))
        spo2 = ranges.get("spo2", (96, 99))
        bmi = ranges["bmi"] if "bmi" in ranges else None
        if bmi is not None and "_bmi" not in base:
            base["_bmi"] = rng.uniform(*bmi)
        grown_cm = base["height_cm"] + (6.0 * (age - base["age"]) if base["age"] < 13 else 0)
        target_bmi = base.get("_bmi", base["bmi"]) + rng.uniform(-0.4, 0.4) * (i > 0)
        if base["age"] == 0 and age == 0:  # an infant grows by the day: ~3 cm a month, BMI 13 at birth to 17 at 3 months
            days = (visit.start.date() - course.birth_date).days
            grown_cm = base["height_cm"] + 0.1 * min(days, 120)
            target_bmi = base["bmi"] + 0.05 * min(days, 80)
        h_m = grown_cm / 100
        weight_kg = target_bmi * h_m * h_m
        t_f = rng.uniform(*temp_f)
        if metric:
            weight, weight_unit = round(weight_kg, 1), "kg"
            height, height_unit = round(grown_cm), "cm"
            temp, temp_unit = round((t_f - 32) * 5 / 9, 1), "Cel"
            kg, m = weight, height / 100
        else:
            weight, weight_unit = round(weight_kg / 0.45359237, 1), "[lb_av]"
            height, height_unit = round(grown_cm / 2.54), "[in_i]"
            temp, temp_unit = round(t_f, 1), "[degF]"
            kg, m = weight * 0.45359237, height * 0.0254
        visit.vitals = Vitals(
            systolic=rng.randint(*map(int, sbp)), diastolic=rng.randint(*map(int, dbp)),
            heart_rate=rng.randint(*map(int, hr)), resp_rate=rng.randint(*map(int, rr)),
            temp=temp, temp_unit=temp_unit, spo2=rng.randint(*map(int, spo2)),
            weight=weight, weight_unit=weight_unit, height=height, height_unit=height_unit,
            bmi=round(kg / (m * m), 1) if not child else None, weight_kg=round(kg, 1),
        )
        if visit.vitals.diastolic >= visit.vitals.systolic - 20:
            visit.vitals.diastolic = visit.vitals.systolic - 30

    # -------------------------------------------------------------- orders: labs, procedures, meds
    def _orders(self, course: Course, visit: Visit, avoid: set[str], i: int, n: int) -> None:
        rng, cat = self.rng, self.cat
        panels: list[str] = []
        overrides: dict[str, tuple[float, float]] = {}
        for ac in course.chronic:
            overrides.update(ac.condition.labs)
        for ac in visit.focus:
            overrides.update(ac.condition.labs)
        for ac in course.chronic:  # a condition not at goal shows it in its labs
            if not visit.at_goal.get(ac.condition.key, True):
                overrides.update({k: v for k, v in ac.condition.uncontrolled.items() if k in cat.labs})
        for ac in visit.focus:
            c = ac.condition
            # Chronic conditions get their labs and procedures at the first and the last visit.
            if c.kind != "chronic" or i in (0, n - 1):
                panels += [p for p in c.panels if p not in panels]
                visit.procedures += [p for p in c.procedures if p not in visit.procedures
                                     and not (i and cat.procedures[p].first_visit_only)]
            if c.kind == "acute":
                self._prescribe(course, ac, visit.start.date(), avoid, existing=False, visit=visit)
                if c.injury_events:
                    prev = course.visits[-1] if course.visits else None
                    if c.encounter and prev is not None and prev.focus[0].condition.follow_up == c.key:
                        event = c.injury_events[min(prev.event_index, len(c.injury_events) - 1)]
                    else:
                        event = rng.choice(c.injury_events)
                    visit.event_index = c.injury_events.index(event)
                    visit.event, visit.event_codes = event.text.replace("<side>", ac.side), event.codes
            elif c.kind == "chronic" and not visit.at_goal.get(c.key, True):
                self._adjust(course, ac, visit, avoid)
        for key in visit.procedures:
            low, high = cat.procedures[key].size
            if high:
                visit.wound_cm = round(rng.uniform(low, high), 1)
                visit.wound_lengths[key] = visit.wound_cm
            if cat.procedures[key].minutes[1]:
                visit.infusion_minutes[key] = rng.randint(*cat.procedures[key].minutes)
        if visit.infusion_minutes:  # the patient stays for the infusions
            visit.end = max(visit.end, visit.start + dt.timedelta(minutes=sum(visit.infusion_minutes.values()) + 20))
        reason = visit.focus[0].condition
        if reason.critical_care[1]:
            visit.critical_minutes = rng.randint(*reason.critical_care)
        if reason.tbsa[1]:
            visit.tbsa = float(rng.randint(*map(int, reason.tbsa)))
            if reason.third_degree[1]:
                visit.third_degree = float(min(visit.tbsa, rng.randint(*map(int, reason.third_degree))))
        age = _age_on(course.birth_date, visit.start.date())
        for key in panels:
            for lab_key in cat.panels[key].labs:
                if any(r.lab == lab_key for r in visit.labs):
                    continue
                visit.labs.append(LabResult(lab_key, self._lab_value(lab_key, overrides), key))
        self._kidney_labs(visit, overrides, course.sex, age)
        share = self.sc.coding_policy.time_documented
        if share and visit.setting == "office" and visit.kind != "preventive" and rng.random() < share:
            visit.total_minutes = rng.randint(*rng.choice(((12, 29), (30, 44), (40, 54), (55, 100))))
        if visit.kind == "preventive" and course.medicare:
            visit.awv_elements = rng.random() < 0.6
            if visit.last_seen and rng.random() < 0.5:
                visit.prior_awv = visit.start.date() - dt.timedelta(days=rng.randint(380, 600))

    def _lab_value(self, key: str, overrides: dict[str, tuple[float, float]]) -> float:
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

    def _weight_kg(self, course: Course, visit: Visit | None) -> float:
        if visit is not None and visit.vitals is not None:
            return visit.vitals.weight_kg
        base = course.base
        return base["bmi"] * (base["height_cm"] / 100) ** 2

    def _allowed(self, course: Course, c: Condition, avoid: set[str], kg: float) -> list[Medication]:
        active_classes = {cls for m in course.meds if not m.stopped and m.end is None for cls in m.medication.classes}
        options = [self.cat.medications[k] for k in c.meds]
        return [m for m in options if not (set(m.classes) & avoid) and not (set(m.classes) & active_classes)
                and m.min_kg <= kg <= m.max_kg]

    def _prescribe(self, course: Course, ac: ActiveCondition, day: dt.date, avoid: set[str], existing: bool,
                   visit: Visit | None = None) -> None:
        rng = self.rng
        kg = self._weight_kg(course, visit)
        for med in self._allowed(course, ac.condition, avoid, kg)[: ac.condition.med_count]:
            strength = rng.choice(med.strengths)
            sig, dosing = self._sig(med, rng.choice(med.sigs), kg)
            start = day - dt.timedelta(days=rng.randint(60, 900)) if existing else day
            end = None if med.days == 0 else day + dt.timedelta(days=med.days)
            order = MedOrder(med, strength, sig, start, end, ac.condition.key,
                             optional_long_term="diabetes" not in ac.condition.tags, dosing=dosing)
            course.meds.append(order)
            if visit is not None:
                visit.meds_started.append(order)

    @staticmethod
    def _sig(med: Medication, sig: Sig, kg: float) -> tuple[Sig, str]:
        """Children's liquid doses by weight, split by the frequency, capped at the daily maximum."""
        if not med.mg_per_kg:
            return sig, ""
        per_day = FREQUENCIES[sig.frequency][1]
        daily = min(med.mg_per_kg * kg, med.max_mg)
        ml = max(0.5, round(daily / per_day / med.mg_per_ml * 2) / 2)
        dosing = f"{med.mg_per_kg:g} mg/kg/day at {kg:.1f} kg" + (f", capped at {med.max_mg:g} mg/day"
                                                                  if daily >= med.max_mg else "")
        return Sig(ml, "mL", sig.frequency, sig.prn, sig.note), dosing

    def _adjust(self, course: Course, ac: ActiveCondition, visit: Visit, avoid: set[str]) -> None:
        """A chronic condition not at goal: raise the dose of its medication one step, or add one."""
        day = visit.start.date()
        current = [m for m in course.meds if m.condition == ac.condition.key and m.end is None and not m.stopped]
        for order in current:
            strengths = list(order.medication.strengths)
            higher = [s for s in strengths if _amount(s) > _amount(order.strength)]
            if higher:
                new_strength = min(higher, key=_amount)
                order.stopped, order.end = True, day
                new = MedOrder(order.medication, new_strength, order.sig, day, None, order.condition,
                               order.optional_long_term)
                course.meds.append(new)
                visit.meds_stopped.append(order)
                visit.meds_started.append(new)
                visit.changes[ac.condition.key] = (f"increase {order.medication.name} from {order.strength} to "
                                                   f"{new_strength}")
                return
        before = len(visit.meds_started)
        options = self._allowed(course, ac.condition, avoid, self._weight_kg(course, visit))
        if options:
            med = options[0]
            order = MedOrder(med, med.strengths[0], med.sigs[0], day, None, ac.condition.key,
                             "diabetes" not in ac.condition.tags)
            course.meds.append(order)
            visit.meds_started.append(order)
        if len(visit.meds_started) > before:
            added = visit.meds_started[-1]
            visit.changes[ac.condition.key] = f"add {added.medication.name} {added.strength}"

    # -------------------------------------------------------------- the documented facts, for coding
    def _facts(self, course: Course, visit: Visit) -> rules.VisitFacts:
        cat = self.cat
        age = _age_on(course.birth_date, visit.start.date())
        problems = []
        for n, ac in enumerate(visit.focus):
            c = ac.condition
            if c.kind == "chronic":
                kind = "chronic-stable" if visit.at_goal.get(c.key, True) else "chronic-not-at-goal"
            else:
                kind = "preventive" if c.kind == "preventive" else c.problem
            problems.append(rules.Problem(c, ac.variant_codes, "", "reason" if n == 0 else "addressed", kind))  # type: ignore[arg-type]
        if visit.kind == "preventive":
            for ac in course.chronic:
                kind = "chronic-stable" if visit.at_goal.get(ac.condition.key, True) else "chronic-not-at-goal"
                problems.append(rules.Problem(ac.condition, ac.variant_codes, "", "addressed", kind))  # type: ignore[arg-type]
        keys = {p.condition.key for p in problems}
        # A complication coded today (E11.649) carries the long-term drugs of the disease it complicates.
        history_of = {ac.condition.history: ac.condition.key for ac in visit.focus if ac.condition.history}
        active = [m for m in course.meds if m.start <= visit.start.date() and (m.end is None or m.end > visit.start.date()
                                                                            or m in visit.meds_started)]
        long_term = tuple(rules.LongTermDrug(m.medication.long_term_code, m.medication.name,
                                             m.condition if m.condition in keys else history_of[m.condition])
                          for m in active if m.medication.long_term_code and m.medication.days == 0
                          and (m.condition in keys or m.condition in history_of))
        managed = [m for m in active if m.condition in keys and visit.kind != "preventive"]
        managed += [m for m in visit.meds_started if m not in managed]
        procedure_owner: dict[str, str] = {}
        procedure_side: dict[str, str] = {}
        for ac in visit.focus:
            for p in ac.condition.procedures:
                procedure_owner.setdefault(p, ac.condition.key)
                procedure_side.setdefault(p, ac.side)
        panel_owner = {}
        for ac in visit.focus:
            for p in ac.condition.panels:
                panel_owner.setdefault(p, ac.condition.key)
        reason = visit.focus[0].condition
        emergency = visit.setting == "emergency"
        interpretations = sum(1 for p in visit.procedures if emergency and cat.procedures[p].test
                              and not cat.procedures[p].ed_service and reason.independent_interpretation)
        drugs_given = any(cat.procedures[p].drug for p in visit.procedures)
        global_ends, global_for = self._global_period(course, visit)
        return rules.VisitFacts(
            setting=visit.setting,  # type: ignore[arg-type]
            preventive=visit.kind == "preventive", date=visit.start.date(), age=age, last_seen=visit.last_seen,
            problems=tuple(problems),
            external_causes=tuple(rules.ExternalCause(code, visit.event) for code in visit.event_codes),
            tobacco=course.tobacco,  # type: ignore[arg-type]
            long_term_drugs=long_term,
            bmi=visit.vitals.bmi if visit.vitals else None,
            procedures=tuple(rules.Performed(p, procedure_owner.get(p, reason.key), minutes=visit.infusion_minutes.get(p, 0),
                                             side=procedure_side.get(p, ""), length=visit.wound_lengths.get(p, 0.0))
                             for p in visit.procedures),
            panels=tuple(rules.Collected(k, panel_owner.get(k, reason.key)) for k in dict.fromkeys(r.panel for r in visit.labs)),
            prescription_management=any(not m.medication.otc for m in managed) or drugs_given,
            otc_drugs=any(m.medication.otc for m in managed),
            independent_historian=age < 12,
            external_notes_reviewed=1 if visit.number == 1 and course.history_source == "transfer" else 0,
            independent_interpretations=interpretations,
            hospitalization_decision=reason.hospitalization_decision,
            medicare=course.medicare, awv_elements=visit.awv_elements, prior_awv=visit.prior_awv,
            abnormal_findings=visit.kind == "preventive" and not all(visit.at_goal.values()),
            total_minutes=visit.total_minutes,
            vaccine_counseling=age < 19 and any(ac.condition.vaccine_counseling for ac in visit.focus),
            gestation_days=(visit.start.date() - course.lmp).days if course.lmp else None,
            birth_date=course.birth_date,
            critical_care_minutes=visit.critical_minutes, burn_tbsa=visit.tbsa, burn_third_degree=visit.third_degree,
            global_ends=global_ends, global_for=global_for,
        )

    def _global_period(self, course: Course, visit: Visit) -> tuple[dt.date | None, str]:
        """A follow-up visit of an injury repaired at the previous visit: the last day of the repair's global
        period and the condition followed up (None, "" otherwise)."""
        if visit.kind != "follow-up" or visit.number < 2:
            return None, ""
        before = course.visits[visit.number - 2]
        if before.focus[0].condition.follow_up != visit.focus[0].condition.key:
            return None, ""
        days = [self.cat.services[self.cat.procedures[p].service].global_days or 0 for p in before.procedures]
        if not any(days):
            return None, ""
        return before.start.date() + dt.timedelta(days=max(days)), visit.focus[0].condition.key


VITAL_RANGE_KEYS = ("systolic", "diastolic", "heart_rate", "resp_rate", "temp_f", "spo2", "bmi")


def _amount(strength: str) -> float:
    number = strength.split()[0]
    try:
        return float(number)
    except ValueError:
        return 0.0


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

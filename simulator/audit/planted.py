"""The planted history of the access-audit exercise: a facility's staff, patients and weeks of accesses,
with the violations the scenario lists hidden among normal work. Deterministic from the seed.

Normal work follows the facility's access policy (see ``simulator.reports.audit_rules``): clinical
staff open the charts of patients in their department during the stay, registration clerks at
admission, coders after discharge; on shift, at their usual workstations, for minutes, printing with
a reason. Some normal work looks odd and is allowed (a nurse finishing charting after her shift at her
own workstation, a nurse floating to another terminal of her unit, a VIP's care team reading the VIP's
chart). Each violation breaks exactly one rule.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from functools import lru_cache

from simulator.audit.events import Workstation, audit_event
from simulator.audit.settings import AuditSettings
from simulator.generate.people import faker_for

FACILITY_TZ = dt.timezone(dt.timedelta(hours=-7), "MST")  # Arizona keeps no daylight saving time
START = dt.datetime(2025, 3, 3, 0, 0, tzinfo=FACILITY_TZ)  # a Monday

CLINICAL = (("ED", "Emergency"), ("CARD", "Cardiology"), ("MED", "Medical-Surgical"), ("PEDS", "Pediatrics"),
            ("ONC", "Oncology"))
SUPPORT = (("REG", "Registration"), ("HIM", "Health Information Mgmt"))
DEPARTMENTS = dict(CLINICAL + SUPPORT)
SHIFTS = {"day": (7, 15), "evening": (15, 23), "night": (23, 7)}
VIP_NOTES = ("city council member", "local TV news anchor", "professional athlete", "state senator",
             "hospital board member", "well-known musician")
OVERTIME_SHARE, FLOAT_SHARE = 0.03, 0.03


@dataclass(frozen=True)
class Staff:
    id: str  # the account name, e.g. "rdiaz"
    given: str
    family: str
    role: str  # physician | nurse | registration clerk | coder
    department: str  # a key of DEPARTMENTS
    shift: str  # day | evening | night
    workstations: tuple[str, ...]  # the usual ones
    street: str
    city: str
    terminated: dt.datetime | None = None

    @property
    def name(self) -> str:
        return f"{self.given} {self.family}"

    @property
    def short(self) -> str:
        return f"{self.given[0]}. {self.family}"

    @property
    def shift_hours(self) -> str:
        a, b = SHIFTS[self.shift]
        return f"{self.shift} {a:02d}:00–{b:02d}:00"


@dataclass(frozen=True)
class Stay:
    department: str
    admitted: dt.datetime
    discharged: dt.datetime


@dataclass(frozen=True)
class Patient:
    id: str
    mrn: str
    given: str
    family: str
    birth_date: dt.date
    street: str
    city: str
    vip: str = ""  # why the patient is a VIP, or ""
    stays: tuple[Stay, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.given} {self.family}"

    @property
    def short(self) -> str:
        return f"{self.given[0]}. {self.family}"


@dataclass(slots=True)
class Access:
    """One planted access: a user had a patient's chart open from ``start`` to ``end`` (or printed/exported it)."""

    user: str
    patient: str
    activity: str  # read | print | export
    start: dt.datetime
    end: dt.datetime
    workstation: str
    purpose: str = ""
    event_id: str = ""


@dataclass(frozen=True)
class Violation:
    kind: str  # a key of VIOLATION_KINDS
    user: str
    events: tuple[str, ...]  # event ids
    patient: str = ""


@dataclass
class PlantedHistory:
    staff: dict[str, Staff]
    patients: dict[str, Patient]
    accesses: list[Access]  # by start time
    violations: list[Violation]
    workstation_address: dict[str, str] = field(default_factory=dict)

    def by_id(self) -> dict[str, Access]:
        return {a.event_id: a for a in self.accesses}


def workstations_of(department: str) -> tuple[str, ...]:
    return tuple(f"{department}-WS{n:02d}" for n in range(1, 9))


def address_of(workstation: str) -> str:
    dept, number = workstation.split("-WS")
    index = list(DEPARTMENTS).index(dept)
    return f"10.{20 + index}.4.{10 + int(number)}"


def shift_window(staff: Staff, day: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The shift ``staff`` works that starts on ``day`` (a midnight)."""
    a, _ = SHIFTS[staff.shift]
    start = day + dt.timedelta(hours=a)
    return start, start + dt.timedelta(hours=8)


class _Builder:
    def __init__(self, settings: AuditSettings, seed: int):
        self.settings = settings
        self.rng = random.Random(f"audit-history:{seed}")
        self.fake = faker_for(self.rng)
        self.days = settings.weeks * 7
        self.end = START + dt.timedelta(days=self.days)
        self.staff: dict[str, Staff] = {}
        self.patients: dict[str, Patient] = {}
        self.accesses: list[Access] = []
        self.violations: list[tuple[str, str, list[Access], str]] = []
        self.schedule: dict[int, list[Staff]] = {}
        self.rota: dict[tuple[int, str], list[tuple[Staff, dt.datetime, dt.datetime]]] = {}  # who works, when

    # ------------------------------------------------------------------ people
    def _account(self, given: str, family: str) -> str:
        base = (given[0] + family).lower().replace("'", "").replace(" ", "").replace("-", "")[:14]
        name, n = base, 2
        while name in self.staff:
            name, n = f"{base}{n}", n + 1
        return name

    def make_staff(self) -> None:
        rng, fake = self.rng, self.fake
        count = self.settings.staff
        plan = []
        for code, _ in CLINICAL:
            plan += [(code, "physician")] * 2 + [(code, "nurse")] * 6
        plan += [("REG", "registration clerk")] * 4 + [("HIM", "coder")] * 4
        while len(plan) < count:
            plan.append(rng.choice(plan))
        for dept, role in plan[:max(count, len(plan))]:
            given, family = fake.first_name(), fake.last_name()
            shift = ("day" if role in ("physician", "coder") else
                     rng.choice(("day", "evening")) if role == "registration clerk" else
                     rng.choice(("day", "day", "evening", "night")))
            stations = workstations_of(dept)
            usual = tuple(sorted(rng.sample(stations, 2)))
            account = self._account(given, family)
            self.staff[account] = Staff(account, given, family, role, dept, shift, usual,
                                        f"{rng.randint(100, 9899)} {fake.street_name()}", fake.city())
        # Resignations: accounts terminated half-way (some will be used afterwards: the "terminated" violation).
        terminated = self.settings.violations.get("terminated", 0) + 1
        nurses = [s for s in self.staff.values() if s.role == "nurse"]
        for s in rng.sample(nurses, min(terminated, len(nurses))):
            when = START + dt.timedelta(days=rng.randint(self.days // 3, self.days // 2), hours=17)
            self.staff[s.id] = Staff(**{**s.__dict__, "terminated": when})
        for day in range(self.days):
            self.schedule[day] = [s for s in self.staff.values() if rng.random() < 5 / 7]
            midnight = START + dt.timedelta(days=day)
            for s in self.schedule[day]:
                self.rota.setdefault((day, s.department), []).append((s, *shift_window(s, midnight)))

    def active(self, s: Staff, at: dt.datetime) -> bool:
        return s.terminated is None or at < s.terminated

    def make_patient(self, *, given: str | None = None, family: str | None = None, street: str | None = None,
                     city: str | None = None, vip: str = "", department: str | None = None) -> Patient:
        rng, fake = self.rng, self.fake
        number = len(self.patients) + 1
        dept = department or rng.choices([c for c, _ in CLINICAL], weights=(4, 2, 4, 1, 1))[0]
        age_days = rng.randint(1, 17 * 365) if dept == "PEDS" else rng.randint(19 * 365, 90 * 365)
        admitted = START + dt.timedelta(minutes=rng.randint(0, (self.days - 1) * 24 * 60))
        length = dt.timedelta(hours=rng.randint(3, 12)) if dept == "ED" else dt.timedelta(hours=rng.randint(30, 140))
        p = Patient(f"p{number:05d}", f"M{100000 + number * 7:07d}", given or fake.first_name(),
                    family or fake.last_name(), (START - dt.timedelta(days=age_days)).date(),
                    street or f"{rng.randint(100, 9899)} {fake.street_name()}", city or fake.city(), vip,
                    (Stay(dept, admitted, admitted + length),))
        self.patients[p.id] = p
        return p

    # ------------------------------------------------------------------ normal work
    def _on_shift(self, dept: str, roles: tuple[str, ...], at: dt.datetime) -> list[Staff]:
        day = (at - START).days
        out = []
        for d in (day, day - 1):
            for s, a, b in self.rota.get((d, dept), ()):  # type: ignore[arg-type]
                if a <= at < b and s.role in roles and (s.terminated is None or at < s.terminated):
                    out.append(s)
        return out

    def _minutes(self, median: float, cap: float) -> dt.timedelta:
        return dt.timedelta(minutes=min(cap, max(0.5, self.rng.lognormvariate(0, 0.7) * median)))

    def _open(self, s: Staff, p: Patient, start: dt.datetime, length: dt.timedelta, activity: str = "read",
              purpose: str = "", workstation: str | None = None) -> Access:
        access = Access(s.id, p.id, activity, start, start + length, workstation or self.rng.choice(s.workstations),
                        purpose)
        self.accesses.append(access)
        return access

    def normal_work(self, p: Patient) -> None:
        rng = self.rng
        stay = p.stays[0]
        # Registration, within half an hour of admission.
        at = stay.admitted + dt.timedelta(minutes=rng.randint(0, 30))
        clerks = self._on_shift("REG", ("registration clerk",), at)
        if clerks:
            self._open(rng.choice(clerks), p, at, self._minutes(4, 12))
        # The care team: every two hours of the stay, who of the unit is on shift may open the chart.
        t = stay.admitted + dt.timedelta(minutes=rng.randint(5, 60))
        while t < stay.discharged:
            team = self._on_shift(stay.department, ("nurse", "physician"), t)
            if team and rng.random() < 0.8:
                s = rng.choice(team)
                length = self._minutes(5, 40)
                station = None
                if s.role == "nurse" and rng.random() < FLOAT_SHARE:  # floating to another terminal of the unit
                    station = rng.choice([w for w in workstations_of(s.department) if w not in s.workstations])
                activity, purpose = ("print", "TREAT") if rng.random() < 0.02 else ("read", "")
                self._open(s, p, t, length, activity, purpose, station)
                if s.role == "nurse" and rng.random() < OVERTIME_SHARE:  # charting after the shift, at her desk
                    day = (t - START).days
                    for d in (day, day - 1):
                        a, b = shift_window(s, START + dt.timedelta(days=d))
                        late = b + dt.timedelta(minutes=rng.randint(35, 90))
                        if a <= t < b and late < stay.discharged + dt.timedelta(hours=24) and self.active(s, late):
                            self._open(s, p, late, self._minutes(6, 25))
                            break
            t += dt.timedelta(minutes=rng.randint(50, 170))
        # Coding after discharge, by a coder on shift; sometimes a release of information with its reason.
        day = (stay.discharged - START).days + rng.randint(1, 6)
        if day < self.days:
            coders = [s for s in self.schedule[day] if s.role == "coder" and self.active(s, START + dt.timedelta(days=day))]
            if coders:
                s = rng.choice(coders)
                a, _ = shift_window(s, START + dt.timedelta(days=day))
                at = a + dt.timedelta(minutes=rng.randint(10, 400))
                self._open(s, p, at, self._minutes(18, 55))
                if rng.random() < 0.15:
                    self._open(s, p, at + dt.timedelta(minutes=60), dt.timedelta(minutes=1),
                               rng.choice(("print", "export")), rng.choice(("HPAYMT", "PATRQT", "HLEGAL")))

    # ------------------------------------------------------------------ violations
    def _shift_time(self, s: Staff, lo: dt.datetime, hi: dt.datetime) -> dt.datetime | None:
        """A moment in ``s``'s shift hours between lo and hi, on a day they worked."""
        for _ in range(60):
            day = self.rng.randint(max(0, (lo - START).days - 1), min(self.days - 1, (hi - START).days))
            a, b = shift_window(s, START + dt.timedelta(days=day))
            at = a + dt.timedelta(minutes=self.rng.randint(20, 420))
            if lo <= at <= hi and at < b and self.active(s, at):
                return at
        return None

    def _clinical(self, exclude: set[str] = frozenset()) -> list[Staff]:  # type: ignore[assignment]
        return [s for s in self.staff.values() if s.role in ("nurse", "physician") and s.terminated is None
                and s.id not in exclude]

    def _plant(self, kind: str, s: Staff, accesses: list[Access], patient: str = "") -> None:
        self.violations.append((kind, s.id, accesses, patient))

    def _outside_patient(self, s: Staff, *, vip: bool = False) -> tuple[Patient, dt.datetime] | None:
        """A patient of another unit (no relationship) and a moment in s's shift during their stay."""
        pool = [p for p in self.patients.values() if bool(p.vip) == vip and p.stays[0].department != s.department
                and p.id not in self.special]
        self.rng.shuffle(pool)
        for p in pool[:40]:
            at = self._shift_time(s, p.stays[0].admitted, p.stays[0].discharged)
            if at is not None:
                return p, at
        return None

    def plant(self, kind: str) -> None:
        rng = self.rng
        for _ in range(30):  # a few tries: the shift of the person picked must meet the patient's stay
            if self._plant_once(kind, rng):
                return
        raise RuntimeError(f"could not plant a {kind} violation")

    def _plant_once(self, kind: str, rng: random.Random) -> bool:
        s = rng.choice(self._clinical(self.used))
        at: dt.datetime | None
        if kind == "vip":
            found = self._outside_patient(s, vip=True)
            if not found:
                return False
            p, at = found
            self._plant(kind, s, [self._open(s, p, at, self._minutes(5, 12))], p.id)
        elif kind in ("coworker", "relative"):
            p = self.coworkers.pop() if kind == "coworker" else self.relatives.pop()
            viewer = self.staff[self.special[p.id]]
            if kind == "coworker":
                mates = [x for x in self._clinical(self.used) if x.department == viewer.department and x.id != viewer.id
                         and x.department != p.stays[0].department]
                if not mates:
                    (self.coworkers if kind == "coworker" else self.relatives).append(p)
                    return False
                viewer = rng.choice(mates)
            at = self._shift_time(viewer, p.stays[0].admitted, p.stays[0].discharged + dt.timedelta(days=3))
            if at is None:
                (self.coworkers if kind == "coworker" else self.relatives).append(p)
                return False
            s = viewer
            self._plant(kind, s, [self._open(s, p, at, self._minutes(6, 15))], p.id)
        elif kind == "terminated":
            gone = [x for x in self.staff.values() if x.terminated is not None and x.id not in self.used]
            if not gone:
                return False
            s = rng.choice(gone)
            assert s.terminated is not None
            pool = [p for p in self.patients.values() if p.stays[0].department == s.department
                    and p.stays[0].discharged > s.terminated and p.id not in self.special]
            if not pool:
                return False
            p = rng.choice(pool)
            at = max(s.terminated + dt.timedelta(hours=rng.randint(20, 60)), p.stays[0].admitted)
            if at > min(self.end, p.stays[0].discharged):
                return False
            self._plant(kind, s, [self._open(s, p, at, self._minutes(5, 12))], p.id)
        elif kind == "after-hours":
            pool = [p for p in self.patients.values() if p.stays[0].department == s.department
                    and p.stays[0].discharged - p.stays[0].admitted > dt.timedelta(hours=20) and p.id not in self.special]
            if not pool:
                return False
            p = rng.choice(pool)
            stay = p.stays[0]
            first_hour, _ = SHIFTS[s.shift]
            hour = (first_hour + 8 + rng.randint(3, 12)) % 24  # well outside the shift
            at = stay.admitted.replace(hour=hour, minute=rng.randint(0, 59)) + dt.timedelta(days=1)
            if not stay.admitted < at < stay.discharged:
                return False
            elsewhere = rng.choice([d for d, _ in CLINICAL if d != s.department])
            self._plant(kind, s, [self._open(s, p, at, self._minutes(6, 15), workstation=rng.choice(
                workstations_of(elsewhere)))], p.id)
        elif kind == "bulk":
            at = self._shift_time(s, START + dt.timedelta(days=2), self.end - dt.timedelta(days=1))
            if at is None:
                return False
            pool = [p for p in self.patients.values() if p.id not in self.special]
            browsed = rng.sample(pool, rng.randint(22, 34))
            station = rng.choice(s.workstations)
            opened = []
            for p in browsed:
                length = dt.timedelta(seconds=rng.randint(6, 18))
                opened.append(self._open(s, p, at, length, workstation=station))
                at += length + dt.timedelta(seconds=rng.randint(2, 8))
            self._plant(kind, s, opened)
        elif kind == "no-relationship":
            found = self._outside_patient(s)
            if not found:
                return False
            p, at = found
            self._plant(kind, s, [self._open(s, p, at, self._minutes(5, 12))], p.id)
        elif kind in ("long-session", "print-export"):
            pool = [p for p in self.patients.values() if p.stays[0].department == s.department and p.id not in self.special]
            rng.shuffle(pool)
            for p in pool[:40]:
                latest = p.stays[0].discharged - dt.timedelta(hours=5 if kind == "long-session" else 1)
                at = self._shift_time(s, p.stays[0].admitted, latest)
                if at is None:
                    continue
                a, _ = shift_window(s, at.replace(hour=0, minute=0) if SHIFTS[s.shift][0] <= at.hour else
                                    at.replace(hour=0, minute=0) - dt.timedelta(days=1))
                if kind == "long-session":
                    at = max(a + dt.timedelta(minutes=rng.randint(10, 90)), p.stays[0].admitted)
                    length = dt.timedelta(minutes=rng.randint(150, 290))
                    self._plant(kind, s, [self._open(s, p, at, length)], p.id)
                else:
                    self._plant(kind, s, [self._open(s, p, at, dt.timedelta(minutes=1), rng.choice(("print", "export")))],
                                p.id)
                break
            else:
                return False
        self.used.add(s.id)
        return True

    # ------------------------------------------------------------------ all of it
    def build(self) -> PlantedHistory:
        rng = self.rng
        self.make_staff()
        self.used: set[str] = set()
        self.special: dict[str, str] = {}  # patient id → the staff member they are (coworker) or are related to
        self.coworkers: list[Patient] = []
        self.relatives: list[Patient] = []
        for _ in range(max(3, self.settings.events // 2500)):
            self.make_patient(vip=rng.choice(VIP_NOTES))
        clinical = sorted(self._clinical(), key=lambda s: s.id)
        for _ in range(self.settings.violations.get("coworker", 0)):
            x = rng.choice(clinical)
            other = rng.choice([d for d, _ in CLINICAL if d != x.department])
            p = self.make_patient(given=x.given, family=x.family, street=x.street, city=x.city, department=other)
            self.special[p.id] = x.id
            self.coworkers.append(p)
        for _ in range(self.settings.violations.get("relative", 0)):
            x = rng.choice(clinical)
            other = rng.choice([d for d, _ in CLINICAL if d != x.department])
            p = self.make_patient(family=x.family, street=x.street, city=x.city, department=other)
            self.special[p.id] = x.id
            self.relatives.append(p)
        bulk_events = 34 * self.settings.violations.get("bulk", 0)
        target = self.settings.events - bulk_events - sum(self.settings.violations.values())
        for p in list(self.patients.values()):
            self.normal_work(p)
        while len(self.accesses) < target:
            self.normal_work(self.make_patient())
        del self.accesses[target:]
        for kind, count in self.settings.violations.items():
            for _ in range(count):
                self.plant(kind)
        planted_ids = {id(a) for _, _, accesses, _ in self.violations for a in accesses}
        # Normal accesses beyond the planted violations' budget are dropped from the end of the time line.
        extra = len(self.accesses) - self.settings.events
        if extra > 0:
            normal_late = sorted((a for a in self.accesses if id(a) not in planted_ids), key=lambda a: a.start)[-extra:]
            dropped = {id(a) for a in normal_late}
            self.accesses = [a for a in self.accesses if id(a) not in dropped]
        self.accesses.sort(key=lambda a: (a.start, a.user, a.patient))
        for i, a in enumerate(self.accesses, start=1):
            a.event_id = f"ae{i:05d}"
        violations = sorted((Violation(kind, user, tuple(a.event_id for a in accesses), patient)
                             for kind, user, accesses, patient in self.violations), key=lambda v: v.events[0])
        stations = sorted({w for d in DEPARTMENTS for w in workstations_of(d)})
        return PlantedHistory(self.staff, self.patients, self.accesses, violations,
                              {w: address_of(w) for w in stations})


def plant_history(settings: AuditSettings, seed: int) -> PlantedHistory:
    """The facility, its weeks of accesses and the hidden violations: same settings and seed, same history."""
    return _Builder(settings, seed).build()


@lru_cache(maxsize=16)
def cached_history(settings_key: tuple, seed: int) -> PlantedHistory:
    events, weeks, violations, categories = settings_key
    return plant_history(AuditSettings(events, weeks, dict(violations), categories), seed)


def history_for(settings: AuditSettings, seed: int) -> PlantedHistory:
    key = (settings.events, settings.weeks, tuple(sorted(settings.violations.items())), settings.categories)
    return cached_history(key, seed)


def to_audit_event(history: PlantedHistory, access: Access) -> dict:
    """A planted access as the FHIR AuditEvent a real EHR would have written."""
    s, p = history.staff[access.user], history.patients[access.patient]
    return audit_event(
        event_id=access.event_id, activity=access.activity, recorded=access.end, user_id=s.id, user_name=s.name,
        role=s.role, workstation=Workstation(access.workstation, history.workstation_address[access.workstation], ""),
        patient_ref=f"Patient/{p.id}", patient_name=p.name, start=access.start, end=access.end,
        purpose=access.purpose or None, details={"department": DEPARTMENTS[s.department]},
    )

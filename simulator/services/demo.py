"""Demo data for `hitsim demo`: an instructor, two students, a class and one assigned scenario."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

from simulator.config import Settings
from simulator.generate.scenario import load_scenario
from simulator.services import accounts, assignments
from simulator.store import Store, repo

DEMO_CLASS = "HIT 101 - Health Data Management"
DEMO_ASSIGNMENT = "Chart entry: chronic care clinic"
DEMO_SCENARIO = "clinic-chronic-care"
DEMO_VERIFY_ASSIGNMENT = "Verify a pre-entered record"
DEMO_VERIFY_SCENARIO = "verify-registration"
DEMO_AUDIT_ASSIGNMENT = "Access audit: who looked where they shouldn't"
DEMO_AUDIT_SCENARIO = "audit-vip-snooping"
DEMO_ACCOUNTS = (
    ("instructor", "Dr. Morgan Reyes", "instructor"),
    ("student", "Sam Student", "student"),
    ("student2", "Alex Learner", "student"),
)


@dataclass
class DemoReport:
    new_passwords: dict[str, str] = field(default_factory=dict)
    existing: list[str] = field(default_factory=list)

    def text(self, settings: Settings) -> str:
        lines = [f"hitsim demo — data in {settings.data_dir}", f"Open http://{settings.host}:{settings.port}/"]
        if self.new_passwords:
            lines.append("Demo accounts (passwords are shown this once; write them down):")
            lines += [f"  {u:<11} password: {p}" for u, p in self.new_passwords.items()]
        if self.existing:
            lines.append(f"Existing demo accounts kept: {', '.join(self.existing)} "
                         "(their passwords were printed on the first run; `hitsim reset-password USER` sets a new one).")
        return "\n".join(lines)


def seed_demo(store: Store, *, now: dt.datetime | None = None) -> DemoReport:
    """Create what is missing of the demo; never touches what already exists."""
    report = DemoReport()
    users = {}
    for username, name, role in DEMO_ACCOUNTS:
        with store.session() as s:
            existing = repo.get_user_by_username(s, username=username)
            if existing is not None:
                users[username] = accounts.SignedInUser(existing.id, existing.username, existing.display_name,
                                                        existing.role)
                report.existing.append(username)
                continue
        password = secrets.token_urlsafe(12)
        users[username] = accounts.create_account(store, username=username, display_name=name, role=role,
                                                  password=password)
        report.new_passwords[username] = password
    instructor = users["instructor"]
    with store.session() as s:
        school_class = repo.find_class(s, name=DEMO_CLASS, instructor_id=instructor.id)
        if school_class is None:
            school_class = repo.create_class(s, name=DEMO_CLASS, term="Fall 2026", instructor_id=instructor.id)
        for username in ("student", "student2"):
            repo.enrol(s, class_id=school_class.id, user_id=users[username].id)
        class_id = school_class.id
    due = ((now or dt.datetime.now(dt.UTC)) + dt.timedelta(days=14)).replace(hour=23, minute=59, second=0, microsecond=0)
    for title, scenario in ((DEMO_ASSIGNMENT, DEMO_SCENARIO), (DEMO_VERIFY_ASSIGNMENT, DEMO_VERIFY_SCENARIO),
                            (DEMO_AUDIT_ASSIGNMENT, DEMO_AUDIT_SCENARIO)):
        with store.session() as s:
            exists = repo.find_assignment(s, class_id=class_id, title=title) is not None
        if not exists:
            assignments.create_assignment(store, user=instructor, class_id=class_id, scenario=load_scenario(scenario),
                                          title=title, due_at=due, attempts_allowed=2)
    return report

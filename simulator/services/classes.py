"""Classes and their students: create a class, add students one by one or from a roster CSV, hand out passwords.

An instructor sees and changes only the classes they teach; an administrator sees every class and
every account, and can make an account an instructor.
"""

from __future__ import annotations

import csv
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from argon2 import PasswordHasher

from simulator.services import accounts
from simulator.services.accounts import SignedInUser
from simulator.services.errors import InvalidInput, NotFound, PermissionDenied
from simulator.store import Store, repo
from simulator.store.models import ROLES, SchoolClass

ROSTER_COLUMNS = ("name", "username", "email")
MAX_ROSTER_BYTES = 1024 * 1024
MAX_ROSTER_ROWS = 2000
EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
# Initial passwords are 96 random bits, which no offline guessing reaches whatever the hash costs, so
# they are hashed with a light Argon2id (a 500-student roster takes seconds, not many minutes). The
# first sign-in re-hashes the password with the full-strength parameters (accounts.authenticate).
_initial_hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


@dataclass(frozen=True)
class ClassInfo:
    class_id: int
    name: str
    term: str
    instructor: str
    students: int


@dataclass(frozen=True)
class StudentInfo:
    user_id: int
    username: str
    name: str
    email: str


@dataclass(frozen=True)
class NewPassword:
    """An initial or reset password, shown once to the instructor to hand out."""

    username: str
    name: str
    password: str


@dataclass
class RosterReport:
    created: list[NewPassword] = field(default_factory=list)
    enrolled: list[str] = field(default_factory=list)  # usernames that already had an account, now in the class
    refused: list[tuple[int, str]] = field(default_factory=list)  # (row number in the file, why)


def _require(user: SignedInUser, *roles: str) -> None:
    if user.role not in roles:
        raise PermissionDenied("This page is for instructors." if "instructor" in roles else "This page is for administrators.")


def class_for(s, user: SignedInUser, class_id: int) -> SchoolClass:  # type: ignore[no-untyped-def]
    """The class, when the user teaches it (or is an administrator)."""
    _require(user, "instructor", "admin")
    school_class = repo.get_class(s, class_id=class_id)
    if school_class is None:
        raise NotFound("No such class.")
    if user.role != "admin" and school_class.instructor_id != user.id:
        raise PermissionDenied("This class is taught by another instructor.")
    return school_class


def list_classes(store: Store, *, user: SignedInUser) -> list[ClassInfo]:
    _require(user, "instructor", "admin")
    with store.session() as s:
        rows = repo.all_classes(s) if user.role == "admin" else repo.classes_taught_by(s, instructor_id=user.id)
        return [ClassInfo(c.id, c.name, c.term, c.instructor.display_name, repo.class_size(s, class_id=c.id))
                for c in rows]


def get_class(store: Store, *, user: SignedInUser, class_id: int) -> ClassInfo:
    with store.session() as s:
        c = class_for(s, user, class_id)
        return ClassInfo(c.id, c.name, c.term, c.instructor.display_name, repo.class_size(s, class_id=c.id))


def create_class(store: Store, *, user: SignedInUser, name: str, term: str = "",
                 instructor_username: str | None = None) -> int:
    """A new class taught by the user (an administrator may name another instructor)."""
    _require(user, "instructor", "admin")
    if not name.strip():
        raise InvalidInput("name", "Class name: required, e.g. HIT 101 - Health Data Management")
    if len(name) > 200 or len(term) > 64:
        raise InvalidInput("name" if len(name) > 200 else "term", "Too long: at most 200 characters for the name, 64 for the term")
    with store.session() as s:
        instructor_id = user.id
        if user.role == "admin" and instructor_username:
            teacher = repo.get_user_by_username(s, username=instructor_username.strip())
            if teacher is None or teacher.role != "instructor":
                raise InvalidInput("instructor", f"Instructor: {instructor_username!r} is not an instructor's username")
            instructor_id = teacher.id
        if repo.find_class(s, name=name.strip(), instructor_id=instructor_id) is not None:
            raise InvalidInput("name", f"Class name: {name.strip()!r} exists already")
        return repo.create_class(s, name=name.strip(), term=term.strip(), instructor_id=instructor_id).id


def students(store: Store, *, user: SignedInUser, class_id: int) -> list[StudentInfo]:
    with store.session() as s:
        class_for(s, user, class_id)
        return [StudentInfo(u.id, u.username, u.display_name, u.email) for u in repo.students_of(s, class_id=class_id)]


def new_password() -> str:
    """A password to hand out: 16 random URL-safe characters."""
    return secrets.token_urlsafe(12)


def _check_student(name: str, username: str, email: str) -> tuple[str, str] | None:
    """The field and why this student cannot be added, or None."""
    if not name.strip():
        return "name", "empty name"
    if len(name.strip()) > 200:
        return "name", "name longer than 200 characters"
    if not accounts.USERNAME.match(username):
        return "username", f"username {username!r}: use 2-63 lowercase letters, digits, dots, dashes or underscores"
    if email and (len(email) > 254 or not EMAIL.match(email)):
        return "email", f"email {email!r} is not an e-mail address"
    return None


def add_student(store: Store, *, user: SignedInUser, class_id: int, name: str, username: str,
                email: str = "") -> NewPassword | None:
    """Enrol one student: a new account with an initial password (returned), or an existing student account (None)."""
    username, email = username.strip().lower(), email.strip()
    problem = _check_student(name, username, email)
    if problem:
        raise InvalidInput(problem[0], problem[1][0].upper() + problem[1][1:])
    report = _enrol_rows(store, user, class_id, [(1, name.strip(), username, email)])
    if report.refused:
        raise InvalidInput("username", report.refused[0][1][0].upper() + report.refused[0][1][1:])
    return report.created[0] if report.created else None


def _decode_lines(content: bytes) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The file's lines as text, numbered from 1, and the lines that are not UTF-8."""
    good, bad = [], []
    for number, raw in enumerate(content.removeprefix(b"\xef\xbb\xbf").splitlines(), start=1):
        try:
            good.append((number, raw.decode("utf-8")))
        except UnicodeDecodeError as exc:
            bad.append((number, f"not UTF-8 text (byte {exc.start + 1}); save the roster as \"CSV UTF-8\""))
    return good, bad


def read_roster(content: bytes) -> tuple[list[tuple[int, str, str, str]], list[tuple[int, str]]]:
    """The roster's rows (row number, name, username, email) and the rows refused while reading, with why."""
    if len(content) > MAX_ROSTER_BYTES:
        return [], [(0, f"the file is larger than {MAX_ROSTER_BYTES // 1024} KB; split the roster")]
    lines, refused = _decode_lines(content)
    lines = [(n, line) for n, line in lines if line.strip()]
    if not lines:
        return [], refused or [(0, "the file is empty; expected a header line: name,username,email")]
    header_number, header_line = lines[0]
    header = [h.strip().lower() for h in next(csv.reader([header_line]))]
    missing = [c for c in ROSTER_COLUMNS if c not in header]
    if missing:
        why = (f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; expected a header line "
               f"name,username,email (found: {', '.join(header)})")
        return [], refused + [(header_number, why)] + [(n, "not read: the header is missing a column") for n, _ in lines[1:]]
    where = {c: header.index(c) for c in ROSTER_COLUMNS}
    rows: list[tuple[int, str, str, str]] = []
    if len(lines) - 1 > MAX_ROSTER_ROWS:
        return [], refused + [(0, f"more than {MAX_ROSTER_ROWS} students; split the roster")]
    for number, line in lines[1:]:
        cells = next(csv.reader([line]))
        if len(cells) < len(header):
            absent = [c for c in ROSTER_COLUMNS if where[c] >= len(cells)]
            refused.append((number, f"missing value for {', '.join(absent)}"))
            continue
        name, username, email = (cells[where[c]].strip() for c in ROSTER_COLUMNS)
        username = username.lower()
        problem = _check_student(name, username, email)
        if problem:
            refused.append((number, problem[1]))
            continue
        rows.append((number, name, username, email))
    seen: dict[str, int] = {}
    unique = []
    for row in rows:
        if row[2] in seen:
            refused.append((row[0], f"duplicate username {row[2]!r} (also on row {seen[row[2]]})"))
        else:
            seen[row[2]] = row[0]
            unique.append(row)
    refused.sort()
    return unique, refused


def import_roster(store: Store, *, user: SignedInUser, class_id: int, content: bytes,
                  progress: Callable[[int, int], None] | None = None) -> RosterReport:
    """Enrol every good row of a roster CSV (columns name, username, email); report each refused row and why.

    A username that already belongs to a student is enrolled, not created again; importing the same
    file twice creates nobody twice.
    """
    with store.session() as s:
        class_for(s, user, class_id)
    rows, refused = read_roster(content)
    report = _enrol_rows(store, user, class_id, rows, progress)
    report.refused = sorted(refused + report.refused)
    return report


def _enrol_rows(store: Store, user: SignedInUser, class_id: int, rows: list[tuple[int, str, str, str]],
                progress: Callable[[int, int], None] | None = None) -> RosterReport:
    report = RosterReport()
    with store.session() as s:
        class_for(s, user, class_id)
        existing = {u: repo.get_user_by_username(s, username=u)
                    for u in repo.usernames_taken(s, usernames=[r[2] for r in rows])}
    to_create = []
    for number, name, username, email in rows:
        account = existing.get(username)
        if account is None:
            to_create.append((number, name, username, email))
        elif account.role != "student":
            report.refused.append((number, f"username {username!r} belongs to an instructor or administrator"))
        else:
            report.enrolled.append(username)
    hashes = []
    for i, (_, name, username, email) in enumerate(to_create, start=1):  # hashing is the slow part: outside the transaction
        password = new_password()
        hashes.append((name, username, email, password, _initial_hasher.hash(password)))
        if progress:
            progress(i, len(to_create))
    with store.session() as s:
        class_for(s, user, class_id)
        taken = repo.usernames_taken(s, usernames=[h[1] for h in hashes])
        for name, username, email, password, password_hash in hashes:
            if username in taken:  # created by someone else meanwhile: enrol, never create twice
                report.enrolled.append(username)
                continue
            created = repo.create_user(s, username=username, display_name=name, role="student", password_hash=password_hash)
            repo.set_email(s, user_id=created.id, email=email)
            repo.enrol(s, class_id=class_id, user_id=created.id)
            report.created.append(NewPassword(username, name, password))
        for username in report.enrolled:
            account = repo.get_user_by_username(s, username=username)
            if account is not None:
                repo.enrol(s, class_id=class_id, user_id=account.id)
    return report


def reset_student_password(store: Store, *, user: SignedInUser, class_id: int, student_id: int) -> NewPassword:
    """A new password for a student of the instructor's class (the accounts service ends their sessions)."""
    with store.session() as s:
        class_for(s, user, class_id)
        student = repo.get_user(s, user_id=student_id)
        if student is None or student.role != "student" or not repo.is_enrolled(s, class_id=class_id, user_id=student_id):
            raise NotFound("No such student in this class.")
        username, name = student.username, student.display_name
    password = new_password()
    accounts.reset_password(store, username=username, password=password)
    return NewPassword(username, name, password)


# ------------------------------------------------------------------------------------------ administrators
@dataclass(frozen=True)
class AccountInfo:
    user_id: int
    username: str
    name: str
    role: str
    email: str
    active: bool


def list_accounts(store: Store, *, user: SignedInUser) -> list[AccountInfo]:
    _require(user, "admin")
    with store.session() as s:
        return [AccountInfo(u.id, u.username, u.display_name, u.role, u.email, u.active) for u in repo.all_users(s)]


def create_account(store: Store, *, user: SignedInUser, name: str, username: str, role: str,
                   email: str = "") -> NewPassword:
    """An administrator creates any account; the initial password is returned once."""
    _require(user, "admin")
    email = email.strip()
    if email and not EMAIL.match(email):
        raise InvalidInput("email", f"E-mail: {email!r} is not an e-mail address")
    password = new_password()
    created = accounts.create_account(store, username=username, display_name=name, role=role, password=password)
    with store.session() as s:
        repo.set_email(s, user_id=created.id, email=email)
    return NewPassword(created.username, created.display_name, password)


def set_role(store: Store, *, user: SignedInUser, user_id: int, role: str) -> None:
    """An administrator makes an account a student, an instructor or an administrator."""
    _require(user, "admin")
    if role not in ROLES:
        raise InvalidInput("role", f"Role: one of {', '.join(ROLES)}")
    if user_id == user.id and role != "admin":
        raise InvalidInput("role", "Role: you cannot take away your own administrator role")
    with store.session() as s:
        if repo.get_user(s, user_id=user_id) is None:
            raise NotFound("No such account.")
        repo.set_role(s, user_id=user_id, role=role)

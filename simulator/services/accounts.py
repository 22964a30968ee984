"""Accounts: passwords hashed with Argon2id, sign-in (throttled), sessions, and the signed-in user passed to
every service call.

A session is valid while its account is active and its epoch is the account's current one: signing out,
deactivating an account or resetting its password raises the epoch, which ends every session of the
account at once, open tabs included (``require_live_session``, called by every service's access check).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from simulator.services.errors import InvalidInput, PermissionDenied, ServiceError
from simulator.store import Store, repo
from simulator.store.models import ROLES

log = logging.getLogger("hitsim.auth")

_hasher = PasswordHasher()
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
MIN_PASSWORD = 10


@dataclass(frozen=True)
class SignedInUser:
    """Who is signed in: kept in the browser session, re-checked against the database by each service.

    ``epoch`` is the account's session epoch when the session began; None for the command line, which acts
    with the database's own authority and has no session to end."""

    id: int
    username: str
    display_name: str
    role: str
    epoch: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignedInUser:
        return cls(id=int(data["id"]), username=str(data["username"]), display_name=str(data["display_name"]),
                   role=str(data["role"]), epoch=int(data["epoch"]))


class SignedOut(PermissionDenied):
    """The session was ended (sign-out, deactivation, password reset) or the account is gone."""

    def __init__(self) -> None:
        super().__init__("You were signed out. Sign in again to continue; everything saved so far is kept.")


class SignInThrottled(ServiceError):
    """Too many wrong passwords for this account or from this address: wait before the next try."""

    def __init__(self, seconds: int):
        super().__init__(f"Too many sign-in attempts. Wait {seconds} second{'s' if seconds != 1 else ''} and try again.")
        self.seconds = seconds


def _signed_in(user: Any) -> SignedInUser:
    return SignedInUser(user.id, user.username, user.display_name, user.role, user.session_epoch)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_account(store: Store, *, username: str, display_name: str, role: str, password: str) -> SignedInUser:
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise InvalidInput("username", "Username: use 2-63 lowercase letters, digits, dots, dashes or underscores")
    if role not in ROLES:
        raise InvalidInput("role", f"Role: expected one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("password", f"Password: at least {MIN_PASSWORD} characters")
    if not display_name.strip():
        raise InvalidInput("display_name", "Name: required")
    with store.session() as s:
        if repo.get_user_by_username(s, username=username) is not None:
            raise InvalidInput("username", f"Username: {username!r} is already taken")
        user = repo.create_user(s, username=username, display_name=display_name.strip(), role=role,
                                password_hash=hash_password(password))
        return _signed_in(user)


class SignInThrottle:
    """Wrong passwords per account and per network address, with a delay that doubles after each one past
    a free allowance (1 s, 2 s, 4 s … up to 15 minutes). A try during the delay is refused without checking the
    password. Kept in this process's memory: several app processes each keep their own count."""

    FREE = {"account": 5, "address": 30}  # an address is shared by a whole computer lab behind one NAT
    MAX_DELAY = 15 * 60
    FORGET_AFTER = 24 * 3600

    def __init__(self) -> None:
        self._failures: dict[tuple[str, str], tuple[int, float]] = {}
        self._lock = threading.Lock()

    def wait(self, keys: list[tuple[str, str]], now: float | None = None) -> int:
        """Seconds to wait before the next try (0: go ahead)."""
        now = time.time() if now is None else now
        with self._lock:
            waits = [0.0]
            for key in keys:
                count, last = self._failures.get(key, (0, 0.0))
                excess = count - self.FREE[key[0]]
                if excess >= 0:
                    waits.append(last + min(self.MAX_DELAY, 2.0 ** excess) - now)
            return int(max(waits) + 0.999)

    def failed(self, keys: list[tuple[str, str]], now: float | None = None) -> int:
        now = time.time() if now is None else now
        with self._lock:
            if len(self._failures) > 50_000:
                self._failures = {k: v for k, v in self._failures.items() if now - v[1] < self.FORGET_AFTER}
            counts = []
            for key in keys:
                count, last = self._failures.get(key, (0, 0.0))
                count = 1 if now - last > self.FORGET_AFTER else count + 1
                self._failures[key] = (count, now)
                counts.append(count)
            return max(counts)

    def succeeded(self, account_key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(account_key, None)


throttle = SignInThrottle()


def authenticate(store: Store, *, username: str, password: str, address: str = "") -> SignedInUser | None:
    """The user when the password matches an active account, else None (the same answer for every failure).

    Raises SignInThrottled while the account or the address must wait. Slow on purpose (Argon2): the web
    app calls it off the event loop."""
    name = username.strip().lower()[:64]
    keys = [("account", name)] + ([("address", address)] if address else [])
    wait = throttle.wait(keys)
    if wait > 0:
        log.warning("sign-in refused for %r from %s: throttled for %d s more", name, address or "?", wait)
        raise SignInThrottled(wait)
    user = _check_password(store, name, password)
    if user is None:
        count = throttle.failed(keys)
        log.warning("failed sign-in for %r from %s (%d in a row)", name, address or "?", count)
        return None
    throttle.succeeded(("account", name))
    log.info("signed in: %r from %s", name, address or "?")
    return user


def _check_password(store: Store, username: str, password: str) -> SignedInUser | None:
    with store.session() as s:
        user = repo.get_user_by_username(s, username=username)
        if user is None or not user.active:
            _hasher.hash(password)  # spend the same time as a real check: no username probing by timing
            return None
        try:
            _hasher.verify(user.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            repo.set_password_hash(s, user_id=user.id, password_hash=hash_password(password))
        return _signed_in(user)


def _may_manage(s: Any, by: SignedInUser | None, account: Any) -> None:
    """``by`` (None: the command line) may reset or deactivate ``account``: an administrator any account, an
    instructor the students of their own classes."""
    if by is None:
        return
    require_live_session(s, by)
    if by.role == "admin":
        return
    if by.role == "instructor" and account.role == "student" and any(
            repo.is_enrolled(s, class_id=c.id, user_id=account.id) for c in repo.classes_taught_by(s, instructor_id=by.id)):
        return
    raise PermissionDenied("You can manage only the accounts of students in your classes.")


def reset_password(store: Store, *, username: str, password: str, by: SignedInUser | None = None) -> None:
    """A new password; every session of the account ends (whoever had it signed in must sign in again).
    ``by``: who asks, from the web app (checked); None for the command line."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("password", f"Password: at least {MIN_PASSWORD} characters")
    with store.session() as s:
        user = repo.get_user_by_username(s, username=username)
        if user is None:
            raise InvalidInput("username", f"Username: no account {username!r}")
        _may_manage(s, by, user)
        repo.set_password_hash(s, user_id=user.id, password_hash=hash_password(password))
        repo.end_sessions(s, user_id=user.id)
    throttle.succeeded(("account", username.strip().lower()))
    log.info("password reset for %r; its sessions were ended", username)


def set_account_active(store: Store, *, username: str, active: bool, by: SignedInUser | None = None) -> None:
    """Deactivate (or reactivate) an account; deactivating ends every session of it at once."""
    with store.session() as s:
        user = repo.get_user_by_username(s, username=username)
        if user is None:
            raise InvalidInput("username", f"Username: no account {username!r}")
        _may_manage(s, by, user)
        repo.set_active(s, user_id=user.id, active=active)
        if not active:
            repo.end_sessions(s, user_id=user.id)


def sign_out(store: Store, *, user: SignedInUser) -> None:
    """End every session of the account: this tab, other tabs and other computers."""
    with store.session() as s:
        repo.end_sessions(s, user_id=user.id)
    log.info("signed out: %r", user.username)


def require_live_session(s: Any, user: SignedInUser) -> None:
    """Raise SignedOut unless the user's session is still valid (inside the caller's database session)."""
    if user.epoch is None:
        return  # the command line: no session
    row = repo.get_user(s, user_id=user.id)
    if row is None or not row.active or row.session_epoch != user.epoch:
        raise SignedOut()


def session_is_live(store: Store, *, user: SignedInUser) -> bool:
    with store.session() as s:
        try:
            require_live_session(s, user)
        except SignedOut:
            return False
        return True


def current_user(store: Store, *, session_user: SignedInUser) -> SignedInUser:
    """Re-read the account: a deactivated or deleted account loses access at once."""
    with store.session() as s:
        user = repo.get_user(s, user_id=session_user.id)
        if user is None or not user.active:
            raise PermissionDenied("Your account is no longer active. Ask your instructor.")
        return _signed_in(user)

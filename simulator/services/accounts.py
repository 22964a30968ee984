"""Accounts: passwords hashed with Argon2id, sign-in, and the signed-in user passed to every service call."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from simulator.services.errors import InvalidInput
from simulator.store import Store, repo
from simulator.store.models import ROLES

_hasher = PasswordHasher()
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
MIN_PASSWORD = 10


@dataclass(frozen=True)
class SignedInUser:
    """Who is signed in: kept in the browser session, re-checked against the database by each service."""

    id: int
    username: str
    display_name: str
    role: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignedInUser:
        return cls(id=int(data["id"]), username=str(data["username"]), display_name=str(data["display_name"]),
                   role=str(data["role"]))


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
        return SignedInUser(user.id, user.username, user.display_name, user.role)


def authenticate(store: Store, *, username: str, password: str) -> SignedInUser | None:
    """The user when the password matches an active account, else None (the same answer for every failure)."""
    with store.session() as s:
        user = repo.get_user_by_username(s, username=username.strip())
        if user is None or not user.active:
            _hasher.hash(password)  # spend the same time as a real check: no username probing by timing
            return None
        try:
            _hasher.verify(user.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            repo.set_password_hash(s, user_id=user.id, password_hash=hash_password(password))
        return SignedInUser(user.id, user.username, user.display_name, user.role)


def reset_password(store: Store, *, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("password", f"Password: at least {MIN_PASSWORD} characters")
    with store.session() as s:
        user = repo.get_user_by_username(s, username=username)
        if user is None:
            raise InvalidInput("username", f"Username: no account {username!r}")
        repo.set_password_hash(s, user_id=user.id, password_hash=hash_password(password))


def current_user(store: Store, *, session_user: SignedInUser) -> SignedInUser:
    """Re-read the account: a deactivated or deleted account loses access at once."""
    from simulator.services.errors import PermissionDenied

    with store.session() as s:
        user = repo.get_user(s, user_id=session_user.id)
        if user is None or not user.active:
            raise PermissionDenied("Your account is no longer active. Ask your instructor.")
        return SignedInUser(user.id, user.username, user.display_name, user.role)

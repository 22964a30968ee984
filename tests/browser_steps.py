"""What every Chromium test does the same way: launch Debian's chromium, sign in, start an assignment from its card."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason="browser tests need Debian's chromium (apt-get install -y chromium); .ci/run installs it"),
]


def launch(p):  # type: ignore[no-untyped-def]
    return p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                                                             "--disable-background-networking", "--no-first-run"])


def sign_in(page, base: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    """Sign in from the sign-in page by keyboard (Enter in the password field), as most students do."""
    page.goto(base + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")


def start_from_card(page, title: str) -> None:  # type: ignore[no-untyped-def]
    """Start a fresh assignment from its card on the student's start page: starting an attempt asks first."""
    page.locator(".q-card", has_text=title).get_by_role("button", name="Start", exact=True).click()
    page.get_by_role("button", name="Start attempt 1").click()

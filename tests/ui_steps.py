"""Steps a student takes in several UI tests (NiceGUI `User` fixture)."""

from __future__ import annotations

from nicegui.testing import User


async def open_or_start(user: User, marker: str) -> None:
    """Click an assignment's button: it continues (or reviews) an attempt, or starts one, which asks first."""
    button = list(user.find(marker=marker).elements)[0]
    user.find(marker=marker).click()
    if button.text.startswith("Start"):
        await user.should_see(marker="confirm-start")
        user.find(marker="confirm-start").click()

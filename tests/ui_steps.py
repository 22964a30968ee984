"""Steps a student takes in several UI tests (NiceGUI `User` fixture)."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User
from nicegui.testing.user_interaction import UserInteraction


async def open_or_start(user: User, marker: str) -> None:
    """Click an assignment's button: it continues (or reviews) an attempt, or starts one, which asks first."""
    button = list(user.find(marker=marker).elements)[0]
    user.find(marker=marker).click()
    if button.text.startswith("Start"):
        await user.should_see(marker="confirm-start")
        confirm_in_open_dialog(user, "confirm-start")


def confirm_in_open_dialog(user: User, marker: str) -> None:
    """Click the button of the dialog that is open, as a person can.

    Every row of the assignment list has its own (closed) start dialog, and the simulated user finds the
    buttons of closed dialogs too: clicking them all would start every assignment and land on whichever
    navigated last."""
    shown = [b for b in user.find(marker=marker).elements
             if all(d.value for d in b.ancestors() if isinstance(d, ui.dialog))]
    assert len(shown) == 1, f"{marker}: {len(shown)} buttons in open dialogs"
    UserInteraction(user, set(shown), None).click()

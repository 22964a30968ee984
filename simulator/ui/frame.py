"""One page frame for every page: header, navigation, who is signed in, and the shared styles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from nicegui import app, ui

from simulator.chart.render import CHART_CSS
from simulator.services.accounts import SignedInUser

BRAND = "#14532d"
STYLES = """
body { background: #f4f5f2; }
.hitsim-page { max-width: 1280px; margin: 0 auto; width: 100%; }
.hitsim-page.wide { max-width: none; }
.hitsim-entry-row { border-bottom: 1px solid #e3e5e0; padding: 8px 0 0; }
.hitsim-card-title { font-weight: 600; font-size: 1.1rem; }
.hitsim-muted { color: #5f6360; }
.hitsim-chart-paper { width: 100%; max-width: 1100px; background: #fffef9; border: 1px solid #d8d6c8; box-shadow: 0 1px 3px rgba(0,0,0,.08);
  padding: 18px 26px; }
""" + CHART_CSS


def signed_in_user() -> SignedInUser | None:
    """The account of this page's session; the middleware and the services check on every call that it is live.

    It is read from the signed cookie while the page is built and kept with the page, so the page's event
    handlers (a button's click) get the same account: they run outside the request that built the page."""
    from simulator.ui.pages import session_user

    kept = app.storage.client.get("account")
    if isinstance(kept, SignedInUser):
        return kept
    user = session_user(app.storage.browser)
    if user is not None:
        app.storage.client["account"] = user
    return user


_sign_out_handler: list[Callable[[SignedInUser], None]] = []


def on_sign_out(handler: Callable[[SignedInUser], None]) -> None:
    """What signing out does (ends every session of the account); set once by the pages."""
    _sign_out_handler[:] = [handler]


def sign_out(user: SignedInUser) -> None:
    """End the account's sessions (from a click, never from a GET), then go to the sign-in page."""
    for handler in _sign_out_handler:
        handler(user)
    ui.navigate.to("/login")


@contextmanager
def frame(title: str, wide: bool = False) -> Iterator[None]:
    ui.add_css(STYLES)
    ui.colors(primary=BRAND)
    ui.page_title(f"{title} · hitsim")
    user = signed_in_user()
    with ui.header().classes("items-center justify-between px-6 py-2").style(f"background:{BRAND}"):
        with ui.row().classes("items-center gap-3"):
            ui.icon("local_hospital", size="28px")
            ui.link("hitsim", "/").classes("text-xl font-bold text-white no-underline")
            ui.label("health information training simulator").classes("text-sm opacity-80 max-sm:hidden")
        if user is not None:
            with ui.row().classes("items-center gap-4"):
                ui.link("Assignments" if user.role == "student" else "Classes", "/").classes(
                    "text-white no-underline").mark("nav-home")
                if user.role in ("instructor", "admin"):
                    ui.link("Scenario library", "/library").classes("text-white no-underline").mark("nav-library")
                if user.role == "admin":
                    ui.link("Administration", "/admin").classes("text-white no-underline").mark("nav-admin")
                ui.label(f"{user.display_name} · {user.role}").classes("text-sm").mark("signed-in-as")
                ui.button("Sign out", icon="logout", on_click=lambda: sign_out(user)).props(
                    "flat color=white dense no-caps").mark("logout")
    with ui.column().classes("hitsim-page p-6 gap-4" + (" wide" if wide else "")):
        ui.label(title).classes("text-2xl font-semibold").mark("page-title")
        yield

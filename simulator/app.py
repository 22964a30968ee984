"""Wiring: the one module that assembles the web app from settings and a store."""

from __future__ import annotations

from nicegui import app, run, ui
from nicegui.storage import Storage

from simulator.config import Settings
from simulator.services.coding import encoder_at
from simulator.store import Store
from simulator.ui.instructor import register_instructor_pages
from simulator.ui.pages import SESSION_HOURS, AuthMiddleware, register_pages


def build_app(store: Store, settings: Settings) -> None:
    app.add_middleware(AuthMiddleware, store=store)
    register_pages(store, lambda: encoder_at(settings.encoder_path))
    register_instructor_pages(store)


def run_app(settings: Settings, store: Store) -> None:
    # NiceGUI's server-side storage goes in the data directory (owner-only), not the directory the app started in.
    settings.session_storage.mkdir(mode=0o700, exist_ok=True)
    Storage.path = settings.session_storage
    build_app(store, settings)
    # The session cookie lives as long as a session (12 hours), is HTTPS-only when served over TLS, and is not sent
    # with cross-site subrequests.
    cookie = {"max_age": SESSION_HOURS * 3600, "https_only": settings.secure_cookies, "same_site": "lax"}
    # Worker processes (generating a class's charts) start fresh: a forked worker would inherit the
    # server's open sockets and keep browsers' closed keep-alive connections half-alive (pages hang).
    run.process_pool_start_method = "spawn"
    ui.run(host=settings.host, port=settings.port, title="hitsim", storage_secret=settings.storage_secret,
           session_middleware_kwargs=cookie, reload=False, show=False, favicon="🩺")

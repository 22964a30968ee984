"""Wiring: the one module that assembles the web app from settings and a store."""

from __future__ import annotations

from nicegui import app, run, ui

from simulator.config import Settings
from simulator.services.coding import encoder_at
from simulator.store import Store
from simulator.ui.instructor import register_instructor_pages
from simulator.ui.pages import AuthMiddleware, register_pages


def build_app(store: Store, settings: Settings) -> None:
    app.add_middleware(AuthMiddleware)
    register_pages(store, lambda: encoder_at(settings.encoder_path))
    register_instructor_pages(store)


def run_app(settings: Settings, store: Store) -> None:
    build_app(store, settings)
    # Worker processes (generating a class's charts) start fresh: a forked worker would inherit the
    # server's open sockets and keep browsers' closed keep-alive connections half-alive (pages hang).
    run.process_pool_start_method = "spawn"
    ui.run(host=settings.host, port=settings.port, title="hitsim", storage_secret=settings.storage_secret,
           reload=False, show=False, favicon="🩺")

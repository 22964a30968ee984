"""The instructor's and administrator's pages: library, classes, assignments, gradebook, admin."""

from __future__ import annotations

from simulator.store import Store
from simulator.ui.classes import register_class_pages
from simulator.ui.gradebook import register_gradebook_pages
from simulator.ui.library import register_library_pages


def register_instructor_pages(store: Store) -> None:
    register_library_pages(store)
    register_class_pages(store)
    register_gradebook_pages(store)

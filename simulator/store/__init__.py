"""The store: SQLAlchemy models, migrations and the data functions services call."""

from simulator.store.db import Store, StoreError, migrate, open_store

__all__ = ["Store", "StoreError", "migrate", "open_store"]

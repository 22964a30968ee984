"""Data functions of the access-audit trail: append one chained row, read the chain in order.

Only ``append_audit_event`` writes, and it only inserts. Concurrent writers cannot fork the chain:
``seq`` and ``hash`` are unique, so of two writers that read the same head one fails to insert and
tries again on the new head (PostgreSQL additionally serialises writers with an advisory lock).
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from simulator.store.db import Store
from simulator.store.models import AuditEventRow

GENESIS = "0" * 64  # the "previous hash" of the first event
_PG_LOCK_KEY = 0x41554449  # "AUDI": one advisory lock for the one chain
_ATTEMPTS = 200


@dataclass(frozen=True)
class ChainRow:
    seq: int
    recorded_at: dt.datetime
    content: str
    prev_hash: str
    hash: str


def append_audit_event(store: Store, *, recorded_at: dt.datetime, content: str,
                       link: Callable[[int, str, str], str]) -> ChainRow:
    """Insert ``content`` as the next event of the chain; ``link(seq, prev_hash, content)`` gives its hash.

    Runs in its own transaction and retries when another writer took the same place in the chain.
    """
    for attempt in range(_ATTEMPTS):
        try:
            with store.session() as s:
                if s.get_bind().dialect.name == "postgresql":
                    s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
                head = s.execute(select(AuditEventRow.seq, AuditEventRow.hash)
                                 .order_by(AuditEventRow.seq.desc()).limit(1)).first()
                seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
                digest = link(seq, prev, content)
                s.add(AuditEventRow(seq=seq, recorded_at=recorded_at, content=content, prev_hash=prev, hash=digest))
                s.flush()
            return ChainRow(seq, recorded_at, content, prev, digest)
        except (IntegrityError, OperationalError):
            # Another writer appended first (unique seq), or SQLite's write lock was busy: read the new head.
            time.sleep(random.uniform(0.001, 0.01) * min(attempt + 1, 10))
    raise RuntimeError(f"could not append to the audit trail after {_ATTEMPTS} tries")


def audit_chain(store: Store, *, since: dt.datetime | None = None, batch: int = 2000) -> Iterator[ChainRow]:
    """Every event in chain order (by ``seq``), read in batches so a long trail never sits in memory at once."""
    last = 0
    while True:
        with store.session() as s:
            query = select(AuditEventRow).where(AuditEventRow.seq > last).order_by(AuditEventRow.seq).limit(batch)
            if since is not None:
                query = query.where(AuditEventRow.recorded_at >= since)
            rows = [ChainRow(r.seq, r.recorded_at, r.content, r.prev_hash, r.hash) for r in s.scalars(query)]
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def audit_event_count(store: Store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(AuditEventRow)) or 0


def has_audit_table(store: Store) -> bool:
    from simulator.store.db import schema_tables

    return "audit_events" in schema_tables(store.engine)

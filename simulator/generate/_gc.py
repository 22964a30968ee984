"""Building a large chart without pauses of Python's cyclic garbage collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector while a key or record is built: it allocates many small dicts and lists (no
    cycles worth collecting), and with a 600-visit record alive each collection rescanned it — about half of the
    build time. Reference counting still frees everything; the collector resumes when the block ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

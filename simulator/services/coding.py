"""The encoder for the app and the command line: one index per data directory, built on first use."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from simulator.coding.encoder import Encoder


@cache
def encoder_at(path: Path) -> Encoder:
    """The encoder over the index at ``path``, built there first if it is missing (a few seconds, once)."""
    return Encoder(path)

"""The encoder for the app and the command line: one index per data directory, built on first use."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from simulator.coding.encoder import Encoder, default_path


@cache
def encoder_at(path: Path) -> Encoder:
    return Encoder(path)


def encoder_for(data_dir: Path) -> Encoder:
    return encoder_at(default_path(data_dir))

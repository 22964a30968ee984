"""Optimal one-to-one matching (the Hungarian algorithm): order of entry never matters."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

A = TypeVar("A")
B = TypeVar("B")


def _hungarian(cost: list[list[float]]) -> list[tuple[int, int]]:
    """Minimum-cost assignment for an n x m matrix with n <= m (Kuhn-Munkres with potentials)."""
    n, m = len(cost), len(cost[0])
    u = [0.0] * (n + 1)
    v = [0.0] * (m + 1)
    p = [0] * (m + 1)
    way = [0] * (m + 1)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = [math.inf] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = p[j0], math.inf, 0
            row = cost[i0 - 1]
            for j in range(1, m + 1):
                if not used[j]:
                    cur = row[j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    return [(p[j] - 1, j - 1) for j in range(1, m + 1) if p[j]]


def best_pairs(left: Sequence[A], right: Sequence[B], similarity: Callable[[A, B], float | None]
               ) -> list[tuple[int, int, float]]:
    """Pairs (i, j, similarity) maximising total similarity; None means the two may not be paired."""
    if not left or not right:
        return []
    if len(left) == 1 and len(right) == 1:  # the usual case once items are blocked by what identifies them
        only = similarity(left[0], right[0])
        return [] if only is None else [(0, 0, only)]
    sims = [[similarity(a, b) for b in right] for a in left]
    # Pairing is always worth more than leaving both unpaired, so any allowed pair beats none.
    blocked = 10.0
    cost = [[blocked if s is None else 1.0 - s for s in row] for row in sims]
    transposed = len(left) > len(right)
    if transposed:
        cost = [list(col) for col in zip(*cost, strict=True)]
    pairs = _hungarian(cost)
    if transposed:
        pairs = [(i, j) for j, i in pairs]
    return sorted((i, j, sims[i][j]) for i, j in pairs if sims[i][j] is not None)  # type: ignore[misc]

"""Seeded, keyed randomness: every draw is a pure function of (seed, what it is for).

A draw is keyed by the entity and event it decides (`"backup-jitter", vm, day`), not taken from one
shared stream, so adding a VM to an estate does not reshuffle the draws of the others, and the same
seed always gives the same world whatever order the engine asks in.
"""

from __future__ import annotations

import hashlib
from typing import Protocol


class Sampler(Protocol):
    """A catalog distribution: maps a uniform draw in [0, 1) to a value (inverse CDF)."""

    def sample(self, u: float) -> float: ...


_blake2b = hashlib.blake2b
_from_bytes = int.from_bytes
_2_POW_MINUS_53 = 2.0**-53


class Draws:
    """Deterministic draws derived from one world seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._prefix = f"drsim-sim/{seed}/"
        # The hash state after the prefix: each draw copies it and hashes its key alone (the same digest
        # as hashing prefix + key, without hashing the prefix again).
        self._keyed = _blake2b(self._prefix.encode(), digest_size=8)

    def unit(self, *key: object) -> float:
        """A uniform number in [0, 1) for this key."""
        return self.unit_of("/".join(map(str, key)))

    def unit_of(self, key: str) -> float:
        """unit(*parts) for the key already joined with "/" (the hot paths build it with one f-string)."""
        state = self._keyed.copy()
        state.update(key.encode())
        return (_from_bytes(state.digest(), "big") >> 11) * _2_POW_MINUS_53

    @property
    def keyed_state(self) -> hashlib.blake2b:
        """The hash state after this world's prefix: a copy updated with a key's bytes gives the key's digest."""
        return self._keyed

    def sample(self, dist: Sampler, *key: object) -> float:
        """A value of a catalog distribution for this key."""
        return dist.sample(self.unit(*key))

    def chance(self, probability: float, *key: object) -> bool:
        """True with the given probability, for this key."""
        return probability > 0 and self.unit(*key) < probability

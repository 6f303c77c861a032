"""Faults of the simulated world: seeded transient failures (ARM's throttling is drsim.cloud.arm.ArmThrottle)."""

from __future__ import annotations

from drsim.cloud.sim.draws import Draws
from drsim.errors import TransientError


class FailureInjector:
    """A seeded probability that any one request fails with a retryable error."""

    def __init__(self, rate: float, draws: Draws) -> None:
        self.rate = rate
        self._draws = draws
        self._attempts: dict[tuple[str, str], int] = {}

    def check(self, operation: str, target: str) -> None:
        """Raise TransientError for this attempt when the seeded draw says so."""
        if self.rate <= 0:
            return
        attempt = self._attempts.get((operation, target), 0)
        self._attempts[(operation, target)] = attempt + 1
        if self._draws.chance(self.rate, "fault", operation, target, attempt):
            raise TransientError(f"{operation} on {target} failed transiently (injected, attempt {attempt + 1}); retry")

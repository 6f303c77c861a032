"""Fixtures of the simulated-world tests (helpers live in simworld.py)."""

from __future__ import annotations

import pytest
from simworld import make_world

from drsim.cloud.sim import SimProvider


@pytest.fixture
def world() -> SimProvider:
    """The test estate at its incident time (an outage of a region it does not use)."""
    return make_world()

"""Fixtures of the engine tests (helpers live in engine_drillkit.py)."""

from engine_drillkit import make_drill
from killkit import launcher

__all__ = ["launcher", "make_drill"]

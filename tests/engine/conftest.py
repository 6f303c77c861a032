"""Fixtures of the engine tests (helpers live in engine_drillkit.py)."""

from engine_drillkit import make_drill

__all__ = ["make_drill"]

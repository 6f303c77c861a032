"""Typed drsim documents, their loading with located problems, and the checks across documents."""

from drsim.model.checks import ComparisonBundle, DrillBundle, load_comparison, load_drill, protection_of, validate_path
from drsim.model.documents import Comparison, Drill, Estate, ProtectionPlan, Runbook
from drsim.model.loader import Loaded, load

__all__ = [
    "Comparison",
    "ComparisonBundle",
    "Drill",
    "DrillBundle",
    "Estate",
    "Loaded",
    "ProtectionPlan",
    "Runbook",
    "load",
    "load_comparison",
    "load_drill",
    "protection_of",
    "validate_path",
]

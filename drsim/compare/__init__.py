"""Compare protection plans by measured recovery times: many simulated drills per candidate, ranked by cost.

`drsim compare` runs every candidate (a plan and the runbook that recovers with it) through the same
trials (incident times drawn over a window) in the simulated world, with the same engine and
measurement as `drsim drill run`, and ranks the candidates (docs/compare.md).

The names below are imported on first use (PEP 562): a worker process that runs trials imports
`drsim.compare.trials`, which runs this file first, and should not pay for pandas frames, charts and
report templates it never uses.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drsim.compare.analysis import pareto_front, per_trial_worst, rank_candidates, summarize, trials_frame
    from drsim.compare.executors import ExecutorKind, run_outcomes
    from drsim.compare.inputs import ComparisonInputs, prepare
    from drsim.compare.outputs import write_outputs
    from drsim.compare.runner import ComparisonResult, compare, comparison_result, ranking_table, run_comparison
    from drsim.compare.trials import TrialOutcome, TrialSpec, trial_spec
    from drsim.compare.whatif import Override, parse_override

_EXPORTS = {
    "pareto_front": "analysis",
    "per_trial_worst": "analysis",
    "rank_candidates": "analysis",
    "summarize": "analysis",
    "trials_frame": "analysis",
    "ExecutorKind": "executors",
    "run_outcomes": "executors",
    "ComparisonInputs": "inputs",
    "prepare": "inputs",
    "write_outputs": "outputs",
    "ComparisonResult": "runner",
    "compare": "runner",
    "comparison_result": "runner",
    "ranking_table": "runner",
    "run_comparison": "runner",
    "TrialOutcome": "trials",
    "TrialSpec": "trials",
    "trial_spec": "trials",
    "Override": "whatif",
    "parse_override": "whatif",
}

__all__ = [
    "ComparisonInputs",
    "ComparisonResult",
    "ExecutorKind",
    "Override",
    "TrialOutcome",
    "TrialSpec",
    "compare",
    "comparison_result",
    "pareto_front",
    "parse_override",
    "per_trial_worst",
    "prepare",
    "rank_candidates",
    "ranking_table",
    "run_comparison",
    "run_outcomes",
    "summarize",
    "trial_spec",
    "trials_frame",
    "write_outputs",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next look-up finds it directly
    return value

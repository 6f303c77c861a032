"""Compare protection plans by measured recovery times: many simulated drills per candidate, ranked by cost.

`drsim compare` runs every candidate (a plan and the runbook that recovers with it) through the same
trials (incident times drawn over a window) in the simulated world, with the same engine and
measurement as `drsim drill run`, and ranks the candidates (docs/compare.md).
"""

from drsim.compare.analysis import pareto_front, per_trial_worst, rank_candidates, summarize, trials_frame
from drsim.compare.executors import ExecutorKind, run_outcomes
from drsim.compare.inputs import ComparisonInputs, prepare
from drsim.compare.outputs import write_outputs
from drsim.compare.runner import ComparisonResult, compare, comparison_result, ranking_table, run_comparison
from drsim.compare.trials import TrialOutcome, TrialSpec, trial_spec
from drsim.compare.whatif import Override, parse_override

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

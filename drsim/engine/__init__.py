"""The drill engine: one engine for every provider, on a virtual or a real clock.

`simulate_drill` (in memory, for comparisons), `run_drill` (journal and result.json, resume) and
`plan_drill` (dry run) are the entry points; see drsim.engine.run.
"""

from drsim.engine.run import DrillPlan, RunObserver, RunOutcome, plan_drill, run_drill, simulate_drill, simulate_run

__all__ = ["DrillPlan", "RunObserver", "RunOutcome", "plan_drill", "run_drill", "simulate_drill", "simulate_run"]

"""The drill engine: one engine for every provider, on a virtual or a real clock.

`drsim.engine.run.execute` runs a planned drill against any provider; `plan_drill` is the dry run.
drsim.drills wires the simulated world or Azure to them.
"""

from drsim.engine.run import DrillPlan, RunObserver, RunOutcome, RunSpec, execute, plan_drill

__all__ = ["DrillPlan", "RunObserver", "RunOutcome", "RunSpec", "execute", "plan_drill"]

"""`--model fast|engine|auto` and `--validate N`: which back end runs a comparison, and the fast model's check.

- engine: every trial through the engine (drsim.compare.executors), as before.
- fast: every trial through the fast model (drsim.compare.fast), then `validate` engine trials per
  candidate (the comparison's first ones: the same incident times) on the chosen executor, compared
  with the fast trials measure by measure (drsim.compare.fast_validate).
- auto: fast when every candidate passes drsim.compare.fast_support, else engine; the outputs name
  what the fast model does not support.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from drsim.compare.fast_support import unsupported
from drsim.compare.inputs import ComparisonInputs
from drsim.compare.trials import TrialOutcome, trial_specs, worker_documents
from drsim.errors import UsageError
from drsim.report.text import plural

if TYPE_CHECKING:
    import pandas as pd

    from drsim.compare.fast_validate import Agreement

# The fast model (drsim.compare.fast, which imports the engine) and its check (fast_validate: pandas)
# are imported where they are used: `drsim compare` decides the model and starts the engine's
# validation trials on the workers before this process imports them (runner._fast_comparison).

DEFAULT_VALIDATE = 50
"""Engine trials per candidate that check a fast comparison (--validate)."""


class ModelChoice(StrEnum):
    FAST = "fast"
    ENGINE = "engine"
    AUTO = "auto"


@dataclass(frozen=True)
class ModelReport:
    """Which model ran the comparison, why, and (for the fast model) how well it agreed with the engine."""

    asked: ModelChoice
    used: str  # "fast" or "engine"
    unsupported: dict[str, tuple[str, ...]]  # candidate -> what the fast model does not model (auto fell back)
    validate: int  # engine trials per candidate asked for
    validated: int  # engine trials per candidate that ran (fewer when interrupted)
    agreements: tuple[Agreement, ...] = ()
    validation_trials: pd.DataFrame | None = None  # the engine's validation trials (analysis.TRIAL_COLUMNS)
    interrupted: bool = False  # Ctrl-C during the validation: the fast trials are whole, the check is not

    @property
    def warnings(self) -> list[str]:
        """The measures on which the fast model and the engine disagree beyond the thresholds."""
        found = [f"the fast model and the engine disagree on {a.describe()}" for a in self.agreements if not a.agrees]
        if self.used == "fast" and self.validated == 0:
            found.append("the fast model was not checked against the engine (--validate 0)")
        elif self.used == "fast" and self.validated < self.validate:
            found.append(f"only {self.validated} of {self.validate} engine validation trials per candidate finished")
        return found

    @property
    def summary(self) -> str:
        """One line for the terminal and the reports."""
        if self.used == "engine":
            if self.asked is ModelChoice.AUTO and self.unsupported:
                named = "; ".join(f"{c}: {', '.join(r)}" for c, r in self.unsupported.items())
                return f"model: engine (auto: the fast model does not support {named})"
            return "model: engine"
        from drsim.compare.fast_validate import KS_P_WARN, MEDIAN_FLOOR_S, MEDIAN_WARN, floor_of

        checked = (
            f"checked against {plural(self.validated, 'engine trial')} per candidate at the same incident times "
            f"(KS p >= {KS_P_WARN:g} and medians within {MEDIAN_WARN:.0%} or {MEDIAN_FLOOR_S:g} s, "
            f"USD {floor_of('cost'):.2f} for the cost, agree)"
            if self.validated
            else "not checked against the engine"
        )
        agree = sum(a.agrees for a in self.agreements)
        tail = f": {agree} of {len(self.agreements)} measures agree" if self.agreements else ""
        return f"model: fast ({'auto' if self.asked is ModelChoice.AUTO else 'asked'}), {checked}{tail}"

    def frame(self) -> pd.DataFrame:
        from drsim.compare.fast_validate import validation_frame

        return validation_frame(self.agreements)


def fast_unsupported(inputs: ComparisonInputs) -> dict[str, tuple[str, ...]]:
    """Per candidate, what the fast model does not support (only candidates with something)."""
    documents = worker_documents(inputs)
    found = {}
    for c in documents.candidates:
        reasons = unsupported(c.runbook.doc, documents.estate.doc, c.plan.doc)
        if reasons:
            found[c.name] = tuple(dict.fromkeys(reasons))
    return found


def choose(inputs: ComparisonInputs, asked: ModelChoice) -> tuple[str, dict[str, tuple[str, ...]]]:
    """The model to use ("fast" or "engine") and what the fast model does not support."""
    if asked is ModelChoice.ENGINE:
        return "engine", {}
    missing = fast_unsupported(inputs)
    if not missing:
        return "fast", {}
    if asked is ModelChoice.FAST:
        named = "; ".join(f"{c}: {', '.join(r)}" for c, r in missing.items())
        raise UsageError(f"--model fast: the fast model does not support {named}; use --model engine or auto")
    return "engine", missing


def fast_seed(seed: int, index: int) -> np.random.SeedSequence:
    """The fast model's randomness for candidate `index` of a comparison seeded `seed`."""
    return np.random.SeedSequence([seed, 0x66617374, index])


def fast_outcomes(inputs: ComparisonInputs) -> list[TrialOutcome]:
    """Every candidate through every trial with the fast model (in this process: it is vectorized)."""
    return fast_run(inputs)[0]


def fast_run(inputs: ComparisonInputs) -> tuple[list[TrialOutcome], dict[str, float]]:
    """Every candidate through every trial with the fast model, and per candidate the share of trials
    in which a step timed out."""
    from drsim.compare.fast import WorldDraws, fast_candidate

    documents = worker_documents(inputs)
    specs = trial_specs(inputs, range(inputs.trials))
    outcomes: list[TrialOutcome] = []
    timed_out: dict[str, float] = {}
    world = WorldDraws(specs)  # the engine world's draws of each trial, shared by the candidates
    for index, c in enumerate(documents.candidates):
        seed = int(fast_seed(inputs.seed, index).generate_state(1, dtype=np.uint64)[0])
        found = fast_candidate(c.name, c.runbook.doc, documents.estate.doc, c.plan.doc, specs, seed=seed, world=world)
        outcomes += found.outcomes
        timed_out[c.name] = found.timed_out_share
    return outcomes, timed_out


def validation_inputs(inputs: ComparisonInputs, validate: int) -> ComparisonInputs | None:
    """The comparison's first `validate` trials, which the engine runs to check the fast model (None: no check)."""
    if validate < 0:
        raise UsageError(f"--validate must be at least 0, got {validate}")
    if validate == 0:
        return None
    return replace(inputs, trials=min(validate, inputs.trials))


def validate_against_engine(
    inputs: ComparisonInputs,
    fast_trials: pd.DataFrame,
    validate: int,
    run_engine: Callable[[ComparisonInputs], list[TrialOutcome]],
    trials_frame: Callable[[list[TrialOutcome], list[str]], pd.DataFrame],
) -> tuple[int, tuple[Agreement, ...], pd.DataFrame | None, bool]:
    """Run `validate` engine trials per candidate (the first ones: the same incidents: `validation_inputs`)
    and compare; also whether Ctrl-C cut the validation short (what finished for every candidate is compared)."""
    subset = validation_inputs(inputs, validate)
    if subset is None:
        return 0, (), None, False
    count = subset.trials
    partial = False
    try:
        outcomes = run_engine(subset)
    except KeyboardInterrupt as stop:
        outcomes = list(getattr(stop, "outcomes", []))
        partial = True
    names = [c.name for c in inputs.candidates]
    done: dict[int, set[str]] = {}
    for o in outcomes:
        done.setdefault(o.trial, set()).add(o.candidate)
    complete = {t for t, found in done.items() if found == set(names)}
    outcomes = [o for o in outcomes if o.trial in complete]
    if not outcomes:
        return 0, (), None, partial
    engine = trials_frame(outcomes, names)
    from drsim.compare.fast_validate import agreements

    found = tuple(agreements(fast_trials, engine, names))
    return (len(complete) if partial else count), found, engine, partial

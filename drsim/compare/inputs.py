"""The inputs of a comparison as plain, picklable data: what every worker process rebuilds its documents from.

Loaded documents hold read-only mappings that cannot be pickled, so a worker (a local process or a
Dask worker on another machine) receives the plain data read from each YAML file, with the what-if
overrides already applied and checked, and validates it once into documents (`WorkerDocuments`).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, TypeVar

from drsim.compare.whatif import Override, Target, apply_override, parse_override, refused
from drsim.errors import DocumentError, UsageError
from drsim.model import ComparisonBundle, Estate, Loaded, ProtectionPlan, Runbook, load_comparison
from drsim.model.checks import check_plan, check_runbook
from drsim.model.documents import Comparison, Document
from drsim.model.judged import Faced, judged_runbook, judged_runbook_data, like_for_like_problems
from drsim.model.loader import Source, parse_document, read_yaml
from drsim.model.types import format_duration, instant_out_of_range

D = TypeVar("D", bound=Document)


@dataclass(frozen=True)
class DocumentData(Generic[D]):
    """One document as plain YAML data, with the path it was read from (for messages)."""

    path: str
    data: Any

    def load(self, kind: type[D]) -> Loaded[D]:
        """Validate the data into a document (the data was checked when the comparison was prepared)."""
        source = Source(self.path, None)
        return Loaded(parse_document(self.data, source, kind), source)


@dataclass(frozen=True)
class CandidateData:
    """A candidate protection plan and the runbook that recovers with it, as the comparison runs it
    (its scenario and objectives, when the Comparison states them, already in the runbook's data)."""

    name: str
    plan: DocumentData[ProtectionPlan]
    runbook: DocumentData[Runbook]
    faced: Faced  # the incident and objectives it is judged against, as people read them
    overrides: tuple[str, ...] = ()  # the --set texts applied, for the report


@dataclass(frozen=True)
class ComparisonInputs:
    """Everything a comparison run needs, with the command-line choices already folded in."""

    name: str
    description: str | None
    path: str
    estate: DocumentData[Estate]
    candidates: tuple[CandidateData, ...]
    trials: int
    window: timedelta
    window_end: datetime
    window_end_defaulted: bool  # True when neither the Comparison nor --window-end gave it and today 00:00 UTC was used
    seed: int
    stated: tuple[str, ...] = ()  # what the Comparison states for every candidate: "scenario", "objectives"
    mixed: bool = False  # candidates face different incidents or objectives (the Comparison says mixed: true)
    digest: str = field(default="", compare=False)  # identifies the documents, so a worker builds them once

    def __post_init__(self) -> None:
        if not self.digest:
            documents = (self.estate, self.candidates)
            object.__setattr__(self, "digest", hashlib.sha256(pickle.dumps(documents, protocol=5)).hexdigest())

    @property
    def window_start(self) -> datetime:
        return self.window_end - self.window

    def candidate(self, name: str) -> CandidateData:
        for candidate in self.candidates:
            if candidate.name == name:
                return candidate
        raise KeyError(name)


def window_end_of(today: date) -> datetime:
    """The default end of the incident window: the start of `today`, UTC."""
    return datetime.combine(today, time(0), tzinfo=UTC)


def prepare(
    path: str | os.PathLike[str],
    *,
    overrides: Sequence[str] = (),
    trials: int | None = None,
    seed: int | None = None,
    window_end: datetime | None = None,
    today: date | None = None,
) -> ComparisonInputs:
    """Load a Comparison and everything it references, apply and check the what-ifs, fold in the options.

    The window ends at `window_end` (--window-end), else the Comparison's, else `today` 00:00 UTC
    (the command line passes its date; without it, today's date is read from the clock here).
    """
    if trials is not None and trials < 1:
        raise UsageError(f"--trials must be at least 1, got {trials}")
    if seed is not None and not 0 <= seed <= 2**63 - 1:
        raise UsageError(f"--seed must be between 0 and 2**63-1, got {seed}")
    if window_end is not None and window_end.tzinfo is None:
        raise UsageError(f"--window-end {window_end.isoformat()} has no time zone: write it in UTC with a Z, e.g. 2026-11-01T00:00:00Z")
    bundle = load_comparison(path, like_for_like=False)  # checked below, with the what-ifs applied
    comparison = bundle.comparison.doc
    names = [c.name for c in bundle.candidates]
    parsed = [parse_override(text, names) for text in overrides]
    _refuse_stated_overrides(comparison, parsed)
    comparison_data, _ = read_yaml(bundle.comparison.source.path)
    candidates = tuple(
        _candidate_data(bundle, comparison_data, c.name, [o for o in parsed if o.candidate == c.name]) for c in bundle.candidates
    )
    judged = [(c.name, c.runbook.load(Runbook).doc) for c in candidates]
    problems = like_for_like_problems(bundle.comparison, judged)
    if problems:
        raise DocumentError(problems)
    estate_data, _ = read_yaml(bundle.estate.source.path)
    end = window_end or comparison.window_end
    if end is None:
        end = window_end_of(today if today is not None else datetime.now(UTC).date())
    start = end - comparison.window
    if (problem := instant_out_of_range(start)) is not None:
        raise UsageError(f"the {format_duration(comparison.window)} incident window ending {end.isoformat()} starts too early: {problem}")
    return ComparisonInputs(
        name=comparison.name,
        description=comparison.metadata.description,
        path=str(path),
        estate=DocumentData(bundle.estate.source.path, estate_data),
        candidates=candidates,
        trials=trials if trials is not None else comparison.trials,
        window=comparison.window,
        window_end=end.astimezone(UTC),
        window_end_defaulted=window_end is None and comparison.window_end is None,
        seed=seed if seed is not None else comparison.seed,
        stated=tuple(key for key in ("scenario", "objectives") if getattr(comparison, key) is not None),
        mixed=len({c.faced for c in candidates}) > 1,
    )


def _refuse_stated_overrides(comparison: Comparison, overrides: Sequence[Override]) -> None:
    """A what-if on a runbook's scenario or objectives that the Comparison states for every candidate would change nothing."""
    for override in overrides:
        key = override.path[0] if override.path else None
        if override.target is Target.RUNBOOK and key in ("scenario", "objectives") and getattr(comparison, str(key)) is not None:
            raise UsageError(
                f"{override}: the Comparison states {key}: for every candidate, so the runbook's {key} is not used; "
                f"change the Comparison's {key}: instead"
            )


def _changed(source: Source, data: Any, overrides: Sequence[Override]) -> Source:
    """The source to name a changed document's problems by: the file's own when no override changed it,
    else the changed data's node tree, so that a problem of a key an override added names that key (a
    refusal shows the messages, which name the field, not the file's lines)."""
    if not overrides:
        return source
    return Source.of_data(source.path, data)


def _candidate_data(bundle: ComparisonBundle, comparison_data: Any, name: str, overrides: list[Override]) -> CandidateData:
    """The candidate's plan and runbook data with its overrides applied, checked like the files were,
    and the Comparison's scenario and objectives (if it states them) in the runbook."""
    candidate = next(c for c in bundle.candidates if c.name == name)
    plan_data, plan_source = read_yaml(candidate.plan.source.path)
    runbook_data, runbook_source = read_yaml(candidate.runbook.source.path)
    comparison = bundle.comparison.doc
    if not overrides:
        return CandidateData(
            name,
            DocumentData(plan_source.path, plan_data),
            DocumentData(runbook_source.path, judged_runbook_data(runbook_data, comparison_data)),
            faced=Faced.of(judged_runbook(candidate.runbook.doc, comparison)),
        )
    for override in overrides:
        if override.target is Target.PLAN:
            plan_data = apply_override(plan_data, override)
        else:
            runbook_data = apply_override(runbook_data, override)
    plan_overrides = [o for o in overrides if o.target is Target.PLAN]
    runbook_overrides = [o for o in overrides if o.target is Target.RUNBOOK]
    try:
        plan = Loaded(parse_document(plan_data, _changed(plan_source, plan_data, plan_overrides), ProtectionPlan), plan_source)
    except DocumentError as exc:
        raise refused(plan_overrides, exc, f"plan {plan_source.path}") from None
    try:
        runbook = Loaded(parse_document(runbook_data, _changed(runbook_source, runbook_data, runbook_overrides), Runbook), runbook_source)
    except DocumentError as exc:
        raise refused(runbook_overrides, exc, f"runbook {runbook_source.path}") from None
    plan_problems = check_plan(plan, bundle.estate)
    if plan_problems:
        raise refused(plan_overrides, DocumentError(plan_problems), f"plan {plan_source.path}")
    runbook_problems = check_runbook(runbook, bundle.estate, plan)
    if runbook_problems:
        raise refused(overrides, DocumentError(runbook_problems), f"runbook {runbook_source.path} (with its plan)")
    return CandidateData(
        name,
        DocumentData(plan_source.path, plan_data),
        DocumentData(runbook_source.path, judged_runbook_data(runbook_data, comparison_data)),
        Faced.of(judged_runbook(runbook.doc, comparison)),
        tuple(o.text for o in overrides),
    )

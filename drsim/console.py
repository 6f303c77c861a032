"""Terminal presentation: `drsim drill run`'s live progress, summary table and dry-run plan, and
`drsim sim points`' tables.

The progress display is a RunObserver (like the journal, it only watches events). Everything here
writes to a rich Console; nothing below the command line depends on it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from drsim.cloud.api import PointType
from drsim.cloud.sim.listing import WorldPoints, iso_or_none, points_as_json, world_points
from drsim.drills import AzureDryRun, Predictor, azure_dry_run, finish_run, incident_time, run_drill
from drsim.engine.people import NOTE_MAX, VIA_TERMINAL, HumanAnswer, HumanRequest, check_person, participants_text
from drsim.engine.run import DrillPlan, RunObserver, RunOutcome
from drsim.engine.taskgraph import Task, task_chain
from drsim.errors import AbortedError, UsageError
from drsim.measure.events import (
    CleanupFinished,
    CleanupStarted,
    Event,
    HumanActed,
    PlanMade,
    PredictionMade,
    RunAborted,
    TaskFailed,
    TaskFinished,
    TaskSkipped,
    TaskStarted,
    iso,
)
from drsim.measure.result import RunStatus, TaskStatus, run_kind
from drsim.model import Estate, load, load_drill
from drsim.model.checks import DrillBundle
from drsim.model.documents import Drill
from drsim.model.loader import Loaded
from drsim.model.types import CleanupStatus, ProviderKind, format_duration, parse_instant
from drsim.program.coverage import build_coverage, parse_period
from drsim.program.due import DrillRef, DueReport, DueState, due_report
from drsim.program.packet import write_packet
from drsim.program.runs import recorded_findings, recorded_seals
from drsim.store.history import DEFAULT_STORE, HistoryStore
from drsim.times import duration

_STATUS_STYLE = {RunStatus.PASSED: "bold green", RunStatus.FAILED: "bold yellow", RunStatus.ERROR: "bold red"}


def terminal_width() -> int:
    """How wide tables printed to standard output may be: the terminal's width (COLUMNS when set; 80
    when standard output is not a terminal), as rich measures it."""
    return Console().width


def _column(table: Table, name: str, **options: object) -> None:
    """A column whose header words are never broken, and whose cells wrap (or fold a longer word)."""
    widest = max(len(word) for word in name.split()) if name.strip() else 1
    table.add_column(name, overflow="fold", min_width=widest, **options)  # type: ignore[arg-type]


def fitted(table: Table, width: int) -> Table:
    """The table with column widths that fit `width`, when it is wider and can fit.

    rich narrows a table that is too wide by shrinking its widest columns, and crops what is left over
    when a column's minimum width stops it (the last columns vanish). Here each column gets at least
    its longest word (its header's when its cells must fold), the widest columns give way first, and
    the widths are fixed on the columns so that rich neither crops nor (unless nothing else fits) breaks
    a header word.
    """
    measure_with = Console(width=max(width, 1), force_terminal=False, color_system=None)
    options = measure_with.options
    columns = table.columns
    if not columns:
        return table
    _top, right, _bottom, left = table.padding
    pads = []
    for index in range(len(columns)):
        pad_left = 0 if index == 0 and not table.pad_edge else left
        pad_right = 0 if index == len(columns) - 1 and not table.pad_edge else right
        pads.append(pad_left + pad_right)
    edges = (2 if table.box and table.show_edge else 0) + (len(columns) - 1 if table.box else 0)
    available = width - edges - sum(pads)
    natural, words, hard = [], [], []
    for column in columns:
        measured = [Measurement.get(measure_with, options, cell) for cell in (column.header, *column.cells)]
        widest = max(column.min_width or 1, *(m.maximum for m in measured))
        floor = widest if column.no_wrap else column.min_width or 1  # a cell that may not wrap keeps its width
        hard.append(floor)
        words.append(max(floor, *(m.minimum for m in measured)))
        natural.append(widest)
    if sum(natural) <= available:
        return table
    fits = [floors for floors in (words, hard, [1] * len(columns)) if sum(floors) <= available]
    if not fits:
        return table  # not even a character a column: rich crops
    floors = fits[0]  # a cell's words whole if they fit, else a header's, else folded anywhere: never a column lost
    widths = list(floors)
    spare = available - sum(widths)
    while spare > 0:  # one column at a time to the narrowest that still wants more: the widest give way first
        wanting = [i for i in range(len(widths)) if widths[i] < natural[i]]
        if not wanting:
            break
        narrowest = min(wanting, key=lambda i: (widths[i], i))
        widths[narrowest] += 1
        spare -= 1
    for column, content in zip(columns, widths, strict=True):
        column.width = content
    return table


class LiveProgress:
    """A live panel: tasks done / running / failed / skipped, the phase, and the (virtual) clock."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.total = 0
        self.counts: Counter[str] = Counter()
        self.running: set[str] = set()
        self.now: datetime | None = None
        self.phase = "planning"
        self.trials: tuple[int, int] | None = None  # the twin's prediction: (trials done, in all)
        self._live = Live(self._render(), console=console, transient=True, refresh_per_second=8)
        self._live.start()

    def predicting(self, done: int, total: int) -> None:
        """The twin's prediction goes on before the drill (called from the thread that makes it)."""
        self.trials = (done, total)
        self._live.update(self._render())

    def _render(self) -> Group:
        if self.trials is not None and self.total == 0:
            done, total = self.trials
            return Group(Text.assemble(("twin     ", "bold"), f"  predicting the drill: {done}/{total} simulated trials"))
        clock = iso(self.now) if self.now is not None else "-"
        line = Text.assemble(
            (f"{self.phase:<9}", "bold"),
            f"  tasks {self.counts['done']}/{self.total} done, ",
            (f"{len(self.running)} running", "cyan"),
            ", ",
            (f"{self.counts['failed']} failed", "red" if self.counts["failed"] else ""),
            f", {self.counts['skipped']} skipped   clock {clock}",
        )
        return Group(line)

    def on_event(self, event: Event) -> None:
        self.now = event.at
        if isinstance(event, PlanMade):
            self.total = len(event.tasks)
            self.phase = "running"
        elif isinstance(event, TaskStarted):
            self.running.add(event.task)
        elif isinstance(event, TaskFinished):
            self.running.discard(event.task)
            self.counts["done"] += 1
        elif isinstance(event, TaskFailed):
            self.running.discard(event.task)
            self.counts["failed"] += 1
        elif isinstance(event, TaskSkipped):
            self.counts["skipped"] += 1
        elif isinstance(event, RunAborted):
            self.phase = "aborting"
        elif isinstance(event, CleanupStarted):
            self.phase = "cleanup"
        elif isinstance(event, CleanupFinished):
            self.phase = "measuring"
        self._live.update(self._render())

    def on_finished(self, outcome: RunOutcome) -> None:
        self.stop()

    def stop(self) -> None:
        self._live.stop()

    def pause(self) -> None:
        """Take the panel off the terminal while a person is asked something."""
        self._live.stop()

    def resume(self) -> None:
        self._live.start()
        self._live.update(self._render())


def _say(line: str) -> None:
    """One line on standard error, at once and unwrapped (it names paths and commands to copy)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


class InterruptNotice:
    """Says at once, on standard error, what a Ctrl-C (or SIGTERM) is doing: the first aborts the run and
    cleanup runs; the next stops cleanup."""

    def __init__(self, say: Callable[[str], None] = _say) -> None:
        self.say = say
        self.aborted = False

    def on_event(self, event: Event) -> None:
        if isinstance(event, RunAborted) and event.reason.endswith("received"):
            self.aborted = True
            self.say(f"interrupted ({event.reason}): cleaning up (Ctrl-C again to stop cleanup)")
        elif self.aborted and isinstance(event, CleanupFinished) and event.status is CleanupStatus.INCOMPLETE:
            self.say(f"cleanup stopped: {len(event.leftovers)} resource(s) may be left behind (listed in the result)")

    def on_finished(self, outcome: RunOutcome) -> None:
        pass


# ------------------------------------------------------------------------------ people in the loop


def stdin_is_terminal() -> bool:
    """Whether a person sits at this run's terminal (standard input is a tty) to be asked directly."""
    try:
        return os.isatty(sys.stdin.fileno())
    except (AttributeError, OSError, ValueError):
        return False


def _waiting_line(request: HumanRequest) -> str:
    waiting = request.waiting
    who = f" ({waiting.who})" if waiting.who else ""
    limit = f"; it times out after {duration(waiting.timeout_s, 'exact')}" if waiting.timeout_s is not None else ""
    expected = f"; participants: {participants_text(waiting.participants)}" if waiting.participants else ""
    return f"step '{waiting.step}' ({waiting.action.value}) waits for a person to {request.verb} it{who}{expected}{limit}"


class ApprovalNotice:
    """No terminal to ask: say, on standard error, how to answer from another shell (drsim drill approve)."""

    def __init__(self, say: Callable[[str], None] = _say) -> None:
        self.say = say

    async def ask(self, request: HumanRequest) -> HumanAnswer | None:
        self.say(f"{_waiting_line(request)}: {request.approve_command()}")
        return None


class TerminalPrompt:
    """Ask the person at the run's terminal for their name (role and note optional), one step at a time;
    `drsim drill approve` from another shell answers as well (drsim.engine.people.RealTimePeople)."""

    def __init__(self, progress: LiveProgress | None = None, *, fd: int | None = None, say: Callable[[str], None] = _say) -> None:
        self.progress = progress
        self.fd = sys.stdin.fileno() if fd is None else fd
        self.say = say
        self._buffer = b""
        self._lines: collections.deque[str | None] = collections.deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._lock: asyncio.Lock | None = None

    async def ask(self, request: HumanRequest) -> HumanAnswer | None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one question at a time on one terminal
            if self.progress is not None:
                self.progress.pause()
            try:
                return await self._ask(request)
            finally:
                self._stop_reading()
                if self.progress is not None:
                    self.progress.resume()

    async def _ask(self, request: HumanRequest) -> HumanAnswer | None:
        participants = request.waiting.participants
        self.say(f"{_waiting_line(request)}.")
        self.say(f"Answer here, or from another shell: {request.approve_command()}")
        while True:
            name = await self._line(f"Your name (to {request.verb} step '{request.step}'): ")
            if name is None:
                self.say("(no more input here: waiting for drsim drill approve)")
                return None
            if not name.strip():
                continue
            listed = [p.role for p in participants if " ".join(p.name.split()).casefold() == " ".join(name.split()).casefold()]
            if participants and not listed:
                self.say(f"refused: {name.strip()} is not on the drill's participants list ({participants_text(participants)})")
                continue
            role = await self._line(f"Role [{listed[0]}]: " if listed else "Role (optional): ")
            note = await self._line("Note (optional): ")
            if role is None or note is None:
                return None
            try:
                by, checked_role = check_person(participants, name, role or None)
            except ValueError as exc:
                self.say(f"refused: {exc}")
                continue
            return HumanAnswer(by, checked_role, note.strip()[:NOTE_MAX] or None, VIA_TERMINAL)

    async def _line(self, question: str) -> str | None:
        """One line typed at the terminal (None at the end of input)."""
        sys.stderr.write(question)
        sys.stderr.flush()
        loop = asyncio.get_running_loop()
        while not self._lines:
            self._wakeup = loop.create_future()
            try:
                loop.add_reader(self.fd, self._readable)
            except (NotImplementedError, OSError, ValueError):  # no way to read it without blocking the run
                return None
            try:
                await self._wakeup
            finally:
                self._wakeup = None
        return self._lines.popleft()

    def _readable(self) -> None:
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:
            chunk = b""
        if chunk:
            self._buffer += chunk
            *lines, self._buffer = self._buffer.split(b"\n")
            self._lines.extend(line.decode("utf-8", errors="replace").rstrip("\r") for line in lines)
        else:
            self._lines.append(None)
            self._stop_reading()
        if self._lines and self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _stop_reading(self) -> None:
        with contextlib.suppress(RuntimeError, NotImplementedError, OSError, ValueError):
            asyncio.get_running_loop().remove_reader(self.fd)


class PeopleNotice:
    """Says on standard error when a person answered a manual step, or nobody did in time."""

    def __init__(self, say: Callable[[str], None] = _say) -> None:
        self.say = say

    def on_event(self, event: Event) -> None:
        if isinstance(event, HumanActed):
            role = f" ({event.role})" if event.role else ""
            verb = "declared" if event.action.value == "manual.declare" else "approved"
            self.say(f"step '{event.step}' {verb} by {event.by}{role} via {event.via}, after {duration(event.waited_s)}")
        elif isinstance(event, TaskFailed) and event.action.is_manual:
            self.say(f"step '{event.step}' failed: {event.error}")

    def on_finished(self, outcome: RunOutcome) -> None:
        pass


SHOWN_FAILURES = 10
"""The failed tasks the summary names one by one; the rest are counted per step and reason."""


def summary_table(outcome: RunOutcome) -> Table:
    """Per application: RTO, RPO measured / claimed, objectives and verdicts."""
    assert outcome.result is not None
    table = Table(title=f"drill {outcome.drill} ({outcome.run_id})", title_justify="left")
    for column in ("app", "RTO", "RTO obj.", "RPO", "RPO claimed", "RPO obj.", "consistent", "verdict"):
        _column(table, column, justify="left" if column in ("app", "verdict") else "right")
    for app in outcome.result.apps:
        verdicts = [v for v in (app.rto_met, app.rpo_met) if v is not None]
        verdict = Text("met", style="green") if verdicts and all(verdicts) else Text("NOT met", style="red") if verdicts else Text("-")
        table.add_row(
            app.app,
            duration(app.rto_s),
            duration(app.rto_objective_s, "exact"),
            duration(app.rpo_s),
            duration(app.rpo_claimed_s),
            duration(app.rpo_objective_s, "exact"),
            "-" if app.consistent is None else ("yes" if app.consistent else Text("NO", style="red")),
            verdict,
        )
    return table


def render_outcome(outcome: RunOutcome, console: Console) -> None:
    """The summary after a run: the table, failed tasks, leftovers, status and where the files are."""
    result = outcome.result
    assert result is not None
    console.print(fitted(summary_table(outcome), console.width))
    failed = [t for t in result.tasks if t.status is TaskStatus.FAILED]
    errors = {e.task: e.error for e in outcome.events if isinstance(e, TaskFailed)}
    labels = [f"{t.step}/{t.vm}" if t.vm else t.step for t in failed]
    for label in labels[:SHOWN_FAILURES]:
        console.print(f"[red]failed[/red] {label}: {errors.get(label, '')}", highlight=False)
    if len(labels) > SHOWN_FAILURES:  # an interrupted fleet drill fails thousands of tasks for one reason
        rest = Counter(
            (task.step, errors.get(label, "")) for task, label in zip(failed[SHOWN_FAILURES:], labels[SHOWN_FAILURES:], strict=True)
        )
        console.print(f"[red]and {len(labels) - SHOWN_FAILURES} more failed tasks[/red]:", highlight=False)
        for (step, error), count in rest.most_common():
            console.print(f"  {count} of step {step}: {error}", highlight=False)
    skipped = sum(1 for t in result.tasks if t.status is TaskStatus.SKIPPED)
    if skipped:
        console.print(f"{skipped} task(s) skipped")
    for leftover in result.cleanup.leftovers:
        console.print(f"[red]left behind[/red] {leftover.kind} {leftover.name} ({leftover.region}): ${leftover.cost_per_day:.2f}/day")
    console.print(Text.assemble("status ", (result.status.value, _STATUS_STYLE[result.status]), f"  (cleanup {result.cleanup.status})"))
    banner = run_kind(result.provider, bool(result.emulated)).banner
    if banner is not None:  # as at the top of its reports: a simulation never reads like an executed recovery
        console.print(banner, markup=False, highlight=False)
    if outcome.run_dir is not None:
        console.print(f"wrote {outcome.result_path} and {outcome.journal_path}")


def render_plan(plan: DrillPlan, console: Console) -> None:
    """The dry run: task graph per step, predicted critical path and lower bound, what would be created."""
    graph = plan.graph
    table = Table(title=f"drill {plan.drill}: task graph (dry run, nothing created)", title_justify="left")
    for column in ("step", "action", "needs", "tasks", "operations per task", "estimate"):
        _column(table, column)
    for step in graph.steps:
        tasks = graph.step_tasks[step]
        ops = _operations(tasks[0]) if tasks else "-"
        longest = max((task_chain(t, partial(plan.estimates, t)) for t in tasks), default=0.0)
        first = tasks[0].action.value if tasks else "-"
        table.add_row(step, first, ", ".join(graph.step_needs[step]) or "-", str(len(tasks)), ops, duration(longest))
    console.print(fitted(table, console.width))
    critical = plan.critical
    console.print(f"planned critical path (an estimate): {' -> '.join(critical.tasks) or '-'}")
    console.print(
        f"predicted duration: planned critical path {duration(critical.length_s)}, "
        f"lower bound {duration(critical.lower_bound_s)} with {critical.concurrency} operations at a time"
    )
    kinds = Counter(r.kind.value.rsplit("/", 1)[-1] for r in plan.creates)
    console.print("would create: " + (", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "nothing"))


def render_readiness(checked: AzureDryRun, console: Console) -> None:
    """The preflight of a drill against Azure: one row per check, then ready or every problem counted."""
    table = Table(title="readiness (read-only preflight against Azure)", title_justify="left")
    for column in ("check", "subject", "", "detail"):
        _column(table, column)
    for check in checked.readiness.checks:
        mark = Text("ok", style="green") if check.ok else Text("PROBLEM", style="bold red")
        table.add_row(check.area.value, check.subject, mark, check.detail)
    console.print(fitted(table, console.width))
    problems = checked.readiness.problems
    if problems:
        console.print(Text(f"not ready: {len(problems)} problem(s)", style="bold red"))
    else:
        console.print(Text("ready", style="bold green"))


def _operations(task: Task) -> str:
    """A task's operations by kind in order of first appearance: `snapshot x4, create-disk x4, create-vm`."""
    kinds = Counter(op.kind.value for op in task.ops)
    return ", ".join(f"{kind} x{count}" if count > 1 else kind for kind, count in kinds.items())


def drill_run(
    path: str,
    *,
    out_dir: str,
    seed: int | None,
    incident_at: str | None,
    dry_run: bool,
    resume: str | None,
    quiet: bool,
    today: date,
    console: Console | None = None,
    reports: bool = True,
    store: str | None = None,
    junit: str | None = None,
    real_time: bool = False,
    speed: float | None = None,
    interactive: bool | None = None,
    predict_trials: int = 200,
) -> int:
    """What `drsim drill run` does; returns the exit code (0 passed, 1 failed, 3 error).

    In a real-time run (provider azure, or `real_time`) manual steps wait for a person: asked at the
    terminal when standard input is one (`interactive`, default: stdin_is_terminal()), and told how to
    answer with `drsim drill approve` otherwise. A drill against Azure is first predicted by the twin
    (`predict_trials` simulated trials; 0: not)."""
    console = console or Console()
    if resume is not None and (seed is not None or incident_at is not None):
        raise UsageError("--resume continues a run with its own seed and incident time: leave out --seed and --incident-at")
    if resume is not None and dry_run:
        raise UsageError("--resume and --dry-run do not go together")
    if resume is not None and not os.path.isdir(resume):
        raise UsageError(f"--resume {resume}: no such run directory")
    when = parse_instant(incident_at, "--incident-at") if incident_at not in (None, "random") else None
    bundle = load_drill(path)
    if dry_run and bundle.drill.doc.provider is ProviderKind.AZURE:
        checked = azure_dry_run(bundle)  # reads only: asks Azure whether it is ready for this drill
        render_plan(checked.plan, console)
        render_readiness(checked, console)
        return checked.exit_code
    if incident_at == "random":  # as `incident_at: random` in the drill: drawn from the seed over the drill's window
        drill = bundle.drill.doc
        when = incident_time(drill.model_copy(update={"incident_at": "random"}), drill.seed if seed is None else seed, today=today)
    progress = LiveProgress(console) if console.is_terminal and not quiet and not dry_run else None
    notice = InterruptNotice()
    live = real_time or bundle.drill.doc.provider is ProviderKind.AZURE
    ask_here = stdin_is_terminal() if interactive is None else interactive
    prompt = (TerminalPrompt(progress) if ask_here else ApprovalNotice()) if live else None
    observers: list[RunObserver] = [o for o in (progress, notice) if o is not None]
    if live:
        observers.append(PeopleNotice())
    try:
        outcome = run_drill(
            bundle,
            out_dir=out_dir,
            seed=seed,
            incident_at=when,
            dry_run=dry_run,
            resume=resume,
            observers=observers,
            today=today,
            handle_signals=True,
            real_time=real_time,
            speed=speed,
            prompt=prompt,
            predict=twin_predictor(bundle, predict_trials, seed, console, quiet=quiet, live=progress)
            if not dry_run and resume is None
            else None,
        )
    finally:
        if progress is not None:
            progress.stop()
    if dry_run:
        render_plan(outcome.plan, console)
        return 0
    assert outcome.result is not None
    try:
        sealed = finish_reports(outcome, bundle.drill, reports=reports, store=store, junit=junit)
    except KeyboardInterrupt:
        # result.json and the journal are complete; reports are written atomically and the manifest last.
        finish = f"drsim report {outcome.run_dir}"
        _say(f"interrupted while writing reports: the run itself is complete; `{finish}` writes its reports and seals it")
        return AbortedError.exit_code
    if quiet:
        console.print(f"{outcome.result.status.value} {outcome.result_path}")
    else:
        render_outcome(outcome, console)
        if sealed:
            console.print(f"wrote {', '.join(str(p) for p in sealed)}")
    return outcome.exit_code


def twin_predictor(
    bundle: DrillBundle, trials: int, seed: int | None, console: Console, *, quiet: bool, live: LiveProgress | None = None
) -> Predictor | None:
    """The prediction of a drill against Azure by the twin (drsim.compare.predict), with its progress on
    the terminal (in the run's live panel) and a line per application when it is made; None for a
    simulated drill or 0 trials."""
    if bundle.drill.doc.provider is not ProviderKind.AZURE or trials <= 0:
        return None
    from drsim.compare.predict import drill_documents, predict

    documents = drill_documents(bundle)
    base = bundle.drill.doc.seed if seed is None else seed

    def predicted(incident_at: datetime) -> PredictionMade:
        started = time.monotonic()
        made = predict(documents, incident_at=incident_at, trials=trials, seed=base, progress=live.predicting if live else None)
        if not quiet:
            took = time.monotonic() - started
            console.print(f"twin: {trials} simulated trials (seed {base}, catalog {made.catalog_version}) in {took:.1f}s", highlight=False)
            for app in made.apps:
                console.print(
                    f"twin: {app.name} RTO predicted p5 {duration(app.p5_s)}, p50 {duration(app.p50_s)}, p95 {duration(app.p95_s)}"
                    + ("" if app.samples == trials else f" ({trials - app.samples} trial(s) did not recover it)"),
                    highlight=False,
                )
        return made

    return predicted


def finish_reports(outcome: RunOutcome, drill: Loaded[Drill], *, reports: bool, store: str | None, junit: str | None) -> list[Path]:
    """Reports, history, JUnit XML and the sealed manifest of a finished run (drsim.report.bundle)."""
    if outcome.run_dir is None:
        return []
    evidence = drill.doc.evidence
    sign_key = drill.path.parent / evidence.sign_key if evidence.sign_key else None  # relative to the drill file, like its other paths
    return finish_run(
        outcome.run_dir,
        formats=("md", "html") if reports else (),
        store=store,
        junit=junit,
        sign_key=sign_key,
        controls=evidence.controls,
    )


# ------------------------------------------------------------------------------ drsim sim points


def sim_points(path: str, *, vm: str | None, at_text: str | None, fmt: str, today: date, console: Console | None = None) -> None:
    """What `drsim sim points` does: the points at the drill's incident time (the one `drsim drill run`
    uses, drsim.drills.incident_time), as tables or JSON."""
    console = console or Console()
    at = parse_instant(at_text, "--at") if at_text is not None else None
    bundle = load_drill(path)
    drill = bundle.drill.doc
    view = world_points(bundle, incident_at=incident_time(drill, drill.seed, today=today), vm=vm, at=at)
    if fmt == "json":
        console.file.write(json.dumps(points_as_json(view), indent=2) + "\n")
    else:
        render_points(view, console)


def _age(at: datetime, then: datetime | None) -> str:
    return duration((at - then).total_seconds()) if then is not None else "—"


def _short(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"


_TYPE_LABEL = {PointType.APP_CONSISTENT: "app", PointType.FILE_SYSTEM_CONSISTENT: "file-system", PointType.CRASH_CONSISTENT: "crash"}


def render_points(view: WorldPoints, console: Console) -> None:
    """Print the points as rich tables, one block per VM."""
    console.print(
        f"[bold]{view.drill}[/]: {view.incident} at {iso_or_none(view.incident_at)}; points as of {iso_or_none(view.at)} "
        f"(seed {view.seed}, catalog {view.catalog})"
    )
    for vm in view.vms:
        console.rule(f"[bold]{vm.vm}[/] ({vm.region})")
        if vm.backup_vault is None:
            console.print("Azure Backup: not protected")
        else:
            table = Table(title=f"Azure Backup points (vault {vm.backup_vault})", title_justify="left")
            for column in ("time (UTC)", "age", "type", "tier", "region", "up"):
                table.add_column(column, no_wrap=True)
            for p in reversed(vm.backup):
                tier = "+".join(t.value for t in p.tiers) + (" (CRR)" if p.cross_region else "")
                reachable = "yes" if p.reachable else "[red]no[/]"
                table.add_row(_short(p.time), _age(view.at, p.time), _TYPE_LABEL[p.type], tier, p.region, reachable)
            console.print(fitted(table, console.width))
        rep = vm.replication
        if rep is None:
            console.print("Site Recovery: not replicated")
        else:
            group = f", consistency group {rep.consistency_group}" if rep.consistency_group else ""
            console.print(
                f"Site Recovery to {rep.target_region}{group}: {rep.points} processed points; newest {_short(rep.newest)} "
                f"({_age(view.at, rep.newest)} old), newest app-consistent {_short(rep.newest_app_consistent)}, "
                f"oldest {_short(rep.oldest)}; 'latest' recovers data up to {rep.pending:%Y-%m-%d %H:%M:%S}"
                if rep.pending is not None
                else f"Site Recovery to {rep.target_region}{group}: no points"
            )
        if vm.snapshots:
            table = Table(title="Scheduled snapshots (one disk each)", title_justify="left")
            for column in ("taken at (UTC)", "age", "disk", "region", "up"):
                table.add_column(column, no_wrap=True)
            for snap in reversed(vm.snapshots):
                reachable = "yes" if snap.reachable else "[red]no[/]"
                table.add_row(f"{snap.taken_at:%Y-%m-%d %H:%M:%S}", _age(view.at, snap.taken_at), snap.disk, snap.region, reachable)
            console.print(fitted(table, console.width))
        for name, region in vm.images:
            console.print(f"Managed image {name} in {region}")


def _drilled(ref: DrillRef | None) -> str:
    return "never" if ref is None else f"{ref.performed.strftime('%Y-%m-%d')} {ref.verdict}"


_DUE_STYLE = {DueState.OVERDUE: "bold red", DueState.CHANGED: "bold yellow", DueState.OK: "green", DueState.NOT_SCHEDULED: "dim"}


def render_due(report: DueReport, console: Console) -> None:
    """`drsim due` for people: per app and scenario, the last real and simulated drill, the due date and
    what changed; a table where the terminal is wide enough for one, a block per row where it is not."""
    rows = []
    for row in report.rows:
        due = "-" if row.due is None else row.due.strftime("%Y-%m-%d")
        if row.drill_every is not None:
            due += f" (every {format_duration(row.drill_every)})"
        rows.append(
            (
                f"{row.app} (critical)" if row.critical else row.app,
                row.scenario or "never drilled",
                _drilled(row.last_real),
                _drilled(row.last_simulated),
                due,
                ", ".join(row.changed) if row.changed else "-",
                Text(row.state.value, style=_DUE_STYLE[row.state]),
            )
        )
    title = f"what is due at {report.at.strftime('%Y-%m-%d %H:%M')}Z"
    if console.width >= 110:
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
        for name in ("app", "scenario", "last real drill", "last simulation", "due", "changed since", "state"):
            table.add_column(name, overflow="fold")
        for cells in rows:
            table.add_row(*cells)
        console.print(fitted(table, console.width))
    else:
        console.print(title, markup=False, highlight=False)
        for app, scenario, real, simulated, due, changed, state in rows:
            console.print(Text.assemble(f"{app} · {scenario}: ", state), highlight=False)
            console.print(f"  last real drill {real}; last simulation {simulated}", markup=False, highlight=False)
            console.print(f"  due {due}; changed since: {changed}", markup=False, highlight=False)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    if report.exit_code:
        console.print("needs action: an application is overdue, or changed since its last passed real drill", markup=False)


def due(estate_path: str, store_path: str | None, at_text: str | None, fmt: str, console: Console | None = None) -> int:
    """What `drsim due` does; returns its exit code."""
    console = console or Console()
    at = parse_instant(at_text, "--at") if at_text is not None else datetime.now(UTC)
    estate = load(estate_path, Estate).doc  # a bad estate is refused before the store is opened
    path = store_path or DEFAULT_STORE
    with HistoryStore(path, create=False, read_only=True) as store:
        runs = store.runs()
        seals = recorded_seals(store, runs)
    report = due_report(estate_path, runs, at, store=path, estate=estate, seals=seals)
    if fmt == "json":
        console.file.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        render_due(report, console)
    return report.exit_code


def coverage(
    period_text: str, store_path: str | None, estate_path: str | None, out_dir: str, sign_key: str | None, console: Console | None = None
) -> list[Path]:
    """What `drsim coverage` does: build the period's packet from the store and write it, sealed."""
    console = console or Console()
    period = parse_period(period_text)
    estate = load(estate_path, Estate).doc if estate_path is not None else None
    path = Path(store_path or DEFAULT_STORE)
    with HistoryStore(path, create=False, read_only=True) as store:
        records = store.runs()
        seals = recorded_seals(store, records)
        findings = recorded_findings(store, records)
    built = build_coverage(period, records, store=str(path), seals=seals, estate=estate, estate_path=estate_path, run_findings=findings)
    written = write_packet(built, out_dir, sign_key)
    real = sum(1 for run in built.runs if run.counts)
    console.print(
        f"coverage {period.label}: {len(built.runs)} run(s) in the period, {real} counting as operating evidence; "
        f"checklist: {sum(1 for c in built.checklist if c.found.status == 'present')} present, "
        f"{sum(1 for c in built.checklist if c.found.status == 'partial')} partial, "
        f"{sum(1 for c in built.checklist if c.found.status == 'missing')} missing",
        markup=False,
        highlight=False,
    )
    for note in built.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    return written


# ----------------------------------------------------------------------------- canary writer

_INSTALLED_AS = {
    "drsim-canary": "/usr/local/sbin/drsim-canary (mode 0755)",
    "drsim-canary.service": "/etc/systemd/system/drsim-canary.service",
    "drsim-canary.ps1": "C:\\Program Files\\drsim-canary\\drsim-canary.ps1",
    "register-drsim-canary.ps1": "run once, elevated, after drsim-canary.ps1 is in place",
}


def canary_script(os_name: str, volumes: tuple[str, ...], interval_s: float, out: str | None) -> list[str]:
    """Print the canary writer's files (each under a header naming where it goes), or write them to
    `out`; returns the paths written. docs/azure.md says how to install them."""
    from drsim.cloud.canary import VolumePathError, writer_files
    from drsim.model.types import OsType

    try:
        files = writer_files(OsType(os_name), volumes, interval_s)
    except VolumePathError as exc:
        raise UsageError(f"--volume: {exc}") from exc
    if out is None:
        for name, text in files.items():
            print(f"# ===== {name}: install as {_INSTALLED_AS[name]} =====")
            print(text, end="" if text.endswith("\n") else "\n")
        return []
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8", newline="\n")
        if name == "drsim-canary":
            path.chmod(0o755)
        written.append(str(path))
    return written


# ------------------------------------------------------------------------------ drsim calibrate


def calibrate_fit(
    store: str,
    out: str,
    *,
    since: date | None,
    provider: str,
    include_emulated: bool,
    min_samples: int,
    name: str | None,
    console: Console | None = None,
) -> None:
    """What `drsim calibrate` does: fit, write the file, and show each entry (fitted or kept built-in)."""
    from drsim.compare.calibrate import calibrate

    console = console or Console()
    made = calibrate(store, out, since=since, provider=provider, include_emulated=include_emulated, min_samples=min_samples, name=name)
    table = Table(title=f"calibration {made.name} from {len(made.runs)} run(s)", title_justify="left")
    for column in ("entry", "samples", "runs", "median", "sigma", "built-in median", ""):
        _column(table, column, justify="left" if column in ("entry", "") else "right")
    for entry in made.entries:
        status = Text("fitted", style="green") if entry.fitted else Text(f"kept built-in (fewer than {made.min_samples})", style="yellow")
        table.add_row(
            entry.name,
            str(entry.samples),
            str(entry.runs),
            duration(entry.median_s) if entry.median_s is not None else "-",
            f"{entry.sigma:.3f}" if entry.sigma is not None else "-",
            duration(entry.built_in_median_s),
            status,
        )
    console.print(fitted(table, console.width))
    for reason in made.skipped:
        console.print(f"left out: {reason}", highlight=False)
    if made.emulated:
        console.print(
            Text("EMULATED: these runs were made against drsim's ARM emulator, not Azure; the file says so.", style="bold yellow")
        )
    for entry in made.entries:
        if not entry.fitted:
            console.print(
                f"{entry.name}: {entry.samples} sample(s), fewer than {made.min_samples}: keeps the built-in figure", highlight=False
            )
    console.print(f"wrote {made.path}", highlight=False)


def calibrate_check(
    store: str,
    *,
    calibration: str | None,
    since: date | None,
    provider: str,
    include_emulated: bool,
    trials: int,
    console: Console | None = None,
) -> int:
    """What `drsim calibrate --check` does: each past real drill replayed on the twin; the share of
    measured RTOs inside the predicted p5-p95. Exit 0 (2 when there was nothing to compare)."""
    from drsim.compare.calibrate import check

    console = console or Console()
    outcome = check(
        store,
        calibration=calibration,
        since=since,
        provider=provider,
        include_emulated=include_emulated,
        trials=trials,
        progress=lambda line: console.print(f"twin: {line}", highlight=False) if console.is_terminal else None,
    )
    table = Table(title=f"measured RTO against the twin (catalog {outcome.catalog_version}, {trials} trials each)", title_justify="left")
    for column in ("run", "app", "measured", "p5", "p50", "p95", "inside"):
        _column(table, column, justify="left" if column in ("run", "app") else "right")
    for app in outcome.apps:
        inside = "-" if app.inside is None else (Text("yes", style="green") if app.inside else Text("NO", style="red"))
        table.add_row(
            Path(app.run).name,
            app.app,
            *(duration(s, "exact") for s in (app.measured_s, app.p5_s, app.p50_s, app.p95_s)),  # inside p5-p95 or not, as shown
            inside,
        )
    if outcome.apps:  # no empty table when no real drill was found
        console.print(fitted(table, console.width))
    for reason in outcome.skipped:
        console.print(f"left out: {reason}", highlight=False)
    if not outcome.compared:
        console.print("no measured RTO to compare", highlight=False)
        return UsageError.exit_code
    share = outcome.inside / outcome.compared
    console.print(f"{outcome.inside} of {outcome.compared} measured RTOs ({share:.0%}) inside the predicted p5-p95", highlight=False)
    return 0

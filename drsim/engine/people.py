"""People in the loop: who answers a manual step (manual.declare, manual.approve) in a real-time run.

In virtual time a manual step takes its configured duration and nobody is asked. In a real-time run
(provider azure, or the simulated world with --real-time) the step waits for a person, who answers
either at the run's terminal (a `Prompt`, drsim.console) or from any other shell with `drsim drill
approve RUN_DIR STEP --by NAME`, which leaves an approval file in the run directory:

    approvals/<step>.json    {"step", "attempt", "by", "role", "note", "id"}

written atomically and exclusively (a second approver finds it there and is refused), and only for a
step the journal says is waiting (`waiting_steps`). The run polls for it, checks it again (the step
and attempt it answers, the drill's participants), journals human.acted, and only then removes it,
so the approver can tell from the journal alone whether the run took it. The wait's state is the
journal's: a human.waiting without a human.acted or an end of its task still waits.

The actions (drsim.engine.actions) journal the wait and the answer; this module only finds the answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from drsim.clock import Clock
from drsim.engine.runtime import Waitable, current_runtime
from drsim.measure.events import (
    Event,
    HumanActed,
    HumanWaiting,
    Person,
    RunAborted,
    RunFinished,
    TaskFailed,
    TaskFinished,
    TaskSkipped,
)

APPROVALS = "approvals"
"""The run directory's folder of approval files."""
POLL_S = 0.2
"""Real seconds between two looks for an approval file."""
VIA_TERMINAL = "terminal"
VIA_APPROVE = "drsim drill approve"
NAME_MAX = 100
NOTE_MAX = 2000


@dataclass(frozen=True)
class HumanRequest:
    """A manual step waiting for a person (what human.waiting journals)."""

    waiting: HumanWaiting
    run_dir: Path | None  # where `drsim drill approve` leaves its answer

    @property
    def step(self) -> str:
        return self.waiting.step

    @property
    def verb(self) -> str:
        """What the person does: declare or approve."""
        return action_verb(self.waiting.action.value)

    def approve_command(self) -> str:
        where = str(self.run_dir) if self.run_dir is not None else "RUN_DIR"
        return f"drsim drill approve {where} {self.step} --by NAME [--role ROLE] [--note TEXT]"


@dataclass(frozen=True)
class HumanAnswer:
    """A person's answer to a waiting step."""

    by: str
    role: str | None
    note: str | None
    via: str
    receipt: Path | None = None  # the approval file it came from, removed once the answer is journaled


def action_verb(action: str) -> str:
    return "declare" if action == "manual.declare" else "approve"


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def check_person(participants: Sequence[Person], by: str, role: str | None) -> tuple[str, str | None]:
    """The name and role an answer is journaled with, or ValueError saying why it is refused: an empty
    name, or (with a non-empty participants list) someone not on it, or on it in another role. A listed
    person who gives no role acts in the listed one; names are compared without regard to case."""
    name = " ".join(by.split())
    role = " ".join(role.split()) if role is not None and role.strip() else None
    if not name:
        raise ValueError("a name is needed: who declares or approves is journaled")
    if len(name) > NAME_MAX or (role is not None and len(role) > NAME_MAX):
        raise ValueError(f"a name or role is at most {NAME_MAX} characters")
    if not participants:
        return name, role
    listed = {_key(p.name): p for p in participants}
    person = listed.get(_key(name))
    expected = ", ".join(f"{p.name} ({p.role})" for p in participants)
    if person is None:
        raise ValueError(f"{name} is not on the drill's participants list ({expected})")
    if role is not None and _key(role) != _key(person.role):
        raise ValueError(f"{person.name} is on the drill's participants list as {person.role}, not {role}")
    return person.name, person.role


# ---------------------------------------------------------------------------------- the journal's view


def waiting_steps(events: Sequence[Event]) -> dict[str, HumanWaiting]:
    """The manual steps a journal says are waiting for a person, by step id: a human.waiting not
    followed by a human.acted or an end of its task (timed out, aborted), nor by the run's end."""
    open_waits: dict[str, HumanWaiting] = {}
    for event in events:
        cls = event.__class__
        if cls is HumanWaiting:
            assert isinstance(event, HumanWaiting)
            open_waits[event.task] = event
        elif cls is HumanActed or cls is TaskFailed or cls is TaskFinished or cls is TaskSkipped:
            open_waits.pop(event.task, None)  # type: ignore[attr-defined]
        elif cls is RunFinished or cls is RunAborted:
            open_waits.clear()
    return {w.step: w for w in open_waits.values()}


def last_wait(events: Sequence[Event], step: str) -> tuple[HumanWaiting | None, Event | None]:
    """The step's last human.waiting and what ended it (human.acted, task.failed, ...; None: still open)."""
    waiting: HumanWaiting | None = None
    ended: Event | None = None
    for event in events:
        if isinstance(event, HumanWaiting) and event.step == step:
            waiting, ended = event, None
            continue
        if waiting is None or ended is not None:
            continue
        of_task = isinstance(event, HumanActed | TaskFailed | TaskFinished | TaskSkipped) and event.task == waiting.task
        if of_task or isinstance(event, RunFinished | RunAborted):
            ended = event
    return waiting, ended


# ----------------------------------------------------------------------------------- approval files


@dataclass(frozen=True)
class Approval:
    """An approval file's content."""

    step: str
    attempt: int
    by: str
    role: str | None
    note: str | None
    id: str

    def to_json(self) -> bytes:
        data = {"step": self.step, "attempt": self.attempt, "by": self.by, "role": self.role, "note": self.note, "id": self.id}
        return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Approval:
        data: Any = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("an approval is a JSON object")
        step, attempt, by, role, note, ident = (data.get(k) for k in ("step", "attempt", "by", "role", "note", "id"))
        if not (isinstance(step, str) and isinstance(attempt, int) and isinstance(by, str) and isinstance(ident, str)):
            raise ValueError("an approval needs step, attempt, by and id")
        if not (role is None or isinstance(role, str)) or not (note is None or isinstance(note, str)):
            raise ValueError("role and note are text")
        return cls(step, attempt, by, role, note, ident)


def approval_path(run_dir: Path, step: str) -> Path:
    return run_dir / APPROVALS / f"{step}.json"


def write_approval(run_dir: Path, approval: Approval) -> Path:
    """Leave an approval for the run to take: written whole under a temporary name, then linked into
    place, which fails (FileExistsError) when another approval is already there."""
    folder = run_dir / APPROVALS
    folder.mkdir(exist_ok=True)
    target = approval_path(run_dir, approval.step)
    temporary = folder / f".{approval.step}.{approval.id}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        data = approval.to_json()
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def new_approval(step: str, attempt: int, by: str, role: str | None, note: str | None) -> Approval:
    return Approval(step, attempt, by, role, note, secrets.token_hex(8))


def remove_own_approval(run_dir: Path, approval: Approval) -> None:
    """Remove the approval file if it is still this one (the run did not take it)."""
    path = approval_path(run_dir, approval.step)
    with contextlib.suppress(OSError, ValueError):
        if Approval.from_json(path.read_bytes()).id == approval.id:
            path.unlink()


# -------------------------------------------------------------------------------- the run's side


class Prompt(Protocol):
    """Someone at hand to ask directly (the run's terminal), or who is only told how to answer.

    `ask` gives the answer, or None when nobody will answer there (no terminal, standard input
    closed): the run then waits for `drsim drill approve` alone."""

    async def ask(self, request: HumanRequest) -> HumanAnswer | None: ...


class People(Protocol):
    """What the actions ask when a manual step waits for a person (None in virtual time)."""

    async def answer(self, request: HumanRequest) -> HumanAnswer: ...

    def taken(self, answer: HumanAnswer) -> None:
        """The answer is journaled: its approval file may go."""
        ...


def _speed(clock: Clock) -> float:
    speed = getattr(clock, "speed", None)
    return float(speed) if isinstance(speed, int | float) and speed > 0 else 1.0


class RealTimePeople:
    """A real-time run's people: the terminal prompt (when there is one) and the approval files of
    `drsim drill approve`, whichever answers first."""

    def __init__(self, run_dir: Path, clock: Clock, prompt: Prompt | None = None) -> None:
        self.run_dir = run_dir
        self.clock = clock
        self.prompt = prompt
        self.refused: list[str] = []  # approval files the run refused, and why

    async def answer(self, request: HumanRequest) -> HumanAnswer:
        runtime = current_runtime()
        running = [runtime.spawn(self._inbox(request.waiting), name=f"approvals for {request.step}")]
        if self.prompt is not None:
            running.append(runtime.spawn(self._ask(request, self.prompt), name=f"prompt for {request.step}"))
        first: Waitable[Waitable[HumanAnswer]] = runtime.future()

        def settle(task: Waitable[HumanAnswer]) -> None:
            if not first.done():
                first.set_result(task)

        for task in running:
            task.add_done_callback(settle)
        try:
            winner = await first
            return await winner  # its answer (or what it raised)
        finally:
            for task in running:
                if not task.done():
                    task.cancel()
            await runtime.gather(*running, return_exceptions=True)

    async def _ask(self, request: HumanRequest, prompt: Prompt) -> HumanAnswer:
        try:
            found = await prompt.ask(request)
        except (OSError, ValueError, EOFError) as exc:  # the terminal went away: the approval files still answer
            self.refused.append(f"terminal: {exc}")
            found = None
        if found is None:  # nobody answers here: wait for an approval file (this task is cancelled when one comes)
            never: Waitable[HumanAnswer] = current_runtime().future()
            return await never
        return found

    async def _inbox(self, waiting: HumanWaiting) -> HumanAnswer:
        path = approval_path(self.run_dir, waiting.step)
        pause = POLL_S * _speed(self.clock)
        while True:
            found = self._take(path, waiting)
            if found is not None:
                return found
            await self.clock.sleep(pause)

    def _take(self, path: Path, waiting: HumanWaiting) -> HumanAnswer | None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._refuse(path, f"cannot read it: {exc.strerror or exc}")
            return None
        try:
            approval = Approval.from_json(raw)
            if approval.step != waiting.step:
                raise ValueError(f"it answers step {approval.step}")
            if approval.attempt != waiting.attempt:
                raise ValueError(f"it answers attempt {approval.attempt}, the step waits in attempt {waiting.attempt}")
            by, role = check_person(waiting.participants, approval.by, approval.role)
        except ValueError as exc:
            self._refuse(path, str(exc))
            return None
        note = approval.note.strip() if approval.note and approval.note.strip() else None
        return HumanAnswer(by, role, note[:NOTE_MAX] if note else None, VIA_APPROVE, path)

    def _refuse(self, path: Path, reason: str) -> None:
        self.refused.append(f"{path.name}: {reason}")
        with contextlib.suppress(OSError):
            path.unlink()

    def taken(self, answer: HumanAnswer) -> None:
        if answer.receipt is not None:
            with contextlib.suppress(OSError):
                answer.receipt.unlink()


def participants_text(participants: Sequence[Person]) -> str:
    return ", ".join(f"{p.name} ({p.role})" for p in participants)


def people_of(participants: Sequence[Any]) -> tuple[Person, ...]:
    """The journal's records of a drill's participants (drsim.model.documents.Participant)."""
    return tuple(Person(p.name, p.role) for p in participants)

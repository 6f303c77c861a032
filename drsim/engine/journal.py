"""journal.jsonl: one event per line, each line carrying the SHA-256 of the line before it (`prev`).

Lines are written with one unbuffered write each, so a kill -9 loses at most the line being written;
a torn last line is dropped when the journal is read back. They reach the disk (fsync, by default)
once per event-loop turn in which any was written: an operating-system crash loses at most that
turn's lines, and a turn that writes thousands of lines (a large step starting) syncs once. On resume the
writer first *replays*: every line the resumed run produces again must equal the journaled one, byte
for byte, and is not written twice; from the first new event on, it appends (after a `run.resumed`).
The `run.resumed` lines of earlier resumes are part of the chain and are stepped over in a replay, so
a resumed run that is killed resumes again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from drsim.engine.runtime import current_runtime
from drsim.errors import JournalError
from drsim.measure.events import Event, RunPerformed, RunResumed, event_from_dict, event_to_dict
from drsim.records import json_line

GENESIS = "0" * 64
"""The `prev` of the first line."""


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


_LINE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
# Lines a replay steps over (chained, not produced again): an earlier resume, and the wall-clock end
# of a run that had finished (a resumed finished run ends again, at its own time).
_STEPPED_OVER = tuple(b'{"event":"' + kind.encode() + b'"' for kind in (RunResumed.kind, RunPerformed.kind))


def encode(event: Event, prev: str) -> bytes:
    """The canonical line of an event (without its newline)."""
    data = event_to_dict(event)
    data["prev"] = prev
    return _LINE.encode(data).encode()


@dataclass(frozen=True)
class JournalContents:
    """What a journal holds: its complete lines and their events, and whether a torn last line was dropped."""

    path: Path
    lines: tuple[bytes, ...]
    events: tuple[Event, ...]
    torn: bool
    valid_bytes: int  # length of the complete lines, where appending resumes


def read_journal(path: str | os.PathLike[str]) -> JournalContents:
    """Read and verify a journal: every line parses and names the hash of the line before it."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise JournalError(f"{file}: cannot read the journal ({exc.strerror or exc})") from None
    parts = raw.split(b"\n")
    torn = parts[-1] != b""  # the last write did not reach its newline
    complete = parts[:-1]
    lines: list[bytes] = []
    events: list[Event] = []
    prev = GENESIS
    for number, line in enumerate(complete, start=1):
        try:
            data = json_line(line)
            if not isinstance(data, dict):
                raise ValueError("a journal line is a JSON object")
            if data.get("prev") != prev:
                raise ValueError(f"hash chain broken: prev is {data.get('prev')!r}, the line before hashes to {prev}")
            del data["prev"]
            events.append(event_from_dict(data))
        except ValueError as exc:
            raise JournalError(f"{file}:{number}: {exc}") from None
        lines.append(line)
        prev = line_hash(line)
    valid = sum(len(line) + 1 for line in lines)
    return JournalContents(file, tuple(lines), tuple(events), torn, valid)


class JournalWriter:
    """Appends events to journal.jsonl; in replay mode verifies them against what is already there."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: bool = True,
        replay: JournalContents | None = None,
        append_to: JournalContents | None = None,
    ) -> None:
        """`replay`: verify the events written against the journal's lines (a simulated run resumed from
        its seed), then append. `append_to`: append after the journal's lines (a run resumed against a real
        cloud, which cannot be replayed); a torn last line is dropped either way."""
        self.path = Path(path)
        self.fsync = fsync
        self._expected: Sequence[bytes] = replay.lines if replay is not None else ()
        self._replayed = 0
        self._prev = GENESIS
        if append_to is not None:
            replay = append_to
            if append_to.lines:
                self._prev = line_hash(append_to.lines[-1])
        if replay is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        else:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            os.ftruncate(self._fd, replay.valid_bytes)  # drop a torn last line
        self.lines_written = 0
        self.syncs = 0
        self._sync_due = False

    @property
    def replaying(self) -> bool:
        return self._replayed < len(self._expected)

    def write(self, event: Event) -> None:
        while self.replaying and self._expected[self._replayed].startswith(_STEPPED_OVER):
            self._prev = line_hash(self._expected[self._replayed])
            self._replayed += 1
        line = encode(event, self._prev)
        if self.replaying:
            expected = self._expected[self._replayed]
            if line != expected:
                raise JournalError(
                    f"{self.path}:{self._replayed + 1}: the resumed run does not replay the journal "
                    f"(journaled {expected[:160].decode(errors='replace')}..., now {line[:160].decode(errors='replace')}...): "
                    "resume with the same drill documents, seed, incident time and drsim version"
                )
            self._replayed += 1
            self._prev = line_hash(line)
            return
        if self._expected:  # the replay is over: say so once, then append
            self._expected = ()
            self._append(encode(RunResumed(at=event.at, replayed=self._replayed), self._prev))
            line = encode(event, self._prev)
        self._append(line)

    def _append(self, line: bytes) -> None:
        os.write(self._fd, line + b"\n")
        self._prev = line_hash(line)
        self.lines_written += 1
        if self.fsync and not self._sync_due:
            try:
                runtime = current_runtime()
            except RuntimeError:  # written outside an event loop: to the disk at once
                self._sync()
                return
            self._sync_due = True
            runtime.call_soon(self._sync)

    def _sync(self) -> None:
        self._sync_due = False
        if self._fd >= 0:
            os.fsync(self._fd)
            self.syncs += 1

    def close(self) -> None:
        if self._fd >= 0:
            self._sync()  # a finished journal is on the disk whatever the per-turn policy
            os.close(self._fd)
            self._fd = -1

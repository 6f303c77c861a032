"""A launcher of `drsim` processes for the kill -9 tests (test_resume_azure.py, test_resume_azure_gaps.py),
shared by them as one session fixture (conftest.py): its process imports drsim and the Azure SDK once."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


ZYGOTE = """
import importlib, json, os, sys
# What `drsim drill run` against Azure imports, loaded once so that each child starts at once: drsim's
# command line imports most of it lazily (the SDK's aio clients, the twin, the report), seconds a child.
import drsim.cli, drsim.console, drsim.drills, drsim.preflight, drsim.compare.predict, drsim.report.render, drsim.report.junit
import drsim.cloud.azure.provider, drsim.cloud.azure.clients, drsim.cloud.azure.discovery, drsim.cloud.azure.safety
import azure.core.pipeline.transport._aiohttp, azure.core.rest._aiohttp, markdown
from drsim.cloud.azure import SDK_MODULES
for name in SDK_MODULES:
    importlib.import_module(name)
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        try:
            drsim.cli.main(json.loads(line), prog_name="drsim")
        except SystemExit as exc:
            os._exit(exc.code if isinstance(exc.code, int) else 1)
        os._exit(0)
    print(pid, flush=True)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


class Launcher:
    """Starts `drsim ARGS` processes as a user's shell would run `drsim`, only faster: each is forked from one
    process that has imported drsim and the Azure SDK already (a second and a half a process otherwise),
    and runs drsim's command line (drsim.cli.main) from the start, in a process of its own."""

    def __init__(self) -> None:
        self.code: int | None = None
        self.zygote = subprocess.Popen([sys.executable, "-c", ZYGOTE], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)

    def start(self, args: list[str]) -> int:
        assert self.zygote.stdin is not None
        self.zygote.stdin.write(json.dumps(args).encode() + b"\n")
        return self._line()

    def _line(self) -> int:
        """One number the launcher wrote, read byte by byte (nothing buffered here, so select() tells the truth)."""
        assert self.zygote.stdout is not None
        fd, text = self.zygote.stdout.fileno(), b""
        while not text.endswith(b"\n"):
            byte = os.read(fd, 1)
            if not byte:
                raise AssertionError("the launcher ended")
            text += byte
        return int(text)

    def exit_code(self) -> int:
        if self.code is None:
            self.code = self._line()
        code, self.code = self.code, None
        return code

    def ended(self) -> bool:
        """Whether the process started last has ended (its exit code is then kept for exit_code)."""
        assert self.zygote.stdout is not None
        if self.code is None and select.select([self.zygote.stdout], [], [], 0)[0]:
            self.code = self._line()
        return self.code is not None

    def close(self) -> None:
        assert self.zygote.stdin is not None
        self.zygote.stdin.close()
        self.zygote.wait(30)


@pytest.fixture(scope="session")
def launcher() -> Iterator[Launcher]:
    started = Launcher()
    try:
        yield started
    finally:
        started.close()

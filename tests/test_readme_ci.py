"""The README's two commands, and .ci/run running exactly the README's test command."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S)]


def test_readme_has_exactly_two_commands() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    main_job, tests = commands
    assert "pip install -e ." in main_job and "drsim validate" in main_job
    assert "pip install -e '.[test]'" in tests and tests.endswith("pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    script = ROOT / ".ci" / "run"
    lines = script.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    # `command -v chromium || ...` installs the system browser the HTML report tests need (not a test command)
    commands = [line for line in lines if line and not line.startswith(("#", "set ", "cd ", "command -v chromium "))]
    assert commands == [_readme_commands()[1]]
    assert os.access(script, os.X_OK)


def test_readme_main_job_names_every_example_folder() -> None:
    main_job = _readme_commands()[0]
    for pattern in ("drills/*.yaml", "drills/estates/*.yaml", "drills/plans/*.yaml", "runbooks/*.yaml"):
        assert pattern in main_job
        assert list(ROOT.glob(pattern)), pattern

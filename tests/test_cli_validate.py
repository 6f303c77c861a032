"""`drsim validate` on the examples (all valid) and on tests/data/bad (each with its exact problems)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from drsim import __version__
from drsim.cli import main

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "data" / "bad"
GOOD = ROOT / "tests" / "data" / "good"
EXPECTED: dict[str, list[str]] = yaml.safe_load((BAD / "expected.yaml").read_text())
EXAMPLES = sorted(
    str(p.relative_to(ROOT))
    for pattern in ("drills/*.yaml", "drills/estates/*.yaml", "drills/plans/*.yaml", "runbooks/*.yaml")
    for p in ROOT.glob(pattern)
)


def _validate(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_every_bad_document_has_expectations() -> None:
    on_disk = {p.name for p in BAD.glob("*.yaml")} - {"expected.yaml"}
    assert on_disk == set(EXPECTED)
    assert len(on_disk) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_document_reports_exactly_its_problems(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    code, output = _validate(name)
    assert code == 2
    assert "Traceback" not in output
    problems = [line for line in output.splitlines() if not line.endswith(": valid")]
    expected = EXPECTED[name]
    assert len(problems) == len(expected), output
    for want, got in zip(expected, problems, strict=True):
        location, fragment = want.split(": ", 1)
        assert got.startswith(location + ": "), (want, got)
        assert fragment in got, (want, got)


def test_multi_error_document_reports_every_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    code, output = _validate("multi-error.yaml")
    assert code == 2
    for fragment in (
        "detected_after",
        "unknown key 'sla'",
        "dependency cycle",
        "cidr",
        "must run before 'restore'",
        "point",
        "retries",
        "duplicate step id 'verify'",
        "unknown action 'email.send'",
        "cleanup",
    ):
        assert fragment in output


def test_the_cycle_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    _, output = _validate("cycle.yaml")
    assert "first -> third -> second -> first" in output


def test_every_example_validates() -> None:
    assert len(EXAMPLES) >= 17
    code, output = _validate(*(str(ROOT / e) for e in EXAMPLES))
    assert code == 0, output
    assert output.count(": valid") == len(EXAMPLES)


def test_good_test_documents_validate() -> None:
    code, output = _validate(*(str(p) for p in sorted(GOOD.glob("*.yaml"))))
    assert code == 0, output


def test_json_format_lists_every_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    result = CliRunner().invoke(main, ["validate", "--format", "json", "cycle.yaml", str(GOOD / "plan.yaml")])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert [f["valid"] for f in report["files"]] == [False, True]
    assert report["problems"] == [
        {"path": "cycle.yaml", "line": 8, "col": 38, "message": "dependency cycle: first -> third -> second -> first"}
    ]


def test_json_format_of_valid_documents() -> None:
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(GOOD / "drill.yaml")])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["valid"] is True


def test_a_missing_file_is_invalid_input(tmp_path: Path) -> None:
    code, output = _validate(str(tmp_path / "nowhere.yaml"))
    assert code == 2
    assert "nowhere.yaml:1:1: no such file" in output


def test_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    code, output = _validate(str(tmp_path))
    assert code == 2
    assert "is a directory" in output


def test_validate_needs_a_file() -> None:
    code, _ = _validate()
    assert code == 2


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output

"""`drsim schema KIND` is a valid JSON Schema that accepts every example and rejects what the loader rejects."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from drsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "tests" / "data" / "good"
EXAMPLES = {
    "Estate": ["drills/estates/*.yaml", "tests/data/good/*estate.yaml"],
    "ProtectionPlan": ["drills/plans/*.yaml", "tests/data/good/plan.yaml"],
    "Runbook": ["runbooks/*.yaml", "tests/data/good/runbook.yaml"],
    "Drill": ["drills/2026-*.yaml", "tests/data/good/drill.yaml"],
    "Comparison": ["drills/shop-plans.yaml"],
}


def _schema(kind: str | None) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["schema", *([kind] if kind else [])])
    assert result.exit_code == 0, result.output
    schema: dict[str, Any] = json.loads(result.stdout)
    return schema


def _json_data(path: Path) -> Any:
    """The YAML document as JSON data, as an editor sees it (timestamps are strings)."""

    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        if isinstance(value, datetime | date):
            return value.isoformat().replace("+00:00", "Z")
        return value

    return convert(yaml.safe_load(path.read_text()))


def _examples(kind: str) -> list[Path]:
    return sorted(p for pattern in EXAMPLES[kind] for p in ROOT.glob(pattern))


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_schema_is_valid_and_accepts_every_example(kind: str) -> None:
    schema = _schema(kind)
    Draft202012Validator.check_schema(schema)
    assert schema["title"] == f"drsim {kind}"
    validator = Draft202012Validator(schema)
    examples = _examples(kind)
    assert examples
    for path in examples:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(_json_data(path))]
        assert errors == [], path


def test_schema_of_any_document_accepts_every_example() -> None:
    schema = _schema(None)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for kind in EXAMPLES:
        for path in _examples(kind):
            assert validator.is_valid(_json_data(path)), path


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["steps"][0].update(colour="red"), "unknown key"),
        (lambda d: d["steps"][0].update(action="asr.failover"), "unknown action"),
        (lambda d: d["steps"][0]["with"].update(duration="90"), "duration without unit"),
        (lambda d: d.update(cleanup="sometimes"), "enum"),
        (lambda d: d["scenario"].update(detected_after="-5m"), "negative duration"),
        (lambda d: d.pop("steps"), "missing key"),
        (lambda d: d.update(apiVersion="drsim/v2"), "apiVersion"),
    ],
)
def test_runbook_schema_rejects_what_the_loader_rejects(change: Any, where: str) -> None:
    data = _json_data(ROOT / "runbooks" / "shop-ransomware.yaml")
    change(data)
    assert not Draft202012Validator(_schema("Runbook")).is_valid(data), where


def test_time_of_day_is_hh_mm_in_the_schema() -> None:
    schema = _schema("ProtectionPlan")
    validator = Draft202012Validator(schema)
    data = _json_data(ROOT / "drills" / "plans" / "daily-backup.yaml")
    assert validator.is_valid(data)
    data["rules"][0]["backup"]["at"] = "2:00"
    assert not validator.is_valid(data)


def test_schema_fields_carry_descriptions_for_editors() -> None:
    schema = _schema("Runbook")
    assert "last clean point" in schema["$defs"]["BackupWith"]["properties"]["point"]["description"]

"""--set what-ifs: parsing, applying to plain data, and re-validation that names the override."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from drsim.cli import main
from drsim.compare.inputs import prepare
from drsim.compare.whatif import Override, Target, apply_override, format_path, parse_override, parse_path, parse_value
from drsim.errors import UsageError

DATA = Path(__file__).parent / "data"
COMPARISON = DATA / "store-plans.yaml"
NAMES = ["daily", "enhanced-4h", "asr", "daily-crr"]


def test_parse_override_splits_candidate_target_path_and_value() -> None:
    override = parse_override("asr.plan.rules[0].site_recovery.app_consistent_every=1h", NAMES)
    assert override == Override(
        "asr.plan.rules[0].site_recovery.app_consistent_every=1h",
        "asr",
        Target.PLAN,
        ("rules", 0, "site_recovery", "app_consistent_every"),
        "1h",
    )


def test_candidate_names_with_dots_take_the_longest_match() -> None:
    override = parse_override("a.b.runbook.steps[2].with.recovery_point=latest", ["a", "a.b"])
    assert (override.candidate, override.target, override.path) == ("a.b", Target.RUNBOOK, ("steps", 2, "with", "recovery_point"))


@pytest.mark.parametrize(
    ("text", "value"),
    [("1h", "1h"), ('"02:00"', "02:00"), ("02:00", "02:00"), ("3", 3), ("true", True), ("{tier: db}", {"tier": "db"}), ("", None)],
)
def test_values_are_read_like_document_values(text: str, value: object) -> None:
    assert parse_value(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("asr.plan.rules[0].site_recovery.app_consistent_every", "expected candidate.path=value"),
        ("nope.plan.rules[0].x=1", "unknown candidate 'nope'"),
        ("asr.rules[0].x=1", "after the candidate name comes plan or runbook"),
        ("asr.plan=1", "name a field below asr.plan"),
        ("asr.plan.rules[x]=1", "cannot read the path"),
        ("asr.plan.rules[0]..every=1", "cannot read the path"),
    ],
)
def test_bad_override_text_is_a_usage_error_naming_it(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_override(text, NAMES)
    assert f"--set {text}" in str(caught.value)
    assert message in str(caught.value)


@given(
    st.lists(st.one_of(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), st.integers(0, 99)), min_size=1, max_size=6).filter(
        lambda parts: isinstance(parts[0], str)
    )
)
def test_parse_path_inverts_format_path(parts: list[str | int]) -> None:
    assert parse_path(format_path(parts)) == tuple(parts)


def test_apply_override_copies_and_creates_mappings() -> None:
    data = {"rules": [{"vms": {"app": "x"}, "backup": {"policy": "standard"}}]}
    override = parse_override("asr.plan.rules[0].site_recovery.target_region=centralus", NAMES)
    changed = apply_override(data, override)
    assert changed["rules"][0]["site_recovery"] == {"target_region": "centralus"}
    assert "site_recovery" not in data["rules"][0]


def test_apply_override_index_out_of_range() -> None:
    override = parse_override("asr.plan.rules[3].backup.every=4h", NAMES)
    with pytest.raises(UsageError, match=r"--set asr.plan.rules\[3\].backup.every=4h: rules\[3\] is out of range: rules has 1 item"):
        apply_override({"rules": [{}]}, override)


def test_prepare_applies_a_valid_override() -> None:
    inputs = prepare(
        COMPARISON,
        overrides=["asr.plan.rules[0].site_recovery.app_consistent_every=2h", "daily.runbook.steps[2].with.point=latest-app-consistent"],
    )
    asr = inputs.candidate("asr")
    assert asr.plan.data["rules"][0]["site_recovery"]["app_consistent_every"] == "2h"
    assert asr.overrides == ("asr.plan.rules[0].site_recovery.app_consistent_every=2h",)
    assert inputs.candidate("daily").runbook.data["steps"][2]["with"]["point"] == "latest-app-consistent"
    # Other candidates sharing the same file are untouched.
    assert inputs.candidate("enhanced-4h").runbook.data["steps"][2]["with"]["point"] == "latest"


def test_an_override_the_model_refuses_names_the_override() -> None:
    with pytest.raises(UsageError) as caught:
        prepare(COMPARISON, overrides=["asr.plan.rules[0].site_recovery.app_consistent_every=30m"])
    message = str(caught.value)
    assert message.startswith("--set asr.plan.rules[0].site_recovery.app_consistent_every=30m: the changed plan")
    assert "must be at least 1h" in message
    assert caught.value.exit_code == 2


def test_an_override_the_cross_document_checks_refuse_names_the_override() -> None:
    # A plan without Site Recovery cannot serve a runbook that test-fails over.
    with pytest.raises(UsageError) as caught:
        prepare(COMPARISON, overrides=["asr.plan.rules[0].vms={app: nothing}"])
    assert "--set asr.plan.rules[0].vms={app: nothing}" in str(caught.value)
    assert "matches no VM" in str(caught.value)


def test_an_unknown_key_is_refused() -> None:
    with pytest.raises(UsageError, match="unknown key 'recovery_pont'"):
        prepare(COMPARISON, overrides=["asr.runbook.steps[2].with.recovery_pont=latest"])


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        # store-plans' asr plan does not write app_consistent_every: the override adds it
        ("asr.plan.rules[0].site_recovery.app_consistent_every=30m", "app_consistent_every: must be at least 1h"),
        ("asr.plan.rules[0].site_recovery.app_consistent_every=banana", "app_consistent_every: 'banana' is not a duration"),
        ("asr.plan.rules[0].backup.every=5h", "backup: missing required key 'policy'"),
    ],
)
def test_a_refused_override_that_adds_a_key_names_that_key(tmp_path: Path, override: str, problem: str) -> None:
    """The problem of a key the override added was named after the nearest key the file writes
    ("site_recovery: must be at least 1h"), as if the user had got site_recovery wrong."""
    result = CliRunner().invoke(main, ["compare", str(COMPARISON), "--set", override, "--quiet", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"drsim: --set {override}: the changed plan "), lines
    assert lines[1].strip().startswith(problem), lines

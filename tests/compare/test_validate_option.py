"""`--validate N` checks the fast model against the engine: with `--model engine` there is nothing to
check, so an explicit `--validate N` is refused (exit 2) rather than silently ignored; the default
(50) and `--validate 0` ask for nothing and are accepted. When auto picks the engine, an explicit
`--validate N` is named as unused. Through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner
from comparisons import DATA, comparison

from drsim.cli import main

RESTORE = [("daily", "daily.yaml", "restore.yaml")]


def test_validate_with_the_engine_model_is_a_usage_error(tmp_path: Path) -> None:
    path = comparison(tmp_path, RESTORE)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["compare", str(path), "--model", "engine", "--validate", "5", "--quiet", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    message = " ".join(result.output.split())
    assert "--validate 5 checks the fast model against the engine, and does nothing with --model engine" in message
    assert not out.exists()  # refused before any trial


def test_validate_0_goes_with_the_engine_model(tmp_path: Path) -> None:
    """--validate 0 asks for no check, which the engine model gives (a script may pass it whatever the model);
    the default goes with it too (tests/compare/test_compare_run.py runs --model engine without --validate)."""
    path = comparison(tmp_path, RESTORE)
    args = ["compare", str(path), "--model", "engine", "--validate", "0", "--trials", "1", "--workers", "1", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1), result.output
    assert "model: engine" in result.output and "--validate" not in result.output


def test_an_explicit_validate_that_auto_could_not_use_is_named(tmp_path: Path) -> None:
    """auto falls back to the engine (a restore as disks: the fast model does not model it): the
    --validate asked for checks nothing, and the command says so on stderr."""
    runbook = yaml.safe_load((DATA / "runbooks" / "restore.yaml").read_text())
    runbook["steps"] = [s for s in runbook["steps"] if not s["action"].startswith("check.")]  # restored disks: no VM to check
    for step in runbook["steps"]:
        if step["action"] == "backup.restore":
            step["with"]["as"] = "disks"
    (tmp_path / "disks.yaml").write_text(yaml.safe_dump(runbook, sort_keys=False), encoding="utf-8")
    path = comparison(tmp_path, [("daily", "daily.yaml", str(tmp_path / "disks.yaml"))])
    args = ["compare", str(path), "--validate", "5", "--trials", "1", "--workers", "1", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1), result.output
    text = " ".join(result.output.split())
    assert "model: engine (auto: the fast model does not support daily" in text
    assert "drsim: warning: --validate 5 was not used: the engine ran every trial (auto)" in text
    default = CliRunner().invoke(main, ["compare", str(path), "--trials", "1", "--workers", "1", "--out", str(tmp_path / "p")])
    assert default.exit_code in (0, 1) and "--validate" not in default.output  # the default asks for nothing to be named


def test_validate_0_reports_say_the_engine_ran_no_trial(tmp_path: Path) -> None:
    """With --validate 0 the reports' Model section says that nothing checked the fast model (it said
    "the engine, the reference, ran the first 0 trials of every candidate ... the medians of both")."""
    path = comparison(tmp_path, RESTORE)
    out = tmp_path / "o"
    args = ["compare", str(path), "--model", "fast", "--validate", "0", "--trials", "2", "--workers", "1", "--quiet", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1), result.output
    for name in ("report.md", "report.html"):
        text = " ".join((out / name).read_text(encoding="utf-8").split())
        assert "ran the first 0 trials" not in text, name
        assert "the engine, the reference, ran none of them, so nothing compares the two" in text, name


def test_the_model_line_states_the_whole_agreement_rule(tmp_path: Path) -> None:
    """The model line said "(KS p >= 0.01 and medians within 3% agree)", leaving out the floor: medians a
    minute (a cent for the cost) apart agree whatever their ratio, so validation.csv could say `True`
    beside medians 10 % apart (a Site Recovery RPO of 5 min against 5 min 30 s)."""
    path = comparison(tmp_path, RESTORE)
    out = tmp_path / "o"
    args = ["compare", str(path), "--model", "fast", "--validate", "2", "--trials", "2", "--workers", "1", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1), result.output
    rule = "(KS p >= 0.01 and medians within 3% or 60 s, USD 0.01 for the cost, agree)"
    assert rule in " ".join(result.output.split())
    assert rule in " ".join((out / "report.md").read_text(encoding="utf-8").split()).replace("&gt;", ">")


def test_comparison_json_says_which_model_ran_and_how_its_check_went(tmp_path: Path) -> None:
    """comparison.json, the machine-readable ranking, did not say which model ran the trials nor whether the
    engine agreed with the fast model (only the CSV columns, the reports and the terminal did)."""
    path = comparison(tmp_path, RESTORE)
    base = ["compare", str(path), "--trials", "2", "--workers", "1", "--quiet"]
    fast = CliRunner().invoke(main, [*base, "--model", "fast", "--validate", "2", "--out", str(tmp_path / "f")])
    assert fast.exit_code in (0, 1), fast.output
    found = json.loads((tmp_path / "f" / "comparison.json").read_text(encoding="utf-8"))
    rows = (tmp_path / "f" / "validation.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert found["model"] == "fast"
    assert found["validation"] == {
        "requested_trials": 2,
        "trials": 2,
        "interrupted": False,
        "measures": len(rows),
        "agreeing": sum(row.endswith(",True") for row in rows),
    }
    engine = CliRunner().invoke(main, [*base, "--model", "engine", "--out", str(tmp_path / "e")])
    assert engine.exit_code in (0, 1), engine.output
    found = json.loads((tmp_path / "e" / "comparison.json").read_text(encoding="utf-8"))
    assert found["model"] == "engine" and found["validation"] is None


def test_one_trial_is_one_trial(tmp_path: Path) -> None:
    # A comparison of a single trial, checked against a single engine trial, says "1 trial", not "1 trials".
    path = comparison(tmp_path, RESTORE)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["compare", str(path), "--trials", "1", "--validate", "1", "--out", str(out)])
    assert result.exit_code in (0, 1), result.output
    texts = [" ".join(result.output.split()), (out / "report.md").read_text(), (out / "report.html").read_text()]
    assert "checked against 1 engine trial per candidate" in texts[0]
    assert "1 trial per candidate" in texts[1] and "1 trial per candidate" in texts[2]
    assert not any(" 1 trials" in text or " 1 engine trials" in text for text in texts)

"""`drsim report RUN_DIR`: it checks everything before it writes anything, and refuses to re-seal a run
whose files changed, whose journal is cut, or whose result.json is not what its journal measured."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from report_fixtures import shop_run, write_run

from drsim.cli import main
from drsim.drills import rerender
from drsim.errors import ExecutionError, UsageError
from drsim.measure.result import DrillResult
from drsim.report import verify_bundle
from drsim.report.evidence import write_atomically
from drsim.report.recorded import read_run, result_differences
from drsim.store import HistoryStore


def store_of(run_dir: Path) -> Path:
    """Where `drsim report RUN_DIR` records by default: history.sqlite of RUN_DIR/../.."""
    return run_dir.parent.parent / "history.sqlite"


def report(run_dir: Path, *extra: str) -> tuple[int, str]:
    outcome = CliRunner().invoke(main, ["report", str(run_dir), *extra])
    assert "Traceback" not in outcome.output
    return outcome.exit_code, outcome.output


def snapshot(run_dir: Path) -> dict[str, bytes]:
    """Every file of the run directory and the bytes of its default store."""
    found = {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}
    store = store_of(run_dir)
    found["<store>"] = store.read_bytes() if store.exists() else b""
    return found


def edit_result(run_dir: Path, **changes: object) -> None:
    data = json.loads((run_dir / "result.json").read_text(encoding="utf-8"))
    for path, value in changes.items():
        target = data
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value
    (run_dir / "result.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


@pytest.fixture
def reported(shop_dir: Path) -> Path:
    """The shop run after a first `drsim report`: reports written, recorded, sealed."""
    code, output = report(shop_dir)
    assert code == 0, output
    assert verify_bundle(shop_dir).intact
    return shop_dir


def test_the_fixture_run_agrees_with_its_journal(shop_dir: Path) -> None:
    assert result_differences(read_run(shop_dir)) == []


def test_a_first_report_seals_the_run_and_records_it_once(reported: Path) -> None:
    assert report(reported)[0] == 0, "again: the sealed files are unchanged"
    assert verify_bundle(reported).intact
    with HistoryStore(store_of(reported), create=False) as store:
        assert [r.run_dir for r in store.runs()] == [str(reported.resolve())]


@pytest.mark.parametrize("cut_at", ["mid-line", "line-boundary"])
def test_a_cut_journal_is_refused_and_nothing_changes(reported: Path, cut_at: str) -> None:
    journal = reported / "journal.jsonl"
    raw = journal.read_bytes()
    lines = raw.splitlines(keepends=True)
    journal.write_bytes(raw[: len(raw) // 2] if cut_at == "mid-line" else b"".join(lines[:20]))
    before = snapshot(reported)
    code, output = report(reported)
    assert code == 2
    assert "journal.jsonl" in output and f"drsim evidence verify {reported}` shows" in output
    assert snapshot(reported) == before, "no report, manifest or store row was rewritten"


def test_a_cut_journal_of_an_unsealed_run_is_refused(shop_dir: Path) -> None:
    journal = shop_dir / "journal.jsonl"
    raw = journal.read_bytes()
    journal.write_bytes(raw[: len(raw) // 2])
    before = snapshot(shop_dir)
    code, output = report(shop_dir)
    assert code == 2 and "journal.jsonl: the hash chain is broken" in output
    assert snapshot(shop_dir) == before

    lines = raw.splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:30]))  # cut between two lines: the chain holds, the end is missing
    code, output = report(shop_dir)
    assert code == 2 and "has no run.finished event" in output
    assert not (shop_dir / "report.md").exists() and not (shop_dir / "manifest.json").exists()


def test_a_symbolic_link_in_an_unsealed_run_is_refused_before_anything_is_written(shop_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.txt").write_text("not evidence")
    (shop_dir / "notes.txt").symlink_to(tmp_path / "elsewhere.txt")
    code, output = report(shop_dir)
    assert code == 2 and "a symbolic link in a run directory cannot be evidence" in output
    assert not (shop_dir / "report.md").exists() and not store_of(shop_dir).exists()


def test_an_edited_result_of_a_sealed_run_is_not_resealed(reported: Path) -> None:
    edit_result(reported, apps__1__rpo_s=1.0)
    before = snapshot(reported)
    code, output = report(reported)
    assert code == 2
    assert f"drsim: {reported}: the run no longer matches its sealed manifest.json (result.json: changed" in output
    assert "drsim evidence verify" in output
    assert snapshot(reported) == before
    assert not verify_bundle(reported).intact, "still shows as changed"
    with HistoryStore(store_of(reported), create=False) as store:
        (recorded,) = store.runs()
    assert 1.0 not in {a.rpo_s for a in recorded.apps}


def test_an_added_file_of_a_sealed_run_is_not_resealed(reported: Path) -> None:
    (reported / "notes.txt").write_text("added later")
    code, output = report(reported)
    assert code == 2 and "notes.txt: not in manifest.json" in output


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"apps__1__rpo_s": 1.0}, "shop rpo_s is 1.0, the journal's app.measured says"),
        ({"apps__0__rpo_met": True}, "crm rpo_met is True, the journal's app.measured says False"),
        ({"apps__1__healthy_at": "2026-11-20T15:00:00Z"}, "shop healthy_at is '2026-11-20T15:00:00Z'"),
        ({"status": "passed"}, "status is 'passed', the journal's run.finished says 'failed'"),
        ({"drill": "2026-q4-shop-backup"}, "drill is '2026-q4-shop-backup', the journal's run"),
        ({"seed": 7}, "seed is 7"),
        ({"incident_at": "2026-11-21T14:00:00Z"}, "incident_at is '2026-11-21T14:00:00Z'"),
        ({"tasks__0__attempts": 9}, "tasks[0] (declare on no VM): attempts differ from the journal"),
        ({"cleanup__status": "skipped"}, "cleanup status is 'skipped'"),
    ],
)
def test_a_result_that_disagrees_with_the_journal_is_refused(shop_dir: Path, changes: dict[str, object], said: str) -> None:
    edit_result(shop_dir, **changes)
    before = snapshot(shop_dir)
    code, output = report(shop_dir)
    assert code == 2
    assert output.startswith(f"drsim: {shop_dir / 'result.json'}: does not match the run's journal.jsonl")
    assert said in output
    assert snapshot(shop_dir) == before


def test_another_runs_result_is_refused(tmp_path: Path, shop_dir: Path) -> None:
    other_result, other_events = shop_run(run_id="20260820-140000-s42", drill="2026-q3-shop-asr", rpo_sql_s=600.0)
    other = write_run(tmp_path / "other", other_result, other_events)
    (shop_dir / "result.json").write_bytes((other / "result.json").read_bytes())
    code, output = report(shop_dir)
    assert code == 2 and "drill is '2026-q3-shop-asr'" in output
    assert not (shop_dir / "manifest.json").exists()


def test_a_bad_key_or_store_is_refused_before_anything_is_written(reported: Path, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    before = snapshot(reported)
    code, output = report(reported, "--sign-key", str(garbage))
    assert code == 2 and f"{garbage}: not a PEM file" in output
    foreign = tmp_path / "notes.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    code, output = report(reported, "--store", str(foreign))
    assert code == 2 and f"drsim: {foreign}: not a drsim history store" in output
    assert snapshot(reported) == before


def test_a_signed_run_is_resigned_with_a_key(reported: Path, tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = tmp_path / "sign.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    public = tmp_path / "sign.pub.pem"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert report(reported, "--sign-key", str(pem))[0] == 0
    assert report(reported, "--sign-key", str(pem))[0] == 0, "a signed, intact run re-renders with its key"
    assert verify_bundle(reported, public).signature_verified


def test_rerender_as_a_library_call_refuses_the_same(shop_dir: Path) -> None:
    edit_result(shop_dir, apps__1__rto_s=1.0)
    with pytest.raises(UsageError, match=r"shop rto_s is 1\.0"):
        rerender(shop_dir, ("md",), store_of(shop_dir))
    assert not store_of(shop_dir).exists()


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.md"
    target.write_text("the old report\n")
    real_write = os.write

    def half_then_killed(fd: int, data: bytes | memoryview) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "write", half_then_killed)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, b"the new report\n" * 100)
    monkeypatch.undo()
    assert target.read_text() == "the old report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]
    write_atomically(target, b"new\n")
    assert target.read_bytes() == b"new\n" and [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_a_write_that_fails_is_an_execution_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ExecutionError, match=r"nowhere/report\.md: cannot write the file"):
        write_atomically(tmp_path / "nowhere" / "report.md", b"x")


def test_reports_keep_the_files_mode(reported: Path) -> None:
    mode = (reported / "report.md").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
    assert DrillResult.model_validate_json((reported / "result.json").read_text()).drill == "2026-q4-shop-asr"

"""`drsim drill attest`: a person's verdict on a finished run, chained into its journal, shown in the
report's sign-off, sealed with the run; refused for a run still running or whose evidence does not verify."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from drsim.cli import main
from drsim.engine.journal import read_journal
from drsim.measure.events import RunAttested, RunFinished, Verdict

DRILLS = Path(__file__).resolve().parents[2] / "drills"


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    code, output = cli("drill", "run", str(DRILLS / "2026-q4-shop-snapshot.yaml"), "--out", str(tmp_path / "out"), "--quiet")
    assert code == 1, output  # the snapshot drill fails its canary check (a striped volume): a run worth attesting with exceptions
    (found,) = [p.parent for p in (tmp_path / "out").rglob("result.json")]
    return found


def key_pair(tmp_path: Path, name: str) -> tuple[Path, Path]:
    private = ed25519.Ed25519PrivateKey.generate()
    private_pem, public_pem = tmp_path / f"{name}.pem", tmp_path / f"{name}.pub.pem"
    private_pem.write_bytes(
        private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public_pem.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_pem, public_pem


def attest(
    run_dir: Path, *extra: str, by: str = "Dana Owner", role: str = "drill owner", verdict: str = "passed-with-exceptions"
) -> tuple[int, str]:
    return cli("drill", "attest", str(run_dir), "--by", by, "--role", role, "--verdict", verdict, *extra)


def test_an_attestation_is_chained_shown_in_the_sign_off_and_sealed(run_dir: Path) -> None:
    result_before = (run_dir / "result.json").read_bytes()
    before = read_journal(run_dir / "journal.jsonl")
    report = (run_dir / "report.md").read_text()
    assert "Nobody has attested this run: nothing in this report has been accepted by anyone" in report
    assert "accepted until" not in report and "is accepted" not in report

    code, output = attest(run_dir, "--note", "striped volume: fix the snapshot plan (F-12)")
    assert code == 0, output
    assert "attested passed-with-exceptions by Dana Owner (drill owner)" in output
    after = read_journal(run_dir / "journal.jsonl")  # read_journal checks the chain line by line
    assert after.lines[: len(before.lines)] == before.lines
    (attested,) = after.events[len(before.events) :]
    assert isinstance(attested, RunAttested)
    assert (attested.by, attested.role, attested.verdict, attested.note) == (
        "Dana Owner",
        "drill owner",
        Verdict.PASSED_WITH_EXCEPTIONS,
        "striped volume: fix the snapshot plan (F-12)",
    )
    assert attested.journal_head == hashlib.sha256(before.lines[-1]).hexdigest()
    assert (run_dir / "result.json").read_bytes() == result_before  # an attestation is no measure
    assert attested.result_sha256 == hashlib.sha256(result_before).hexdigest()

    code, output = attest(run_dir, by="Erin Risk", role="risk and compliance", verdict="failed")
    assert code == 0, output
    for name in ("report.md", "report.html"):
        text = (run_dir / name).read_text()
        assert "Dana Owner" in text and "passed-with-exceptions" in text and "Erin Risk" in text and "risk and compliance" in text
        assert "Nobody has attested" not in text
    top, signoff = (run_dir / "report.md").read_text().split("## Sign-off")
    assert "Attested: passed-with-exceptions by Dana Owner (drill owner); failed by Erin Risk (risk and compliance) (see Sign-off)." in top
    assert "| Dana Owner | drill owner | **passed-with-exceptions** |" in signoff
    assert "| Erin Risk | risk and compliance | **failed** |" in signoff
    assert "it accepts nothing on anyone else's behalf" in signoff
    code, output = cli("evidence", "verify", str(run_dir))
    assert code == 0, output
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["journal"]["lines"] == len(before.lines) + 2


def test_tampering_after_an_attestation_is_detected_and_a_tampered_run_is_not_attested(run_dir: Path) -> None:
    assert attest(run_dir)[0] == 0
    journal = run_dir / "journal.jsonl"
    original = journal.read_bytes()
    journal.write_bytes(original.replace(b'"verdict":"passed-with-exceptions"', b'"verdict":"passed"'))
    code, output = cli("evidence", "verify", str(run_dir))
    assert code == 1 and "journal.jsonl" in output
    code, output = attest(run_dir, by="Erin Risk", role="risk and compliance", verdict="passed")
    assert code == 2 and "the evidence does not verify" in output and "refusing to attest" in output
    assert journal.read_bytes().count(b"run.attested") == 1  # nothing appended

    journal.write_bytes(original)
    report = run_dir / "report.md"
    report.write_text(report.read_text().replace("passed-with-exceptions", "passed"))
    code, output = attest(run_dir, by="Erin Risk", role="risk and compliance", verdict="passed")
    assert code == 2 and "report.md: changed" in output


def test_a_run_that_has_not_finished_is_not_attested(run_dir: Path) -> None:
    journal = run_dir / "journal.jsonl"
    lines = journal.read_bytes().split(b"\n")
    finished = next(i for i, e in enumerate(read_journal(journal).events) if isinstance(e, RunFinished))
    journal.write_bytes(b"\n".join(lines[:finished]) + b"\n")  # as a running drill's journal stands
    code, output = attest(run_dir)
    assert code == 2 and "has not finished" in output
    assert b"run.attested" not in journal.read_bytes()


def test_a_signed_run_is_attested_only_with_its_key_and_stays_verifiable(run_dir: Path, tmp_path: Path) -> None:
    private, public = key_pair(tmp_path, "owner")
    other, _ = key_pair(tmp_path, "other")
    code, output = cli("evidence", "seal", str(run_dir), "--sign-key", str(private))
    assert code == 0, output
    code, output = attest(run_dir)
    assert code == 2 and "--sign-key" in output
    code, output = attest(run_dir, "--sign-key", str(other))
    assert code == 2 and f"{other}: not the key this run was signed with" in output
    code, output = attest(run_dir, "--sign-key", str(private))
    assert code == 0, output
    code, output = cli("evidence", "verify", str(run_dir), "--public-key", str(public))
    assert code == 0 and "signature verified" in output


def test_bad_attestations_are_refused(run_dir: Path, tmp_path: Path) -> None:
    code, output = attest(run_dir, verdict="great")
    assert code == 2
    code, output = attest(run_dir, by="  ")
    assert code == 2 and "--by and --role" in output
    code, output = attest(tmp_path / "nowhere")
    assert code == 2 and "not a directory" in output


def test_a_run_signed_with_the_drills_key_is_attested_with_that_key(tmp_path: Path) -> None:
    import yaml

    private, public = key_pair(tmp_path, "drill")
    example = DRILLS / "2026-q4-shop-asr.yaml"
    data = yaml.safe_load(example.read_text())
    for key in ("runbook", "estate", "plan"):
        data[key] = str((example.parent / data[key]).resolve())
    data["evidence"] = {**data.get("evidence", {}), "sign_key": private.name}  # relative to the drill file
    drill = tmp_path / "signed.yaml"
    drill.write_text(yaml.safe_dump(data, sort_keys=False))
    code, output = cli("drill", "run", str(drill), "--out", str(tmp_path / "out"), "--quiet")
    assert code == 0, output
    (run_dir,) = [p.parent for p in (tmp_path / "out").rglob("manifest.sig")]
    code, output = attest(run_dir, verdict="passed")
    assert code == 0, output
    code, output = cli("evidence", "verify", str(run_dir), "--public-key", str(public))
    assert code == 0 and "signature verified" in output
    private.unlink()  # the drill's key is gone: a signed run is then attested only with --sign-key
    code, output = attest(run_dir, by="Erin Risk", role="risk and compliance", verdict="passed")
    assert code == 2 and "--sign-key" in output

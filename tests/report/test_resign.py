"""Sealing a sealed (and signed) run again, as an auditor relies on it: a run whose files changed since
it was sealed is refused whatever the key, the same key seals it again to the same bytes, another key
replaces the signer only with --re-sign (journaled, and shown by `drsim evidence verify`), and a refusal
writes nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from report_fixtures import copy_out

from drsim.cli import main

DRILLS = Path(__file__).resolve().parents[2] / "drills"
RUN = ("2026-q4-shop-backup", "20261120T140000Z-s42")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One --out with one run of the backup drill, sealed and recorded at run time."""
    out = tmp_path_factory.mktemp("pristine") / "reports"
    result = CliRunner().invoke(main, ["drill", "run", str(DRILLS / "2026-q4-shop-backup.yaml"), "--out", str(out), "-q", "--seed", "42"])
    assert result.exit_code == 1, result.output
    return out


@pytest.fixture
def out(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the pristine --out whose store records the copied run directories."""
    return copy_out(pristine, tmp_path / "reports")


@pytest.fixture
def run_dir(out: Path) -> Path:
    return out.joinpath(*RUN)


def make_key(directory: Path, name: str) -> tuple[Path, Path, str]:
    """A private key file, its public key file and its fingerprint (SHA-256 of the raw public key)."""
    private = ed25519.Ed25519PrivateKey.generate()
    private_pem, public_pem = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    private_pem.write_bytes(
        private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public = private.public_key()
    public_pem.write_bytes(public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return private_pem, public_pem, hashlib.sha256(raw).hexdigest()


@pytest.fixture
def alice(tmp_path: Path) -> tuple[Path, Path, str]:
    return make_key(tmp_path, "alice")


@pytest.fixture
def bob(tmp_path: Path) -> tuple[Path, Path, str]:
    return make_key(tmp_path, "bob")


def cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def snapshot(out: Path) -> dict[str, bytes]:
    """Every file under the output directory (the run and its history store), byte for byte."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def last_event(run_dir: Path) -> dict[str, object]:
    event = json.loads((run_dir / "journal.jsonl").read_bytes().splitlines()[-1])
    assert isinstance(event, dict)
    return event


def test_sealing_again_with_the_same_key_is_idempotent(out: Path, run_dir: Path, alice: tuple[Path, Path, str]) -> None:
    key, public, _ = alice
    assert cli("evidence", "seal", run_dir, "--sign-key", key)[0] == 0
    before = snapshot(out)
    assert cli("evidence", "seal", run_dir, "--sign-key", key)[0] == 0
    assert snapshot(out) == before  # same manifest, same (deterministic Ed25519) signature, same store record
    assert cli("report", run_dir, "--sign-key", key)[0] == 0
    after = snapshot(out)
    assert {k: v for k, v in after.items() if k != "history.sqlite"} == {k: v for k, v in before.items() if k != "history.sqlite"}
    code, output = cli("evidence", "verify", run_dir, "--public-key", public)
    assert code == 0 and "signature verified" in output


@pytest.mark.parametrize("command", ["seal", "report"])
def test_a_signed_run_changed_since_it_was_sealed_is_refused_whatever_the_key(
    command: str, out: Path, run_dir: Path, alice: tuple[Path, Path, str], bob: tuple[Path, Path, str]
) -> None:
    assert cli("evidence", "seal", run_dir, "--sign-key", alice[0])[0] == 0
    report = run_dir / "report.md"
    report.write_text(report.read_text().replace("**Status: FAILED.**", "**Status: PASSED.**"))
    before = snapshot(out)
    for key in (alice[0], bob[0]):
        args = ("evidence", "seal", run_dir, "--sign-key", key) if command == "seal" else ("report", run_dir, "--sign-key", key)
        code, output = cli(*args)
        assert code == 2, output
        assert "report.md: changed (its SHA-256 differs from manifest.json)" in output
        assert snapshot(out) == before


def store_key(out: Path, run_dir: Path) -> str | None:
    with sqlite3.connect(out / "history.sqlite") as db:
        (key,) = db.execute("SELECT signing_key_sha256 FROM runs WHERE run_dir = ?", (str(run_dir.resolve()),)).fetchone()
    return key  # type: ignore[no-any-return]


@pytest.mark.parametrize("command", ["seal", "report"])
def test_another_key_is_refused_naming_both_fingerprints_and_nothing_is_written(
    command: str, out: Path, run_dir: Path, alice: tuple[Path, Path, str], bob: tuple[Path, Path, str]
) -> None:
    assert cli("evidence", "seal", run_dir, "--sign-key", alice[0])[0] == 0
    before = snapshot(out)
    args = ("evidence", "seal", run_dir, "--sign-key", bob[0]) if command == "seal" else ("report", run_dir, "--sign-key", bob[0])
    code, output = cli(*args)
    assert code == 2, output
    assert f"signed by the key with fingerprint (SHA-256 of its public key) {alice[2]}" in output
    assert f"{bob[0]} is another key (fingerprint {bob[2]})" in output and "--re-sign" in output
    assert snapshot(out) == before  # the run and the store as they were
    code, output = cli("evidence", "verify", run_dir, "--public-key", alice[1])
    assert code == 0 and "signature verified" in output


@pytest.mark.parametrize("command", ["seal", "report"])
def test_re_sign_replaces_the_signer_and_records_it(
    command: str, out: Path, run_dir: Path, alice: tuple[Path, Path, str], bob: tuple[Path, Path, str]
) -> None:
    assert cli("evidence", "seal", run_dir, "--sign-key", alice[0])[0] == 0
    old_manifest = hashlib.sha256((run_dir / "manifest.json").read_bytes()).hexdigest()
    args = ("evidence", "seal", run_dir) if command == "seal" else ("report", run_dir)
    code, output = cli(*args, "--sign-key", bob[0], "--re-sign")
    assert code == 0, output
    event = last_event(run_dir)
    assert event["event"] == "evidence.resigned"
    assert (event["previous_key_sha256"], event["key_sha256"], event["previous_manifest_sha256"]) == (alice[2], bob[2], old_manifest)
    assert event["user"] and event["host"] and event["at"]
    assert json.loads((run_dir / "manifest.sig").read_text())["public_key_sha256"] == bob[2] == store_key(out, run_dir)
    report = (run_dir / "report.md").read_text()
    assert "| **Signed again with another key (--re-sign)** |" in report and alice[2] in report and bob[2] in report
    assert "signed again with another key 1 time(s)" in report

    code, output = cli("evidence", "verify", run_dir, "--public-key", bob[1])
    assert code == 0, output
    assert f"note: signed again with another key (--re-sign) at {event['at']}" in output
    assert f"the signature of key {alice[2]} (over the manifest with SHA-256 {old_manifest}) was replaced by one of key {bob[2]}" in output
    assert f"signing history (key fingerprints, SHA-256 of the public key): key {alice[2][:16]}..., then key {bob[2][:16]}..." in output
    code, output = cli("evidence", "verify", run_dir, "--public-key", alice[1])
    assert code == 1 and "signed with another key" in output
    # signing again with the new key is idempotent; going back to the old one needs --re-sign again
    before = snapshot(out)
    assert cli("evidence", "seal", run_dir, "--sign-key", bob[0])[0] == 0 and snapshot(out) == before
    assert cli("evidence", "seal", run_dir, "--sign-key", alice[0])[0] == 2 and snapshot(out) == before


def test_re_sign_changes_nothing_when_the_signer_does_not_change(out: Path, run_dir: Path, alice: tuple[Path, Path, str]) -> None:
    lines = (run_dir / "journal.jsonl").read_bytes()
    assert cli("evidence", "seal", run_dir, "--sign-key", alice[0], "--re-sign")[0] == 0  # unsigned: signed for the first time
    assert cli("evidence", "seal", run_dir, "--sign-key", alice[0], "--re-sign")[0] == 0  # the same key: nothing to record
    assert (run_dir / "journal.jsonl").read_bytes() == lines
    code, output = cli("evidence", "verify", run_dir, "--public-key", alice[1])
    assert code == 0 and "signing history" not in output


def test_a_forced_seal_by_another_key_needs_re_sign_too(
    out: Path, run_dir: Path, alice: tuple[Path, Path, str], bob: tuple[Path, Path, str]
) -> None:
    assert cli("evidence", "seal", run_dir, "--sign-key", alice[0])[0] == 0
    (run_dir / "report.md").write_text("# all good\n")
    before = snapshot(out)
    code, output = cli("evidence", "seal", run_dir, "--sign-key", bob[0], "--force")
    assert code == 2 and "--re-sign" in output and alice[2] in output and snapshot(out) == before
    code, output = cli("evidence", "seal", run_dir, "--sign-key", bob[0], "--force", "--re-sign")
    assert code == 0, output
    kinds = [json.loads(line)["event"] for line in (run_dir / "journal.jsonl").read_bytes().splitlines()[-2:]]
    assert kinds == ["evidence.resealed", "evidence.resigned"]
    code, output = cli("evidence", "verify", run_dir, "--public-key", bob[1])
    assert code == 0 and "note: sealed again with --force" in output and "note: signed again with another key" in output


def test_a_re_signed_run_is_not_resumed(out: Path, run_dir: Path, alice: tuple[Path, Path, str], bob: tuple[Path, Path, str]) -> None:
    """A resume replays the run, never what people did with it afterwards (as for evidence.resealed)."""
    assert cli("evidence", "seal", run_dir, "--sign-key", alice[0])[0] == 0
    assert cli("evidence", "seal", run_dir, "--sign-key", bob[0], "--re-sign")[0] == 0
    before = snapshot(out)
    code, output = cli("drill", "run", "--resume", run_dir)
    assert code == 2 and "signed again with another key after it" in output and "evidence.resigned" in output
    assert snapshot(out) == before


@pytest.mark.parametrize("re_sign", [False, True])
def test_a_refused_forced_seal_writes_nothing(
    re_sign: bool, out: Path, run_dir: Path, alice: tuple[Path, Path, str], bob: tuple[Path, Path, str]
) -> None:
    """A symbolic link cannot be evidence: the seal is refused, and it used to be refused only after the
    journal had its evidence.resealed line and the reports were rendered again, leaving a run that no
    longer verified even once the link was gone."""
    assert cli("evidence", "seal", run_dir, "--sign-key", alice[0])[0] == 0
    (run_dir / "extra.md").symlink_to("report.md")
    before = snapshot(out)
    options = ("--sign-key", bob[0], "--force", "--re-sign") if re_sign else ("--sign-key", alice[0], "--force")
    code, output = cli("evidence", "seal", run_dir, *options)
    assert code == 2 and "extra.md: a symbolic link in a run directory cannot be evidence" in output
    assert snapshot(out) == before
    (run_dir / "extra.md").unlink()
    code, output = cli("evidence", "verify", run_dir, "--public-key", alice[1])
    assert code == 0, output


def test_a_seal_that_cannot_be_put_in_place_keeps_the_old_manifest_with_its_signature(
    monkeypatch: pytest.MonkeyPatch, run_dir: Path, alice: tuple[Path, Path, str], bob: tuple[Path, Path, str]
) -> None:
    """The new manifest.json is in place, its manifest.sig cannot be (a full disk): the old manifest is put
    back beside the old signature, which still verifies it, rather than left under a signature not made over it."""
    import os

    assert cli("evidence", "seal", run_dir, "--sign-key", alice[0])[0] == 0
    manifest, signature = (run_dir / "manifest.json").read_bytes(), (run_dir / "manifest.sig").read_bytes()
    replace = os.replace

    def full_disk(source: str | Path, target: str | Path) -> None:
        if Path(target).name == "manifest.sig":
            raise OSError(28, "No space left on device")
        replace(source, target)

    monkeypatch.setattr(os, "replace", full_disk)
    code, output = cli("evidence", "seal", run_dir, "--sign-key", bob[0], "--re-sign")
    monkeypatch.undo()
    assert code == 3 and "cannot put the new manifest.json and manifest.sig in place (No space left on device)" in output
    assert (run_dir / "manifest.json").read_bytes() == manifest and (run_dir / "manifest.sig").read_bytes() == signature
    assert not list(run_dir.glob(".*.tmp"))
    public = serialization.load_pem_public_key(alice[1].read_bytes())
    assert isinstance(public, ed25519.Ed25519PublicKey)
    public.verify(base64.b64decode(json.loads(signature)["signature"]), manifest)  # the old signer's word is intact
    code, output = cli("evidence", "verify", run_dir, "--public-key", alice[1])
    assert code == 1 and "manifest.sig" not in output  # the journal line of the re-sign is found; the signature holds
    assert "journal.jsonl line" in output and "added after the run was sealed" in output


def test_a_signature_removed_by_hand_still_names_its_signer(
    out: Path, run_dir: Path, alice: tuple[Path, Path, str], bob: tuple[Path, Path, str]
) -> None:
    """The history store recorded the key that signed the run: removing manifest.sig and forcing a seal by
    another key does not change the signer without --re-sign."""
    assert cli("evidence", "seal", run_dir, "--sign-key", alice[0])[0] == 0
    (run_dir / "manifest.sig").unlink()
    before = snapshot(out)
    code, output = cli("evidence", "seal", run_dir, "--sign-key", bob[0], "--force")
    assert code == 2 and f"signed by the key with fingerprint (SHA-256 of its public key) {alice[2]}" in output
    assert "manifest.sig is gone, but the history store" in output and snapshot(out) == before
    assert cli("evidence", "seal", run_dir, "--sign-key", bob[0], "--force", "--re-sign")[0] == 0
    event = last_event(run_dir)
    assert event["event"] == "evidence.resigned" and (event["previous_key_sha256"], event["key_sha256"]) == (alice[2], bob[2])
    assert cli("evidence", "verify", run_dir, "--public-key", bob[1])[0] == 0

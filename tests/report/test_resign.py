"""Sealing a sealed (and signed) run again, as an auditor relies on it: a run whose files changed since
it was sealed is refused whatever the key, the same key seals it again to the same bytes, another key
replaces the signer only with --re-sign (journaled, and shown by `drsim evidence verify`), and a refusal
writes nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

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
    copy = tmp_path / "reports"
    shutil.copytree(pristine, copy)
    with sqlite3.connect(copy / "history.sqlite") as db:
        db.execute("UPDATE runs SET run_dir = replace(run_dir, ?, ?)", (str(pristine.resolve()), str(copy.resolve())))
    return copy


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

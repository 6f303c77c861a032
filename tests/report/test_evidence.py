"""The evidence bundle: a sealed run verifies; any changed byte of any file or journal line is found and named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from drsim.cli import main
from drsim.errors import UsageError
from drsim.report import render_run, verify_bundle, write_manifest
from drsim.report.evidence import GENESIS, line_digest

SMALL = ("result.json", "manifest.json")


@pytest.fixture
def sealed(shop_dir: Path) -> Path:
    render_run(shop_dir)
    write_manifest(shop_dir)
    return shop_dir


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private = ed25519.Ed25519PrivateKey.generate()
    private_pem = tmp_path / "sign.pem"
    private_pem.write_bytes(
        private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public_pem = tmp_path / "sign.pub.pem"
    public_pem.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_pem, public_pem


def flipped(path: Path, offset: int) -> bytes:
    """Change one bit of one byte; return the original bytes."""
    original = path.read_bytes()
    path.write_bytes(original[:offset] + bytes([original[offset] ^ 0x01]) + original[offset + 1 :])
    return original


def positions(path: Path) -> list[int]:
    """Every byte of result.json and manifest.json; five bytes of every journal line (first, inside `prev`,
    middle, last, its newline); about a hundred bytes spread over each report file."""
    raw = path.read_bytes()
    if path.name == "journal.jsonl":
        found, start = [], 0
        for line in raw.splitlines(keepends=True):
            prev = line.index(b'"prev":"') + 10
            found += [start, start + prev, start + len(line) // 2, start + len(line) - 2, start + len(line) - 1]
            start += len(line)
        return found
    if path.name in SMALL:
        return list(range(len(raw)))
    return sorted({0, len(raw) - 1, *range(0, len(raw), max(1, len(raw) // 97))})


def journal_line_of(raw: bytes, offset: int) -> int:
    return raw[:offset].count(b"\n") + 1


def test_a_sealed_run_verifies(sealed: Path) -> None:
    found = verify_bundle(sealed)
    assert found.intact, found.problems
    assert found.files == 5 and found.journal_lines == 49 and not found.signed
    manifest = json.loads((sealed / "manifest.json").read_text())
    assert [f["path"] for f in manifest["files"]] == ["journal.jsonl", "report.html", "report.md", "result.json", "timeline.svg"]
    last = (sealed / "journal.jsonl").read_bytes().splitlines()[-1]
    assert manifest["journal"] == {"path": "journal.jsonl", "lines": 49, "chain_head": line_digest(last)}


@pytest.mark.parametrize("name", ["result.json", "journal.jsonl", "manifest.json", "report.md", "report.html", "timeline.svg"])
def test_every_changed_byte_is_detected_and_named(sealed: Path, name: str) -> None:
    """One bit of one byte changed at a time, at the positions `positions` picks."""
    path = sealed / name
    for offset in positions(path):
        original = flipped(path, offset)
        try:
            found = verify_bundle(sealed)
        finally:
            path.write_bytes(original)
        assert not found.intact, f"{name} byte {offset} changed unnoticed"
        if name == "journal.jsonl":
            line = journal_line_of(original, offset)
            named = [p for p in found.problems if p.startswith("journal.jsonl line ")]
            assert named, found.problems
            number = int(named[0].split()[2].rstrip(":"))
            assert number in (line, line + 1), f"byte {offset} is on line {line}, the problem names {named[0]}"
        elif name != "manifest.json":
            assert any(p.startswith(f"{name}: changed") for p in found.problems), found.problems
    assert verify_bundle(sealed).intact


def test_added_removed_and_truncated_files_are_named(sealed: Path) -> None:
    (sealed / "notes.txt").write_text("added later")
    assert verify_bundle(sealed).problems == ["notes.txt: not in manifest.json (added after the run was sealed)"]
    (sealed / "notes.txt").unlink()
    (sealed / "timeline.svg").unlink()
    assert verify_bundle(sealed).problems == ["timeline.svg: missing (listed in manifest.json)"]


def test_journal_cut_or_extended_is_named(sealed: Path) -> None:
    journal = sealed / "journal.jsonl"
    raw = journal.read_bytes()
    lines = raw.splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:-1]))
    assert "journal.jsonl: 1 line(s) removed from the end (sealed with 49)" in verify_bundle(sealed).problems
    extra = json.dumps({"event": "run.finished", "at": "2026-11-20T15:06:00Z", "status": "passed", "prev": line_digest(lines[-1])})
    journal.write_bytes(raw + extra.encode() + b"\n")
    assert "journal.jsonl line 50: added after the run was sealed" in verify_bundle(sealed).problems


def test_a_rewritten_journal_with_a_fresh_chain_still_fails(sealed: Path) -> None:
    """Forging a line and recomputing every later prev keeps the chain whole, but not the manifest's head."""
    journal = sealed / "journal.jsonl"
    events = [json.loads(line) for line in journal.read_bytes().splitlines()]
    events[10]["at"] = "2026-11-20T14:01:00Z"
    prev, out = GENESIS, []
    for event in events:
        line = json.dumps({**event, "prev": prev}, separators=(",", ":")).encode()
        out.append(line + b"\n")
        prev = line_digest(line)
    journal.write_bytes(b"".join(out))
    assert verify_bundle(sealed).problems == ["journal.jsonl line 49: changed (the chain head differs from manifest.json)"]


def test_signed_bundle_verifies_and_every_signature_byte_matters(sealed: Path, keys: tuple[Path, Path]) -> None:
    private_pem, public_pem = keys
    write_manifest(sealed, private_pem)
    found = verify_bundle(sealed, public_pem)
    assert found.intact and found.signature_verified
    assert verify_bundle(sealed).signed and not verify_bundle(sealed).signature_verified
    for name in ("manifest.sig", "manifest.json"):
        path = sealed / name
        for offset in range(path.stat().st_size):
            original = flipped(path, offset)
            try:
                assert not verify_bundle(sealed, public_pem).intact, f"{name} byte {offset}"
            finally:
                path.write_bytes(original)


def test_wrong_key_missing_signature_and_unsigned_reseal(sealed: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    private_pem, public_pem = keys
    other = tmp_path / "other.pub.pem"
    other.write_bytes(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert "manifest.sig: missing, but a public key was given: the bundle is not signed" in verify_bundle(sealed, public_pem).problems
    write_manifest(sealed, private_pem)
    problems = verify_bundle(sealed, other).problems
    assert len(problems) == 1 and problems[0].startswith("manifest.sig: signed with another key") and str(other) in problems[0]
    write_manifest(sealed)  # sealing again without a key drops the stale signature
    assert not (sealed / "manifest.sig").exists()


def test_bad_keys_are_usage_errors(sealed: Path, tmp_path: Path) -> None:
    ec_key = tmp_path / "ec.pem"
    ec_key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(UsageError, match=r"an elliptic-curve \(ECDSA\) private key; drsim signs with Ed25519 only"):
        write_manifest(sealed, ec_key)
    locked = tmp_path / "locked.pem"
    locked.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"secret")
        )
    )
    with pytest.raises(UsageError, match="DRSIM_SIGN_KEY_PASSPHRASE"):
        write_manifest(sealed, locked)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    with pytest.raises(UsageError, match="not a PEM file"):
        write_manifest(sealed, garbage)


def test_an_encrypted_key_signs_with_its_passphrase(sealed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    locked = tmp_path / "locked.pem"
    locked.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"secret")
        )
    )
    public = tmp_path / "public.pem"
    public.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    monkeypatch.setenv("DRSIM_SIGN_KEY_PASSPHRASE", "secret")
    write_manifest(sealed, locked)
    assert verify_bundle(sealed, public).signature_verified


def test_sealing_refuses_a_broken_chain(shop_dir: Path) -> None:
    journal = shop_dir / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:3] + lines[4:]))
    with pytest.raises(UsageError, match="hash chain is broken"):
        write_manifest(shop_dir)


def test_cli_verify_exit_codes(sealed: Path, keys: tuple[Path, Path]) -> None:
    runner = CliRunner()
    intact = runner.invoke(main, ["evidence", "verify", str(sealed)])
    assert intact.exit_code == 0 and "intact: 5 files, journal of 49 lines" in intact.output
    original = flipped(sealed / "result.json", 100)
    changed = runner.invoke(main, ["evidence", "verify", str(sealed)])
    assert changed.exit_code == 1 and "result.json: changed" in changed.output
    (sealed / "result.json").write_bytes(original)
    private_pem, public_pem = keys
    assert runner.invoke(main, ["evidence", "seal", str(sealed), "--sign-key", str(private_pem)]).exit_code == 0
    signed = runner.invoke(main, ["evidence", "verify", str(sealed), "--public-key", str(public_pem)])
    assert signed.exit_code == 0 and "signature verified" in signed.output
    missing = runner.invoke(main, ["evidence", "verify", str(sealed / "nope")])
    assert missing.exit_code == 2 and "not a directory" in missing.output
    (sealed / "manifest.json").unlink()
    unsealed = runner.invoke(main, ["evidence", "verify", str(sealed)])
    assert unsealed.exit_code == 1 and "manifest.json: missing" in unsealed.output

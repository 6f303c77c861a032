"""`drsim drill attest --sign-key` on a run sealed without a signature signs the re-sealed run (as its
help says): it used to check the unsigned bundle against the key's public half and refuse it
("manifest.sig: missing, but a public key was given")."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from drsim.cli import main

DRILLS = Path(__file__).resolve().parents[2] / "drills"


def test_attesting_an_unsigned_run_with_a_key_signs_it(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(main, ["drill", "run", str(DRILLS / "2026-q4-web-image.yaml"), "--out", str(tmp_path / "out"), "-q"])
    assert made.exit_code == 0, made.output
    (run_dir,) = (tmp_path / "out" / "2026-q4-web-image").iterdir()
    assert not (run_dir / "manifest.sig").exists()
    private = ed25519.Ed25519PrivateKey.generate()
    key, public = tmp_path / "owner.pem", tmp_path / "owner.pub.pem"
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    public.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    attest = ["drill", "attest", str(run_dir), "--by", "Dana Owner", "--role", "drill owner", "--verdict", "passed"]
    attested = runner.invoke(main, [*attest, "--sign-key", str(key)])
    assert attested.exit_code == 0, attested.output
    assert (run_dir / "manifest.sig").exists()
    verified = runner.invoke(main, ["evidence", "verify", str(run_dir), "--public-key", str(public)])
    assert verified.exit_code == 0 and "signature verified" in verified.output, verified.output

    (run_dir / "report.md").write_text((run_dir / "report.md").read_text() + "\nchanged\n")  # a tampered run is still refused
    refused = runner.invoke(
        main, ["drill", "attest", str(run_dir), "--by", "Eve", "--role", "auditor", "--verdict", "passed", "--sign-key", str(key)]
    )
    assert refused.exit_code == 2 and "report.md" in refused.output, refused.output

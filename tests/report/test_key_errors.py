"""A wrong key file, given to any command that signs or checks a signature, is named with what is
wrong with it (never a Python exception or class name): exit 2 before anything is written; a key
that does not match the run's signature is named too."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from drsim.cli import main

DRILL = Path(__file__).resolve().parents[2] / "drills" / "2026-q4-web-image.yaml"
PYTHON_NAMES = ("Error", "Exception", "PrivateKey", "PublicKey", "Traceback", "UnsupportedAlgorithm")

PEM, PKCS8, SPKI = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.PublicFormat.SubjectPublicKeyInfo


def _private(key: object, encryption: serialization.KeySerializationEncryption | None = None) -> bytes:
    return key.private_bytes(PEM, PKCS8, encryption or serialization.NoEncryption())  # type: ignore[attr-defined]


def _public(key: object) -> bytes:
    return key.public_key().public_bytes(PEM, SPKI)  # type: ignore[attr-defined]


def _certificate() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "drsim")])
    now = dt.datetime.now(dt.UTC)
    built = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return built.public_bytes(PEM)


OWNER = ed25519.Ed25519PrivateKey.generate()
OTHER = ed25519.Ed25519PrivateKey.generate()
RSA = rsa.generate_private_key(public_exponent=65537, key_size=1024)
EC = ec.generate_private_key(ec.SECP256R1())

# name -> (the file's bytes, what the message says of it when a private key is wanted, when a public key is)
BAD: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "rsa": (lambda: _private(RSA), "an RSA private key; drsim signs with Ed25519 only", "a private key; verifying needs its public key"),
    "ec-public": (lambda: _public(EC), "a public key; signing needs the private key", "an elliptic-curve (ECDSA) public key"),
    "ed25519-public": (lambda: _public(OWNER), "a public key; signing needs the private key", ""),
    "ed25519-private": (lambda: _private(OWNER), "", "a private key; verifying needs its public key"),
    "garbage": (lambda: b"not a key\n", "not a PEM file", "not a PEM file"),
    "empty": (lambda: b"", "is empty, not a signing key", "is empty, not a public key"),
    "der": (
        lambda: OWNER.private_bytes(serialization.Encoding.DER, PKCS8, serialization.NoEncryption()),
        "not a PEM file",
        "not a PEM file",
    ),
    "openssh": (
        lambda: OWNER.private_bytes(PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()),
        "an OpenSSH private key",
        "an OpenSSH private key",
    ),
    "certificate": (_certificate, "a certificate, not a key", "a certificate, not a key"),
    "truncated": (
        lambda: b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "cannot be read as an Ed25519 private key",
        "",
    ),
}


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A signed run (the image drill, the cheapest) and its public key; the tests below only read it."""
    root = tmp_path_factory.mktemp("keys")
    (root / "owner.pem").write_bytes(_private(OWNER))
    (root / "owner.pub.pem").write_bytes(_public(OWNER))
    code, output = cli("drill", "run", str(DRILL), "--out", str(root / "out"), "--quiet")
    assert code == 0, output
    (run,) = [p.parent for p in (root / "out").rglob("result.json")]
    code, output = cli("evidence", "seal", str(run), "--sign-key", str(root / "owner.pem"))
    assert code == 0, output
    return run, root


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _check(code: int, output: str, key: Path, said: str) -> None:
    assert code == 2, output
    assert output.startswith(f"drsim: {key}: {said}") or f": {key}: " in output, output
    assert said in output, output
    assert not any(name in output for name in PYTHON_NAMES), output


@pytest.mark.parametrize("kind", sorted(name for name, (_, private, _) in BAD.items() if private))
def test_a_wrong_signing_key_is_named_with_what_it_is(signed: tuple[Path, Path], tmp_path: Path, kind: str) -> None:
    run, _ = signed
    data, said, _ = BAD[kind]
    key = tmp_path / f"{kind}.pem"
    key.write_bytes(data())
    before = _snapshot(run.parent.parent)
    for command in (
        ("drill", "attest", str(run), "--by", "Dana", "--role", "drill owner", "--verdict", "passed", "--sign-key", str(key)),
        ("evidence", "seal", str(run), "--sign-key", str(key)),
        ("report", str(run), "--sign-key", str(key)),
        (
            "coverage",
            "--period",
            "2026-Q4",
            "--store",
            str(run.parent.parent / "history.sqlite"),
            "--out",
            str(tmp_path / "packet"),
            "--sign-key",
            str(key),
        ),
    ):
        code, output = cli(*command)
        _check(code, output, key, said)
    assert _snapshot(run.parent.parent) == before and not (tmp_path / "packet").exists()


@pytest.mark.parametrize("kind", sorted(name for name, (_, _, public) in BAD.items() if public))
def test_a_wrong_public_key_is_named_with_what_it_is(signed: tuple[Path, Path], tmp_path: Path, kind: str) -> None:
    run, _ = signed
    data, _, said = BAD[kind]
    key = tmp_path / f"{kind}.pem"
    key.write_bytes(data())
    code, output = cli("evidence", "verify", str(run), "--public-key", str(key))
    _check(code, output, key, said)


def test_a_key_that_does_not_match_the_signature_is_named(signed: tuple[Path, Path], tmp_path: Path) -> None:
    run, root = signed
    other_private, other_public = tmp_path / "other.pem", tmp_path / "other.pub.pem"
    other_private.write_bytes(_private(OTHER))
    other_public.write_bytes(_public(OTHER))
    code, output = cli("evidence", "verify", str(run), "--public-key", str(other_public))
    assert code == 1, output  # the bundle does not verify with the key the auditor trusts
    (line,) = [line for line in output.splitlines() if "manifest.sig" in line]
    assert "signed with another key" in line and f"than {other_public} (SHA-256" in line, output
    code, output = cli(
        "drill", "attest", str(run), "--by", "Dana", "--role", "owner", "--verdict", "passed", "--sign-key", str(other_private)
    )
    _check(code, output, other_private, "not the key this run was signed with")
    code, output = cli("evidence", "verify", str(run), "--public-key", str(root / "owner.pub.pem"))
    assert code == 0 and "signature verified" in output, output


def test_a_wrong_passphrase_is_said_so(signed: tuple[Path, Path], tmp_path: Path) -> None:
    run, _ = signed
    locked = tmp_path / "locked.pem"
    locked.write_bytes(_private(OWNER, serialization.BestAvailableEncryption(b"secret")))
    attest = ("drill", "attest", str(run), "--by", "Dana", "--role", "owner", "--verdict", "passed", "--sign-key", str(locked))
    code, output = cli(*attest, env={"DRSIM_SIGN_KEY_PASSPHRASE": "wrong"})
    _check(code, output, locked, "the passphrase in $DRSIM_SIGN_KEY_PASSPHRASE does not decrypt this key")
    code, output = cli(*attest, env={"DRSIM_SIGN_KEY_PASSPHRASE": ""})
    _check(code, output, locked, "the key is encrypted; put its passphrase in $DRSIM_SIGN_KEY_PASSPHRASE")


def test_a_passphrase_set_for_another_key_does_not_stop_an_unencrypted_one(signed: tuple[Path, Path], tmp_path: Path) -> None:
    run, root = signed
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    code, output = cli(
        "evidence",
        "seal",
        str(copy),
        "--sign-key",
        str(root / "owner.pem"),
        "--store",
        str(tmp_path / "h.sqlite"),
        env={"DRSIM_SIGN_KEY_PASSPHRASE": "for another key"},
    )
    assert code == 0, output

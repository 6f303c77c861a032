"""Checks made before a command works: where it writes, the history store, the drill's signing key.

The process runs as any user (root included), so places no one can write are taken from the kernel:
/proc accepts no new files and /sys refuses them even to root.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from drsim.errors import DocumentError, Problem, UsageError
from drsim.model import Drill, load
from drsim.preflight import check_directory, check_drill_run, check_history_store, check_output_file, check_sign_key
from drsim.store import HistoryStore

ROOT = Path(__file__).resolve().parents[1]
DRILL = ROOT / "drills" / "2026-q4-shop-asr.yaml"
needs_proc = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")


def test_a_directory_to_create_is_fine_and_is_not_created(tmp_path: Path) -> None:
    check_directory(tmp_path, "--out")
    check_directory(tmp_path / "a" / "b", "--out")
    assert list(tmp_path.iterdir()) == []


def test_a_file_on_the_way_is_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match=r"/file/out: cannot be created: .*/file is not a directory \(--out\)"):
        check_directory(tmp_path / "file" / "out", "--out")
    with pytest.raises(UsageError, match=r"/file: is not a directory \(--out\)"):
        check_directory(tmp_path / "file", "--out")


@needs_proc
def test_a_place_that_takes_no_files_is_refused_naming_the_path_and_option() -> None:
    with pytest.raises(UsageError) as raised:
        check_directory("/proc/reports", "--out")
    assert raised.value.format_message().startswith("/proc/reports: cannot create files in /proc: ")
    assert raised.value.format_message().endswith("(--out)")
    with pytest.raises(UsageError, match=r"^/proc/junit.xml: cannot create files in /proc: .* \(--junit\)$"):
        check_output_file("/proc/junit.xml", "--junit")


def test_an_output_file_may_not_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"is a directory, not a file \(--junit\)"):
        check_output_file(tmp_path, "--junit")
    existing = tmp_path / "junit.xml"
    existing.write_text("old")
    check_output_file(existing, "--junit")
    assert existing.read_text() == "old"


def test_a_store_must_be_a_drsim_store_of_a_known_schema(tmp_path: Path) -> None:
    check_history_store(tmp_path / "new.sqlite", "--store")
    assert not (tmp_path / "new.sqlite").exists()
    text = tmp_path / "text.sqlite"
    text.write_text("not a database, but long enough to look like one's header" * 20)
    with pytest.raises(UsageError, match=r"text\.sqlite: not a drsim history store"):
        check_history_store(text, "--store")
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as db:
        db.executescript("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (99);")
    with pytest.raises(UsageError, match="newer drsim"):
        check_history_store(newer, "--store")
    with pytest.raises(UsageError, match=r"is a directory, not a history store \(--store\)"):
        check_history_store(tmp_path, "--store")
    HistoryStore(tmp_path / "good.sqlite").close()
    check_history_store(tmp_path / "good.sqlite", "--store")


def _drill_with_key(tmp_path: Path, key: str) -> Path:
    text = DRILL.read_text().replace("evidence:\n", f"evidence:\n  sign_key: {key}\n")
    for name in ("../runbooks/", "estates/", "plans/"):
        text = text.replace(f": {name}", f": {(DRILL.parent / name).resolve()}/")
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    return path


def _key_problems(drill: Path) -> list[Problem]:
    with pytest.raises(DocumentError) as raised:
        check_sign_key(load(drill, Drill))
    return raised.value.problems


def test_a_missing_signing_key_is_located_at_its_field(tmp_path: Path) -> None:
    drill = _drill_with_key(tmp_path, "nokey.pem")
    line = drill.read_text().splitlines().index("  sign_key: nokey.pem") + 1
    message = f"evidence.sign_key: {tmp_path / 'nokey.pem'}: cannot read the signing key: No such file or directory"
    assert _key_problems(drill) == [Problem(str(drill), line, 13, message)]


def test_a_signing_key_must_be_an_ed25519_private_key(tmp_path: Path) -> None:
    drill = _drill_with_key(tmp_path, "key.pem")
    (tmp_path / "key.pem").write_text("garbage\n")
    assert "evidence.sign_key: " in _key_problems(drill)[0].message
    assert f"{tmp_path / 'key.pem'}: not a PEM file" in _key_problems(drill)[0].message
    other = ec.generate_private_key(ec.SECP256R1())
    pem = serialization.Encoding.PEM
    (tmp_path / "key.pem").write_bytes(other.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    assert "an elliptic-curve (ECDSA) private key; drsim signs with Ed25519 only" in _key_problems(drill)[0].message
    good = ed25519.Ed25519PrivateKey.generate()
    (tmp_path / "key.pem").write_bytes(good.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    check_sign_key(load(drill, Drill))


def test_a_drill_run_is_checked_as_a_whole(tmp_path: Path) -> None:
    check_drill_run(DRILL, out_dir=tmp_path / "reports", resume=None, store=None, junit=tmp_path / "ci" / "junit.xml")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "store.sqlite").write_text("x" * 2000)
    with pytest.raises(UsageError, match=r"store\.sqlite: not a drsim history store"):
        check_drill_run(DRILL, out_dir=tmp_path / "reports", resume=None, store=tmp_path / "store.sqlite", junit=None)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "history.sqlite").write_text("x" * 2000)  # the default store: <out>/history.sqlite
    with pytest.raises(UsageError, match=r"history\.sqlite: not a drsim history store"):
        check_drill_run(DRILL, out_dir=tmp_path / "reports", resume=None, store=None, junit=None)

"""`drsim evidence seal` and `verify` after the fact (issue 13, item 3): an edited result.json can never be
sealed, a sealed run changed since is sealed again only with --force (journaled, shown in the report),
verify recomputes result.json from the journal and compares the seal with the history store's record,
and a signed run needs its public key."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from report_fixtures import copy_out

from drsim.cli import main
from drsim.report.evidence import seal

DRILLS = Path(__file__).resolve().parents[2] / "drills"
BACKUP_RUN = ("2026-q4-shop-backup", "20261120T140000Z-s42")  # a failed run: its RPO objective is missed


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One --out with two runs of the failing backup drill (seeds 42 and 43), sealed and recorded at run time."""
    out = tmp_path_factory.mktemp("pristine") / "reports"
    for seed in ("42", "43"):
        result = CliRunner().invoke(
            main, ["drill", "run", str(DRILLS / "2026-q4-shop-backup.yaml"), "--out", str(out), "-q", "--seed", seed]
        )
        assert result.exit_code == 1, result.output
    return out


@pytest.fixture
def out(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the pristine --out whose store records the copied run directories."""
    return copy_out(pristine, tmp_path / "reports")


@pytest.fixture
def run_dir(out: Path) -> Path:
    return out.joinpath(*BACKUP_RUN)


def cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def edit_json(path: Path, change: Callable[[dict[str, object]], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2) + "\n")


def set_passed(document: dict[str, object]) -> None:
    document["status"] = "passed"


def test_a_run_verifies_with_its_result_recomputed_and_its_seal_as_the_store_recorded(run_dir: Path, out: Path) -> None:
    code, output = cli("evidence", "verify", run_dir)
    assert code == 0, output
    assert "result.json recomputed from the journal" in output and f"seal as recorded in {out / 'history.sqlite'}" in output
    with sqlite3.connect(out / "history.sqlite") as db:
        head, digest, key = db.execute(
            "SELECT chain_head, manifest_sha256, signing_key_sha256 FROM runs WHERE run_dir = ?", (str(run_dir.resolve()),)
        ).fetchone()
    manifest = (run_dir / "manifest.json").read_bytes()
    assert digest == hashlib.sha256(manifest).hexdigest() and head == json.loads(manifest)["journal"]["chain_head"] and key is None


def test_a_failed_run_edited_to_passed_cannot_be_sealed(run_dir: Path) -> None:
    """The measured defect: edit status to passed, seal, and verify said intact."""
    edit_json(run_dir / "result.json", set_passed)
    code, output = cli("evidence", "seal", run_dir)
    assert code == 2 and "does not match the run's journal.jsonl: status is 'passed'" in output
    assert len(output.strip().splitlines()) == 1
    code, output = cli("evidence", "seal", run_dir, "--force")  # --force never covers a result the journal does not give
    assert code == 2 and "does not match" in output
    code, output = cli("evidence", "verify", run_dir)
    assert code == 1 and "result.json: status is 'passed', the journal's run.finished says 'failed'" in output


def test_verify_recomputes_result_json_even_under_a_fresh_manifest(run_dir: Path) -> None:
    """A manifest rebuilt over an edited result.json by other means than `drsim evidence seal`."""
    edit_json(run_dir / "result.json", lambda d: d["apps"][0].update(rpo_met=True))  # type: ignore[index]
    seal(run_dir, None)
    code, output = cli("evidence", "verify", run_dir)
    assert code == 1
    assert "result.json: shop rpo_met is True, the journal's app.measured says False" in output
    assert "manifest.json: is not the manifest drsim wrote" in output  # and the store's record of the seal
    assert "result.json: changed" not in output  # the manifest itself was made to match


def test_a_result_written_otherwise_than_the_journal_gives_is_found(run_dir: Path) -> None:
    """Same values, other bytes (keys reordered): result.json is compared with its recomputation byte for byte."""
    document = json.loads((run_dir / "result.json").read_text())
    (run_dir / "result.json").write_text(json.dumps(dict(reversed(list(document.items()))), indent=2) + "\n")
    seal(run_dir, None)
    code, output = cli("evidence", "verify", run_dir, "--store", run_dir / "no-store.sqlite")
    assert code == 1 and "result.json: result.json is not the file its journal.jsonl gives when recomputed" in output


def test_a_sealed_run_changed_since_is_refused_then_forced_and_the_force_is_journaled_and_reported(run_dir: Path) -> None:
    report = run_dir / "report.md"
    report.write_text(report.read_text().replace("**Status: FAILED.**", "**Status: PASSED.**"))
    code, output = cli("evidence", "seal", run_dir)
    assert code == 2 and "the run changed since it was sealed (report.md: changed" in output and "--force" in output
    code, output = cli("evidence", "seal", run_dir, "--force")
    assert code == 0, output
    last = json.loads((run_dir / "journal.jsonl").read_bytes().splitlines()[-1])
    assert last["event"] == "evidence.resealed" and last["changes"] == ["report.md: changed (its SHA-256 differs from manifest.json)"]
    text = report.read_text()
    assert "**Status: FAILED.**" in text and "sealed again with --force 1 time(s)" in text  # the edit is gone, the force shown
    assert "| **Sealed again with --force** |" in text and "report.md: changed" in text
    assert "Sealed again with --force" in (run_dir / "report.html").read_text()
    code, output = cli("evidence", "verify", run_dir)
    assert code == 0, output
    assert "note: sealed again with --force at " in output and "seal as recorded in" in output
    assert cli("evidence", "seal", run_dir)[0] == 0  # unchanged since the forced seal: sealed again as it was


def test_a_removed_manifest_does_not_make_a_run_unsealed(run_dir: Path) -> None:
    (run_dir / "manifest.json").unlink()
    (run_dir / "report.md").write_text("# all good\n")
    code, output = cli("evidence", "seal", run_dir)
    assert code == 2 and "manifest.json: missing or unreadable, but the history store" in output
    code, output = cli("evidence", "verify", run_dir)
    assert code == 1 and "manifest.json: missing" in output


def test_a_run_swapped_for_another_is_found_by_the_store(out: Path, run_dir: Path) -> None:
    other = out / BACKUP_RUN[0] / "20261120T140000Z-s43"
    shutil.rmtree(run_dir)
    shutil.copytree(other, run_dir)
    code, output = cli("evidence", "verify", run_dir)
    assert code == 1
    assert "journal.jsonl: is the journal of run 20261120T140000Z-s43, but the history store" in output
    assert "recorded run 20261120T140000Z-s42 in this directory" in output
    code, output = cli("evidence", "seal", run_dir)
    assert code == 2


def test_verify_reads_the_store_without_writing_it(run_dir: Path, out: Path) -> None:
    store = out / "history.sqlite"
    before = store.read_bytes()
    store.chmod(0o444)
    try:
        assert cli("evidence", "verify", run_dir)[0] == 0
    finally:
        store.chmod(0o644)
    assert store.read_bytes() == before


def test_a_run_outside_any_store_says_so(run_dir: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "drill" / "run"
    shutil.copytree(run_dir, moved)
    code, output = cli("evidence", "verify", moved)
    assert code == 0 and "not signed" in output and "seal as recorded" not in output


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private = ed25519.Ed25519PrivateKey.generate()
    private_pem, public_pem = tmp_path / "sign.pem", tmp_path / "sign.pub.pem"
    private_pem.write_bytes(
        private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public_pem.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_pem, public_pem


def test_a_signed_run_is_verified_with_its_public_key_or_explicitly_not(run_dir: Path, keys: tuple[Path, Path]) -> None:
    private_pem, public_pem = keys
    assert cli("evidence", "seal", run_dir, "--sign-key", private_pem)[0] == 0
    code, output = cli("evidence", "verify", run_dir)
    assert code == 1 and "manifest.sig: the run is signed, but its signature was not checked: pass --public-key" in output
    code, output = cli("evidence", "verify", run_dir, "--no-signature-check")
    assert code == 0 and "signed, but the signature was not checked (--no-signature-check)" in output
    code, output = cli("evidence", "verify", run_dir, "--public-key", public_pem)
    assert code == 0 and "signature verified" in output


def test_a_signed_run_stays_signed(run_dir: Path, keys: tuple[Path, Path]) -> None:
    private_pem, _ = keys
    assert cli("evidence", "seal", run_dir, "--sign-key", private_pem)[0] == 0
    code, output = cli("evidence", "seal", run_dir)
    assert code == 2 and "sealing it without a key would drop the signature" in output
    (run_dir / "manifest.sig").unlink()  # a downgrade by hand: the store remembers the key
    seal(run_dir, None)
    code, output = cli("evidence", "verify", run_dir)
    assert code == 1 and "manifest.sig: missing, but the history store" in output and "recorded the run as signed" in output


def test_drsim_report_does_not_launder_a_run_sealed_by_other_means(run_dir: Path) -> None:
    """A file added under a manifest rebuilt by hand: `drsim report` would re-seal the run and record that
    seal in the store; it refuses, as the store's record says the manifest is not the one drsim wrote."""
    (run_dir / "attestation.txt").write_text("approved\n")
    seal(run_dir, None)
    code, output = cli("report", run_dir)
    assert code == 2 and "the run is not as drsim sealed it" in output
    code, output = cli("evidence", "seal", run_dir)
    assert code == 2 and "--force" in output
    code, output = cli("evidence", "verify", run_dir)
    assert code == 1 and "manifest.json: is not the manifest drsim wrote" in output

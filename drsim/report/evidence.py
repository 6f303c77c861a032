"""The evidence bundle: manifest.json (SHA-256 of every file of a run, the journal's chain head), an
optional Ed25519 signature (manifest.sig), and the verification an auditor runs on a copy of the run.

journal.jsonl is hash-chained: every line carries `prev`, the SHA-256 (hex) of the previous line's
bytes without its newline; the first line's `prev` is the genesis value (64 zeros). The chain head is
the SHA-256 of the last line. A changed line breaks the chain at the line after it; a changed last
line changes the head, which the manifest records.

manifest.json is written in one canonical form (sorted keys, indent 2) so that any byte changed in it
is detected even where no recorded digest covers it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from drsim.errors import ExecutionError, UsageError
from drsim.records import json_line

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
JOURNAL = "journal.jsonl"
MANIFEST_FORMAT = "drsim-evidence/1"
GENESIS = "0" * 64
"""The `prev` of the first journal line."""

PASSPHRASE_ENV = "DRSIM_SIGN_KEY_PASSPHRASE"
"""Environment variable holding the passphrase of an encrypted signing key."""


def line_digest(line: bytes) -> str:
    """SHA-256 (hex) of one journal line, without its line terminator: what the next line's `prev` holds."""
    return hashlib.sha256(line.rstrip(b"\r\n")).hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one rename: a reader, or a kill meanwhile, leaves the old file or the new one, never half."""
    temporary = _staged(path, data)
    try:
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ExecutionError(f"{path}: cannot write the file: {exc.strerror or exc}") from None


def _staged(path: Path, data: bytes) -> Path:
    """`data` written in full (and synced) to a temporary file beside `path`, for the caller to rename over it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ExecutionError(f"{path}: cannot write the file: {exc.strerror or exc}") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------------- journal chain


@dataclass(frozen=True)
class ChainBreak:
    """Where the hash chain of a journal stops holding, 1-based line numbers."""

    line: int
    message: str


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of walking a journal's chain: its length, head, and the first break if any."""

    lines: int
    head: str
    broken: ChainBreak | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None


def journal_lines(raw: bytes) -> list[bytes]:
    """The lines of a journal file (a trailing newline does not make an empty last line)."""
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


class ChainWalker:
    """Checks a journal's chain one line at a time (for readers that decode each line anyway)."""

    def __init__(self) -> None:
        self.lines = 0
        self.expected = GENESIS
        self.broken: ChainBreak | None = None

    def feed(self, line: bytes, event: object) -> None:
        """The next line and its decoded JSON (anything but a dict if it did not decode)."""
        self.lines += 1
        if self.broken is not None:
            return
        number = self.lines
        if not isinstance(event, dict):
            self.broken = ChainBreak(number, f"line {number} is not a JSON object (it was changed or cut)")
        elif event.get("prev") != self.expected:
            self.broken = ChainBreak(
                number,
                "line 1 does not start the chain (its prev is not the genesis value)"
                if number == 1
                else f"line {number}'s prev is not the SHA-256 of line {number - 1}: one of the two was changed",
            )
        else:
            self.expected = line_digest(line)

    def result(self) -> ChainCheck:
        if self.broken is not None:
            return ChainCheck(self.broken.line, self.expected, self.broken)
        return ChainCheck(self.lines, self.expected)


def check_chain(lines: Sequence[bytes]) -> ChainCheck:
    """Walk the chain: every line must be a JSON object whose `prev` is the digest of the line before.

    The break names the line whose `prev` fails: that line or the one before it was changed.
    """
    walker = ChainWalker()
    for line in lines:
        try:
            event = json_line(line)
        except (UnicodeDecodeError, ValueError):
            event = None
        walker.feed(line, event)
        if walker.broken is not None:
            break
    return walker.result()


def check_journal_file(path: Path) -> ChainCheck:
    """The chain of a journal file; a last line without its newline (a killed write) is a break."""
    raw = path.read_bytes()
    lines = journal_lines(raw)
    chain = check_chain(lines)
    if chain.intact and raw and not raw.endswith(b"\n"):
        return ChainCheck(
            chain.lines, chain.head, ChainBreak(len(lines), f"line {len(lines)} is incomplete (no newline: cut while it was written)")
        )
    return chain


# ------------------------------------------------------------------------------------------ manifest


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the run directory, with forward slashes
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """What manifest.json records about a run directory."""

    run_id: str
    files: tuple[FileEntry, ...]
    journal_lines: int
    journal_head: str
    performed: dict[str, str] | None = None  # when the run was performed, from its journal (wall clock)

    def to_json(self) -> str:
        document: dict[str, object] = {
            "format": MANIFEST_FORMAT,
            "algorithm": "sha256",
            "run_id": self.run_id,
            "files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in self.files],
            "journal": {"path": JOURNAL, "lines": self.journal_lines, "chain_head": self.journal_head},
        }
        if self.performed is not None:
            document["performed"] = self.performed
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def _bundle_files(run_dir: Path) -> Iterator[Path]:
    """Every regular file of the run directory except the manifest and its signature, in path order."""
    for path in sorted(run_dir.rglob("*")):
        if path.is_symlink():
            yield path  # reported, never followed
        elif path.is_file() and path.relative_to(run_dir).as_posix() not in (MANIFEST, SIGNATURE):
            yield path


def journal_run_id(run_dir: Path) -> str:
    """The run id from the journal's run.started line, else the directory's name."""
    journal = run_dir / JOURNAL
    if journal.is_file():
        with journal.open("rb") as stream:
            first = stream.readline()
        try:
            event = json.loads(first)
        except ValueError:
            event = None
        if isinstance(event, dict) and isinstance(event.get("run_id"), str):
            return str(event["run_id"])
    return run_dir.name


def build_manifest(run_dir: Path) -> Manifest:
    """Digest every file of the run directory and walk the journal chain (refusing a broken one)."""
    files = []
    for path in _bundle_files(run_dir):
        relative = path.relative_to(run_dir).as_posix()
        if path.is_symlink():
            raise UsageError(f"{path}: a symbolic link in a run directory cannot be evidence; replace it with the file")
        files.append(FileEntry(relative, file_digest(path), path.stat().st_size))
    journal = run_dir / JOURNAL
    if not journal.is_file():
        raise UsageError(f"{run_dir}: no {JOURNAL}; is this a drill run directory?")
    chain = check_journal_file(journal)
    if chain.broken is not None:
        raise UsageError(f"{journal}: the hash chain is broken ({chain.broken.message}); refusing to seal it as evidence")
    return Manifest(journal_run_id(run_dir), tuple(files), chain.lines, chain.head, journal_performed(journal))


def journal_performed(journal: Path) -> dict[str, str] | None:
    """`performed: {started, ended, drsim_version, host, user}` from the journal's run.started and its
    last run.performed (ended is missing while the run has not finished); None for an older journal."""
    lines = journal.read_bytes().splitlines()
    if not lines:
        return None
    try:
        first = json.loads(lines[0])
        started = first.get("performed") if isinstance(first, dict) else None
        if not isinstance(started, dict):
            return None
        performed = {key: str(started[key]) for key in ("started", "drsim_version", "host", "user") if key in started}
        for line in reversed(lines):
            event = json.loads(line)
            if isinstance(event, dict) and event.get("event") == "run.performed":
                performed["ended"] = str(event.get("ended"))
                break
    except (ValueError, UnicodeDecodeError):
        return None  # the chain check names what is wrong with the journal
    return performed


@dataclass(frozen=True)
class SealDigests:
    """What identifies a run's seal as it stands: the chain head its manifest records, the SHA-256 of
    manifest.json's bytes and, when signed, the SHA-256 of the signing key (what the history store keeps)."""

    run_id: str
    chain_head: str
    manifest_sha256: str
    signing_key_sha256: str | None


def seal_digests(run_dir: Path) -> SealDigests | None:
    """The digests of the run's current manifest.json (and manifest.sig); None when there is no readable manifest."""
    try:
        raw = (run_dir / MANIFEST).read_bytes()
        document = json.loads(raw)
        head = str(document["journal"]["chain_head"])
        run_id = str(document["run_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    key_id: str | None = None
    try:
        signature = json.loads((run_dir / SIGNATURE).read_bytes())
        key_id = str(signature["public_key_sha256"]) if isinstance(signature, dict) else "unreadable"
    except FileNotFoundError:
        key_id = None
    except (OSError, ValueError, KeyError):
        key_id = "unreadable"
    return SealDigests(run_id, head, hashlib.sha256(raw).hexdigest(), key_id)


@dataclass(frozen=True)
class RecordedSeal:
    """What a history store recorded about the run in a directory when drsim last sealed it."""

    store: Path
    run_id: str
    chain_head: str | None  # None: recorded by a drsim that did not record seals
    manifest_sha256: str | None
    signing_key_sha256: str | None


def store_problems(run_dir: Path, recorded: RecordedSeal) -> list[str]:
    """Where the run's seal differs from what the history store recorded when drsim sealed it."""
    if recorded.manifest_sha256 is None:
        return []
    where = f"the history store {recorded.store}"
    digests = seal_digests(run_dir)
    if digests is None:
        return [f"{MANIFEST}: missing or unreadable, but {where} recorded the run as sealed (manifest SHA-256 {recorded.manifest_sha256})"]
    found = []
    run_id = journal_run_id(run_dir)
    if run_id != recorded.run_id:
        found.append(f"{JOURNAL}: is the journal of run {run_id}, but {where} recorded run {recorded.run_id} in this directory")
    if digests.chain_head != recorded.chain_head:
        found.append(
            f"{MANIFEST}: records chain head {digests.chain_head}, but {where} recorded {recorded.chain_head} when drsim sealed the run"
        )
    if digests.manifest_sha256 != recorded.manifest_sha256:
        found.append(f"{MANIFEST}: is not the manifest drsim wrote (its SHA-256 differs from the one {where} recorded)")
    if digests.signing_key_sha256 != recorded.signing_key_sha256:
        if recorded.signing_key_sha256 is None:
            found.append(f"{SIGNATURE}: present, but {where} recorded the run as sealed unsigned")
        elif digests.signing_key_sha256 is None:
            found.append(
                f"{SIGNATURE}: missing, but {where} recorded the run as signed (key SHA-256 {recorded.signing_key_sha256[:16]}...)"
            )
        else:
            found.append(f"{SIGNATURE}: not made with the key {where} recorded (key {recorded.signing_key_sha256[:16]}...)")
    return found


_MAKE_PRIVATE = "make one with `openssl genpkey -algorithm ed25519 -out KEY.pem`"
_MAKE_PUBLIC = "`openssl pkey -in KEY.pem -pubout -out KEY.pub.pem` writes it from the private key"


def _key_kind(key: object) -> str:
    """`an RSA private key`: what a key is, in words (never a Python class name)."""
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, rsa, x448, x25519

    kinds = (
        (rsa.RSAPrivateKey, "an RSA private key"),
        (rsa.RSAPublicKey, "an RSA public key"),
        (ec.EllipticCurvePrivateKey, "an elliptic-curve (ECDSA) private key"),
        (ec.EllipticCurvePublicKey, "an elliptic-curve (ECDSA) public key"),
        (dsa.DSAPrivateKey, "a DSA private key"),
        (dsa.DSAPublicKey, "a DSA public key"),
        (ed448.Ed448PrivateKey, "an Ed448 private key"),
        (ed448.Ed448PublicKey, "an Ed448 public key"),
        (x25519.X25519PrivateKey, "an X25519 (key agreement) private key"),
        (x25519.X25519PublicKey, "an X25519 (key agreement) public key"),
        (x448.X448PrivateKey, "an X448 (key agreement) private key"),
        (x448.X448PublicKey, "an X448 (key agreement) public key"),
    )
    return next((words for cls, words in kinds if isinstance(key, cls)), "a key of another kind")


def _read_key_file(path: Path, what: str) -> bytes:
    """The bytes of a key file: a clear UsageError (exit 2) naming the file when it is not one that can be read."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # never open a FIFO or a device: it could block
            raise UsageError(f"{path}: is not a regular file, not a {what}")
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if not data.strip():
        raise UsageError(f"{path}: is empty, not a {what}")
    return data


def _pem_label(data: bytes) -> str | None:
    """The label of the first PEM block (`PRIVATE KEY`, `PUBLIC KEY`, `CERTIFICATE`...); None when there is none."""
    marker = b"-----BEGIN "
    at = data.find(marker)
    if at < 0:
        return None
    end = data.find(b"-----", at + len(marker))
    return data[at + len(marker) : end].decode("ascii", "replace").strip() if end > 0 else None


def _not_a_key(path: Path, data: bytes, label: str | None, wanted: str) -> UsageError:
    """Why a file that did not load as `wanted` (`private` or `public`) is not one, in words."""
    make = _MAKE_PRIVATE if wanted == "private" else _MAKE_PUBLIC
    if label is None:
        if data.lstrip().startswith((b"ssh-ed25519 ", b"ssh-rsa ", b"ecdsa-sha2-")):
            return UsageError(f"{path}: an OpenSSH public key; drsim needs a PEM {wanted} key ({make})")
        return UsageError(f"{path}: not a PEM file (no -----BEGIN line: DER, or no key?); drsim needs a PEM Ed25519 {wanted} key ({make})")
    if label == "OPENSSH PRIVATE KEY":
        return UsageError(f"{path}: an OpenSSH private key; drsim needs a PEM (PKCS#8) Ed25519 {wanted} key ({make})")
    if label == "CERTIFICATE":
        return UsageError(f"{path}: a certificate, not a key; drsim needs a PEM Ed25519 {wanted} key ({make})")
    if wanted == "private" and label.endswith("PUBLIC KEY"):
        return UsageError(f"{path}: a public key; signing needs the private key (PEM `PRIVATE KEY`) whose public half auditors check with")
    if wanted == "public" and label.endswith("PRIVATE KEY"):
        return UsageError(f"{path}: a private key; verifying needs its public key ({make}), and the private key stays with whoever signs")
    return UsageError(f"{path}: its PEM block ({label}) cannot be read as an Ed25519 {wanted} key: damaged or truncated? ({make})")


def load_signing_key(sign_key: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file (encrypted: the passphrase in $DRSIM_SIGN_KEY_PASSPHRASE).
    Anything else is a UsageError (exit 2) that names the file and says what it is instead."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    path = Path(sign_key)
    pem = _read_key_file(path, "signing key")
    label = _pem_label(pem)
    passphrase = os.environ.get(PASSPHRASE_ENV)
    encrypted = label in ("ENCRYPTED PRIVATE KEY",) or b"Proc-Type: 4,ENCRYPTED" in pem
    try:
        key = load_pem_private_key(pem, password=passphrase.encode() if passphrase and encrypted else None)
    except TypeError:
        raise UsageError(f"{path}: the key is encrypted; put its passphrase in ${PASSPHRASE_ENV}") from None
    except (ValueError, UnsupportedAlgorithm):
        if encrypted and passphrase:
            raise UsageError(f"{path}: the passphrase in ${PASSPHRASE_ENV} does not decrypt this key") from None
        raise _not_a_key(path, pem, label, "private") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{path}: {_key_kind(key)}; drsim signs with Ed25519 only ({_MAKE_PRIVATE})")
    return key


def load_public_key(public_key: str | os.PathLike[str]) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file; anything else is a UsageError (exit 2) naming the file."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    path = Path(public_key)
    pem = _read_key_file(path, "public key")
    try:
        key = load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm):
        raise _not_a_key(path, pem, _pem_label(pem), "public") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"{path}: {_key_kind(key)}; drsim signs with Ed25519 only, and checks with the Ed25519 public key")
    return key


def signing_key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The SHA-256 (hex) of a key's raw public half: what manifest.sig and the history store name a key by."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return _public_key_id(key.public_key() if isinstance(key, Ed25519PrivateKey) else key)


def _public_key_id(public_key: object) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    assert isinstance(public_key, Ed25519PublicKey)
    return hashlib.sha256(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()


UNREADABLE = "unreadable"
"""What signed_by says of a manifest.sig that names no key drsim can read."""


def signed_by(run_dir: Path) -> str | None:
    """The SHA-256 of the public key the run's manifest.sig names (UNREADABLE when it names none that can be
    read); None when the run is not signed. Read whether or not manifest.json is there."""
    path = run_dir / SIGNATURE
    if not path.exists() and not path.is_symlink():
        return None
    try:
        key_id = json.loads(path.read_bytes())["public_key_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return UNREADABLE
    return key_id if isinstance(key_id, str) and len(key_id) == 64 and all(c in "0123456789abcdef" for c in key_id) else UNREADABLE


@dataclass(frozen=True)
class SignerChange:
    """A signed run about to be signed by another key (`--re-sign`): the key it had, the key it gets (each by
    the SHA-256 of its raw public half) and the SHA-256 of the manifest the old signature covered."""

    previous_key_sha256: str
    key_sha256: str
    previous_manifest_sha256: str | None


def check_signer(
    run_dir: Path,
    key: Ed25519PrivateKey | None,
    *,
    re_sign: bool,
    key_path: str | os.PathLike[str] | None = None,
    recorded: RecordedSeal | None = None,
) -> SignerChange | None:
    """Whether sealing `run_dir` with `key` replaces the key that signed it (as its manifest.sig names it,
    or, when that was removed, as the history store's record of the seal does). None when it does not (no
    key, an unsigned run, the very key that signed it). Another key is refused (UsageError, exit 2, naming
    both keys) unless `re_sign`: an auditor relies on the signature to know who vouched for the evidence,
    so its signer never changes without a word. With `re_sign`, what changes (for the caller to record)."""
    if key is None:
        return None
    previous = signed_by(run_dir)
    where = ""
    if previous is None and recorded is not None and recorded.signing_key_sha256 is not None:
        previous, where = recorded.signing_key_sha256, f" (its {SIGNATURE} is gone, but the history store {recorded.store} recorded it)"
    new = signing_key_id(key)
    if previous is None or previous == new:
        return None
    if not re_sign:
        had = (
            f"its {SIGNATURE} names no key that can be read"
            if previous == UNREADABLE
            else f"it is signed by the key with fingerprint (SHA-256 of its public key) {previous}{where}"
        )
        raise UsageError(
            f"{run_dir}: {had}, and {key_path if key_path is not None else 'the key given'} is another key (fingerprint {new}): "
            "refusing to replace the signature of the key that vouched for the run. Sign it with the key it was signed with, "
            "or pass --re-sign to replace that signature with this key's (recorded in the run's journal and shown by "
            "`drsim evidence verify`)"
        )
    manifest = run_dir / MANIFEST
    return SignerChange(previous, new, file_digest(manifest) if manifest.is_file() and not manifest.is_symlink() else None)


def _signature_document(signature: bytes, key_id: str) -> str:
    document = {"algorithm": "ed25519", "public_key_sha256": key_id, "signature": base64.b64encode(signature).decode("ascii")}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write_manifest(run_dir: str | os.PathLike[str], sign_key: str | os.PathLike[str] | None = None) -> Path:
    """Seal a run directory: write manifest.json, and manifest.sig when an Ed25519 PEM key is given.

    Without a key, a stale manifest.sig is removed: a signature over an older manifest proves nothing.
    """
    directory = Path(run_dir)
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory")
    return seal(directory, load_signing_key(sign_key) if sign_key is not None else None)


def seal(run_dir: Path, key: Ed25519PrivateKey | None) -> Path:
    """write_manifest with the signing key already loaded (callers that check everything before writing anything).

    The manifest and its signature are a pair: both are written in full to temporary files before either
    replaces the old one, and should putting them in place fail half way, the old pair is put back (or,
    for a run never sealed, the new manifest taken away): a signature never stays beside a manifest it
    was not made over, and an old signature is never lost for a new manifest that could not be written."""
    text = build_manifest(run_dir).to_json().encode("ascii")
    manifest_path = run_dir / MANIFEST
    signature_path = run_dir / SIGNATURE
    staged = [(manifest_path, _staged(manifest_path, text))]
    try:
        if key is not None:
            document = _signature_document(key.sign(text), _public_key_id(key.public_key())).encode("ascii")
            staged.append((signature_path, _staged(signature_path, document)))
        old = {path: path.read_bytes() for path in (manifest_path, signature_path) if path.is_file() and not path.is_symlink()}
    except BaseException:
        for _, temporary in staged:
            temporary.unlink(missing_ok=True)
        raise
    try:
        if key is None:
            signature_path.unlink(missing_ok=True)  # first: a stale signature must never sit beside a new manifest
        for path, temporary in staged:
            os.replace(temporary, path)
    except OSError as exc:
        for _, temporary in staged:
            temporary.unlink(missing_ok=True)
        _restore(old, (manifest_path, signature_path))
        raise ExecutionError(
            f"{run_dir}: cannot put the new {MANIFEST} and {SIGNATURE} in place ({exc.strerror or exc}); "
            "the run's seal is left as it was before"
        ) from None
    return manifest_path


def _restore(old: dict[Path, bytes], paths: Sequence[Path]) -> None:
    """Put back the files of a seal that could not be replaced (best effort: the error that led here is the one reported)."""
    for path in paths:
        try:
            if path in old:
                if not path.is_file() or path.read_bytes() != old[path]:
                    write_atomically(path, old[path])
            else:
                path.unlink(missing_ok=True)
        except (OSError, ExecutionError):
            pass


# -------------------------------------------------------------------------------------- verification


@dataclass
class Verification:
    """What `drsim evidence verify` found: every problem names the file (and journal line) concerned."""

    run_dir: Path
    problems: list[str] = field(default_factory=list)
    files: int = 0
    journal_lines: int = 0
    journal_head: str = ""
    signed: bool = False
    signature_verified: bool = False
    result_recomputed: bool = False  # result.json was recomputed from the journal and is the same file
    store: Path | None = None  # the history store whose record of the seal matched
    notes: list[str] = field(default_factory=list)  # facts an auditor must see even when the run is intact

    @property
    def intact(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line for an intact bundle: what was checked."""
        if self.signature_verified:
            signature = "signature verified"
        elif self.signed:
            signature = "signed, but the signature was not checked (--no-signature-check)"
        else:
            signature = "not signed"
        checked = [f"intact: {self.files} files, journal of {self.journal_lines} lines (chain head {self.journal_head})", signature]
        if self.result_recomputed:
            checked.append("result.json recomputed from the journal")
        if self.store is not None:
            checked.append(f"seal as recorded in {self.store}")
        return ", ".join(checked)


_MANIFEST_KEYS = {"format", "algorithm", "run_id", "files", "journal", "performed"}  # performed: optional (older runs)


def _parse_manifest(raw: bytes) -> tuple[Manifest | None, list[str]]:
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        return None, [f"{MANIFEST}: not valid JSON ({exc})"]
    problems = []
    try:
        if document.get("format") != MANIFEST_FORMAT or document.get("algorithm") != "sha256":
            return None, [f"{MANIFEST}: not a {MANIFEST_FORMAT} manifest with sha256 digests"]
        files = tuple(FileEntry(str(f["path"]), str(f["sha256"]), int(f["size"])) for f in document["files"])
        journal = document["journal"]
        if journal.get("path") != JOURNAL:
            problems.append(f"{MANIFEST}: journal.path must be {JOURNAL}")
        performed = document.get("performed")
        if performed is not None:
            performed = {str(key): str(value) for key, value in performed.items()}
        manifest = Manifest(str(document["run_id"]), files, int(journal["lines"]), str(journal["chain_head"]), performed)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        return None, [f"{MANIFEST}: malformed ({type(exc).__name__}: {exc})"]
    if set(document) - _MANIFEST_KEYS:
        problems.append(f"{MANIFEST}: unexpected keys {sorted(set(document) - _MANIFEST_KEYS)}")
    if manifest.to_json().encode("ascii") != raw:
        problems.append(f"{MANIFEST}: was changed (it is not in the canonical form drsim writes)")
    return manifest, problems


def _check_signature(result: Verification, manifest_raw: bytes, public_key: Path | Ed25519PublicKey | None) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    signature_path = result.run_dir / SIGNATURE
    named = public_key if isinstance(public_key, Path) else None
    key = load_public_key(public_key) if isinstance(public_key, Path) else public_key  # a bad key file: exit 2, whatever the run
    if not signature_path.exists():
        if public_key is not None:
            result.problems.append(f"{SIGNATURE}: missing, but a public key was given: the bundle is not signed")
        return
    result.signed = True
    if key is None:
        return
    assert isinstance(key, Ed25519PublicKey)
    raw = signature_path.read_bytes()
    try:
        document = json.loads(raw)
        signature = base64.b64decode(document["signature"], validate=True)
        key_id = str(document["public_key_sha256"])
        algorithm = document["algorithm"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        result.problems.append(f"{SIGNATURE}: malformed (not the JSON of algorithm, public_key_sha256 and signature that drsim writes)")
        return
    if raw != _signature_document(signature, key_id).encode("ascii") or algorithm != "ed25519":
        result.problems.append(f"{SIGNATURE}: was changed (it is not in the canonical form drsim writes)")
    if key_id != _public_key_id(key):
        given = f"{named if named is not None else 'the key given'} (SHA-256 {_public_key_id(key)[:16]}...)"
        result.problems.append(f"{SIGNATURE}: signed with another key (public key SHA-256 {key_id[:16]}...) than {given}")
        return  # the signature cannot match either: one problem, not two
    try:
        key.verify(signature, manifest_raw)
    except InvalidSignature:
        result.problems.append(f"{SIGNATURE}: the signature does not match {MANIFEST} and this public key")
    else:
        result.signature_verified = not result.problems


def verify_bundle(run_dir: str | os.PathLike[str], public_key: str | os.PathLike[str] | Ed25519PublicKey | None = None) -> Verification:
    """Check a sealed run directory against its manifest, its journal chain and (with a key: a PEM file, or
    the public half of a loaded signing key) its signature."""
    directory = Path(run_dir)
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory")
    result = Verification(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        result.problems.append(f"{MANIFEST}: missing: the run was never sealed, or the manifest was removed")
        return result
    manifest_raw = manifest_path.read_bytes()
    manifest, problems = _parse_manifest(manifest_raw)
    result.problems.extend(problems)
    _check_signature(result, manifest_raw, Path(public_key) if isinstance(public_key, str | os.PathLike) else public_key)
    if manifest is None:
        return result

    recorded = {entry.path: entry for entry in manifest.files}
    present = {path.relative_to(directory).as_posix(): path for path in _bundle_files(directory)}
    journal_changed = False
    for relative, entry in recorded.items():
        path = present.get(relative)
        if path is None:
            result.problems.append(f"{relative}: missing (listed in {MANIFEST})")
        elif path.is_symlink():
            result.problems.append(f"{relative}: replaced by a symbolic link")
        elif path.stat().st_size != entry.size or file_digest(path) != entry.sha256:
            if relative == JOURNAL:
                journal_changed = True
            else:
                result.problems.append(f"{relative}: changed (its SHA-256 differs from {MANIFEST})")
    for relative in sorted(set(present) - set(recorded)):
        result.problems.append(f"{relative}: not in {MANIFEST} (added after the run was sealed)")
    result.files = len(recorded)

    journal = directory / JOURNAL
    if JOURNAL not in recorded:
        result.problems.append(f"{MANIFEST}: does not list {JOURNAL}")
    if journal.is_file() and not journal.is_symlink():
        chain = check_journal_file(journal)
        result.journal_lines, result.journal_head = chain.lines, chain.head
        if chain.broken is not None:
            result.problems.append(f"{JOURNAL} line {chain.broken.line}: {chain.broken.message}")
        elif chain.lines < manifest.journal_lines:
            result.problems.append(
                f"{JOURNAL}: {manifest.journal_lines - chain.lines} line(s) removed from the end (sealed with {manifest.journal_lines})"
            )
        elif chain.lines > manifest.journal_lines:
            result.problems.append(f"{JOURNAL} line {manifest.journal_lines + 1}: added after the run was sealed")
        elif chain.head != manifest.journal_head:
            result.problems.append(f"{JOURNAL} line {chain.lines}: changed (the chain head differs from {MANIFEST})")
        elif journal_changed:
            result.problems.append(f"{JOURNAL}: changed (its SHA-256 differs from {MANIFEST})")
        if journal_run_id(directory) != manifest.run_id:
            result.problems.append(f"{MANIFEST}: run_id {manifest.run_id!r} is not the journal's run")
        if chain.broken is None and manifest.performed != journal_performed(journal):
            result.problems.append(f"{MANIFEST}: performed is not when the journal says the run was performed")
    return result

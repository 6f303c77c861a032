"""The canary writer drsim prints (`drsim canary script`), run for real: the Linux writer against a
stub of the instance metadata service on loopback, killed at random; the Linux check against real
ext4 filesystems on loop devices (when this machine lets the tests mount: root, loop devices), a torn
stripe among them. The PowerShell scripts cannot run here (no pwsh): their text is checked."""

from __future__ import annotations

import contextlib
import http.server
import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from drsim.cli import main
from drsim.cloud.canary import IMDS_VM_ID_URL, check_script, parse_marker, parse_report, read_log, writer_files
from drsim.model.types import OsType
from drsim.times import parse_utc

PROD = "8d7c0d02-5b1e-4a2f-9a53-3f1b5c7e2d10"
COPY = "0f1e2d3c-4b5a-4968-8776-655443322110"
IMDS_PATH = "/metadata/instance/compute/vmId?api-version=2021-02-01&format=text"
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class Imds:
    """The instance metadata service's compute/vmId, as Microsoft Learn documents it: plain text with
    format=text, only with the header `Metadata: true` (else 400), on loopback instead of 169.254.169.254."""

    def __init__(self, vm_id: str) -> None:
        self.vm_id = vm_id
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != IMDS_PATH or self.headers.get("Metadata") != "true":
                    self.send_response(400)
                    self.end_headers()
                    return
                body = outer.vm_id.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{IMDS_PATH}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def imds() -> Iterator[Imds]:
    service = Imds(PROD)
    yield service
    service.close()


def install_writer(tmp_path: Path) -> Path:
    files = writer_files(OsType.LINUX, (), 0.01)
    script = tmp_path / "drsim-canary"
    script.write_text(files["drsim-canary"])
    return script


def start_writer(script: Path, imds: Imds, state: Path, *volumes: Path, interval: str = "0.01") -> subprocess.Popen[bytes]:
    env = {
        "PATH": PATH,
        "DRSIM_CANARY_IMDS_URL": imds.url,
        "DRSIM_CANARY_STATE": str(state),
        "DRSIM_CANARY_INTERVAL": interval,
    }
    # A session of its own: SIGKILL to the group kills the script and the dd writing a line at once.
    return subprocess.Popen(["sh", str(script), *map(str, volumes)], env=env, start_new_session=True, stderr=subprocess.PIPE)


def kill(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    process.wait(timeout=30)
    if process.stderr is not None:
        process.stderr.close()


def test_imds_stub_answers_as_the_service_does(imds: Imds) -> None:
    assert IMDS_VM_ID_URL.endswith(IMDS_PATH)
    plain = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", imds.url], capture_output=True, text=True)
    asked = subprocess.run(["curl", "-fsS", "-H", "Metadata: true", imds.url], capture_output=True, text=True)
    assert (plain.stdout, asked.stdout) == ("400", PROD)


def test_the_writer_killed_at_random_leaves_logs_that_parse_to_their_last_line(tmp_path: Path, imds: Imds) -> None:
    script = install_writer(tmp_path)
    state = tmp_path / "state"
    volumes = [tmp_path / "data", tmp_path / "logs"]
    for volume in volumes:
        volume.mkdir()
    rng = random.Random(1515)
    kills = 30
    for round_ in range(kills):
        writer = start_writer(script, imds, state, *volumes)
        time.sleep(rng.uniform(0.0, 0.25))
        kill(writer)
        if round_ % 7 == 3:
            # A crash of the machine mid-write leaves part of a line on disk: the next start cuts it off.
            with (volumes[0] / "drsim-canary.log").open("ab") as log:
                log.write(b"999999 2026-11-2")
    writer = start_writer(script, imds, state, *volumes)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (volumes[0] / "drsim-canary.log").exists():
        time.sleep(0.05)
    time.sleep(0.2)
    kill(writer, signal.SIGTERM)  # a stop by systemd: the line being written is finished first

    sequences = []
    for volume in volumes:
        data = (volume / "drsim-canary.log").read_bytes()
        reading = read_log(data, PROD)
        assert reading.bad_line is None, data.decode(errors="replace")
        assert reading.lines > kills
        assert reading.production == reading.newest  # every marker is this VM's
        assert not reading.torn_tail
        markers = [parse_marker(text) for text in data.decode().splitlines()]
        assert all(m is not None and m.vm_uuid == PROD for m in markers)
        sequences.append([m.sequence for m in markers if m is not None])
    # Restarts continue the sequence: one run of increasing numbers across every start.
    assert all(b > a for seqs in sequences for a, b in itertools.pairwise(seqs))
    assert max(sequences[0][-1], sequences[1][-1]) >= len(sequences[0])
    registry = (state / "volumes").read_text().splitlines()
    assert [row.split("\t")[0] for row in registry] == [str(v) for v in volumes]


def test_the_writer_waits_for_the_metadata_service_and_never_writes_without_a_vm_id(tmp_path: Path) -> None:
    script = install_writer(tmp_path)
    volume = tmp_path / "data"
    volume.mkdir()
    down = Imds(PROD)
    down.close()  # nothing listens: the writer retries
    writer = start_writer(script, down, tmp_path / "state", volume)
    time.sleep(0.5)
    assert writer.poll() is None
    kill(writer)
    assert not (volume / "drsim-canary.log").exists()


# ----------------------------------------------------------------------------- real filesystems


def _loop_mount_works(tmp_path: Path) -> bool:
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("losetup", "mkfs.ext4", "e2fsck", "blkid", "fsfreeze")):
        return False
    image = tmp_path / "probe.img"
    with image.open("wb") as f:
        f.truncate(8 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    attached = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True)
    if attached.returncode != 0:
        return False
    mnt = tmp_path / "probe"
    mnt.mkdir()
    try:
        return subprocess.run(["mount", attached.stdout.strip(), str(mnt)], capture_output=True).returncode == 0
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
        subprocess.run(["losetup", "-d", attached.stdout.strip()], capture_output=True)
        image.unlink()


@pytest.fixture
def loop_devices(tmp_path: Path) -> Iterator[list[str]]:
    """Loop devices this test attaches (detached after it); skips where the machine cannot mount."""
    if not _loop_mount_works(tmp_path):
        pytest.skip("needs root and loop devices to mount ext4 images")
    attached: list[str] = []
    yield attached
    for device in attached:
        subprocess.run(["umount", device], capture_output=True)
        subprocess.run(["losetup", "-d", device], capture_output=True)


def attach(image: Path, devices: list[str]) -> str:
    device = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True, check=True).stdout.strip()
    devices.append(device)
    return device


def detach(device: str, devices: list[str]) -> None:
    subprocess.run(["losetup", "-d", device], check=True)
    devices.remove(device)


def run_check(tmp_path: Path, state: Path, not_after: datetime | None) -> str:
    script = tmp_path / "check.sh"
    script.write_text("\n".join(check_script(OsType.LINUX, PROD, not_after)) + "\n")
    env = {"DRSIM_CANARY_STATE": str(state), "PATH": PATH, "TMPDIR": str(tmp_path)}
    return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, check=True, timeout=120).stdout


def write_for(script: Path, imds: Imds, state: Path, volume: Path, seconds: float) -> None:
    writer = start_writer(script, imds, state, volume, interval="0.005")
    time.sleep(seconds)
    kill(writer, signal.SIGTERM)


def test_a_recovered_vm_s_writer_never_makes_the_rpo_zero_on_a_real_volume(tmp_path: Path, imds: Imds, loop_devices: list[str]) -> None:
    image = tmp_path / "data.img"
    with image.open("wb") as f:
        f.truncate(32 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    device = attach(image, loop_devices)
    volume = tmp_path / "data"
    volume.mkdir()
    subprocess.run(["mount", device, str(volume)], check=True)
    script, state = install_writer(tmp_path), tmp_path / "state"

    write_for(script, imds, state, volume, 0.6)  # production
    time.sleep(1.1)
    incident = datetime.now(UTC).replace(microsecond=0)
    imds.vm_id = COPY  # the VM recovered from these disks boots its writer under its own vmId
    time.sleep(1.1)
    write_for(script, imds, state, volume, 0.6)

    data = (volume / "drsim-canary.log").read_bytes()
    last_production = max((m for m in map(parse_marker, data.decode().splitlines()) if m and m.vm_uuid == PROD), key=lambda m: m.sequence)
    output = run_check(tmp_path, state, incident)
    newest = parse_marker(json.loads(output.split("DRSIM-CANARY ", 1)[1])["volumes"][0]["newest"])
    assert newest is not None and newest.vm_uuid == COPY and newest.at > incident  # what made the RPO zero before
    reading = parse_report("vm", output, PROD, incident)
    assert reading.consistent, reading.volumes  # mounted, e2fsck -n clean (under fsfreeze), the log parses
    assert reading.last_marker_at == last_production.at < incident
    assert (incident - reading.last_marker_at).total_seconds() >= 1  # the measured RPO: production's, not zero


def test_a_torn_stripe_fails_the_check_and_a_whole_capture_passes(tmp_path: Path, imds: Imds, loop_devices: list[str]) -> None:
    # A volume striped over two disks (8 KiB stripes) whose disks were captured at different instants:
    # the even stripes hold the newer capture, the odd ones the older. The writer appends more than a
    # stripe between the captures, so the tear crosses its log (a tear that touches only an
    # application's data blocks, and neither metadata nor the log, is beyond any check).
    image = tmp_path / "stripe.img"
    with image.open("wb") as f:
        f.truncate(32 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    script, state, volume = install_writer(tmp_path), tmp_path / "state", tmp_path / "data"
    volume.mkdir()
    captures = []
    rng = random.Random(7)
    for round_ in range(2):
        device = attach(image, loop_devices)
        subprocess.run(["mount", device, str(volume)], check=True)
        for n in range(20):  # the application's own files, written between the two captures too
            (volume / f"table-{round_}-{n}.dat").write_bytes(rng.randbytes(rng.randrange(1, 200_000)))
        write_for(script, imds, state, volume, 1.5)
        subprocess.run(["umount", str(volume)], check=True)
        detach(device, loop_devices)
        captures.append(image.read_bytes())
    older, newer = captures
    stripe = 8 << 10
    torn = bytearray(newer)
    for start in range(stripe, len(torn), 2 * stripe):
        torn[start : start + stripe] = older[start : start + stripe]
    assert torn != newer

    results = {}
    for name, content in (("whole", newer), ("torn", bytes(torn))):
        image.write_bytes(content)
        device = attach(image, loop_devices)
        # Not mounted: the check finds the filesystem by UUID, mounts it read-only and runs e2fsck -n.
        output = run_check(tmp_path, state, None)
        results[name] = parse_report("vm", output, PROD, None)
        detach(device, loop_devices)
    whole, broken = results["whole"], results["torn"]
    assert whole.consistent, whole.volumes
    assert whole.last_marker_at is not None
    assert not broken.consistent
    assert broken.volumes[0].problem is not None


# ----------------------------------------------------------------------------- the scripts as printed


def test_drsim_canary_script_prints_or_writes_the_writer(tmp_path: Path) -> None:
    printed = CliRunner().invoke(main, ["canary", "script", "--os", "linux", "--volume", "/data", "--volume", "/var/lib/pgsql"])
    assert printed.exit_code == 0, printed.output
    headers = re.findall(r"^# ===== (\S+): install as (.+) =====$", printed.output, re.MULTILINE)
    assert headers == [
        ("drsim-canary", "/usr/local/sbin/drsim-canary (mode 0755)"),
        ("drsim-canary.service", "/etc/systemd/system/drsim-canary.service"),
    ]
    assert "ExecStart=/usr/local/sbin/drsim-canary /data /var/lib/pgsql" in printed.output
    assert "RequiresMountsFor=/data /var/lib/pgsql" in printed.output
    assert "Environment=DRSIM_CANARY_INTERVAL=1\n" in printed.output

    out = tmp_path / "out"
    args = ["canary", "script", "--os", "windows", "--volume", "F:\\sqldata", "--interval", "5", "--out", str(out)]
    written = CliRunner().invoke(main, args)
    assert written.exit_code == 0, written.output
    assert sorted(p.name for p in out.iterdir()) == ["drsim-canary.ps1", "register-drsim-canary.ps1"]
    assert "[string[]] $Volumes = @('F:\\sqldata')" in (out / "drsim-canary.ps1").read_text()
    linux = CliRunner().invoke(main, ["canary", "script", "--os", "linux", "--out", str(tmp_path / "lx")])
    assert linux.exit_code == 0 and os.access(tmp_path / "lx" / "drsim-canary", os.X_OK)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--os", "linux", "--volume", "data"], "'data' is not a volume path"),
        (["--os", "linux", "--volume", "/data; rm -rf /"], "is not a volume path"),
        (["--os", "windows", "--volume", "/data"], "is not a volume path"),
        (["--os", "linux", "--interval", "0"], "--interval"),
        (["--os", "plan9"], "--os"),
    ],
)
def test_bad_script_options_are_usage_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["canary", "script", *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_the_powershell_scripts_say_what_the_linux_ones_do() -> None:
    # pwsh is not installed here: the Windows scripts cannot run in these tests. Their text is
    # checked against the protocol instead.
    files = writer_files(OsType.WINDOWS, ("F:\\", "G:\\sqllog"), 2)
    writer, register = files["drsim-canary.ps1"], files["register-drsim-canary.ps1"]
    assert "@('F:\\', 'G:\\sqllog')" in writer and "$IntervalSeconds = 2" in writer
    assert f"'{IMDS_VM_ID_URL}'" in writer and "Headers.Add('Metadata', 'true')" in writer and "Proxy = $null" in writer
    assert "[System.IO.FileOptions]::WriteThrough" in writer and "$stream.Flush($true)" in writer  # one write, flushed to disk
    assert "yyyy-MM-ddTHH:mm:ssZ" in writer and "[DateTime]::UtcNow" in writer
    assert "SetLength($end)" in writer  # a torn last line is cut off at start
    assert "-AtStartup" in register and "-UserId 'SYSTEM'" in register and "ExecutionTimeLimit ([TimeSpan]::Zero)" in register
    assert writer.count("{") == writer.count("}") and writer.count("(") == writer.count(")")
    check = "\n".join(check_script(OsType.WINDOWS, PROD, None))
    assert check.count("{") == check.count("}") and check.count("(") == check.count(")")
    assert "Repair-Volume" in check and "-Scan" in check
    # The check's marker pattern accepts and refuses what the Python reader does.
    pattern = re.search(r"^\$marker = '(.+)'$", check, re.MULTILINE)
    assert pattern is not None
    samples = [
        f"1 2026-11-20T13:55:00Z {PROD}",
        f"CORRUPT 2 2026-11-20T13:55:00Z {PROD.upper()}",
        f"1  2026-11-20T13:55:00Z {PROD}",
        f"1 2026-11-20T13:55:00.1Z {PROD}",
        "1 2026-11-20T13:55:00Z nope",
    ]
    for sample in samples:
        assert (re.fullmatch(pattern.group(1), sample) is not None) == (parse_marker(sample) is not None), sample


def test_marker_times_are_whole_utc_seconds_in_both_writers() -> None:
    # `date -u +%Y-%m-%dT%H:%M:%SZ` (Linux) and the .NET format (Windows) both write what parse_marker reads.
    linux = writer_files(OsType.LINUX, (), 1)["drsim-canary"]
    assert "date -u +%Y-%m-%dT%H:%M:%SZ" in linux
    now = subprocess.run(["date", "-u", "+%Y-%m-%dT%H:%M:%SZ"], capture_output=True, text=True, check=True).stdout.strip()
    assert abs(parse_utc(now) - datetime.now(UTC)) < timedelta(minutes=1)
    assert parse_marker(f"1 {now} {PROD}") is not None

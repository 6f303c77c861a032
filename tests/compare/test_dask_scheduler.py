"""The Dask scheduler address: malformed is refused at once (exit 2); unreachable is an error after a bounded wait (exit 3)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from drsim.cli import main
from drsim.compare import prepare
from drsim.compare.executors import run_dask, scheduler_address
from drsim.errors import ExecutionError, UsageError

COMPARISON = Path(__file__).parent / "data" / "store-plans.yaml"


@pytest.mark.parametrize(
    ("given", "address"),
    [
        ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
        ("10.0.0.5:8786", "tcp://10.0.0.5:8786"),
        ("TLS://scheduler.example.com:8786", "tls://scheduler.example.com:8786"),
        ("tcp://[::1]:8786", "tcp://[::1]:8786"),
        ("dask_scheduler:8786", "tcp://dask_scheduler:8786"),
        ("inproc://192.0.2.2/21872/1", "inproc://192.0.2.2/21872/1"),
    ],
)
def test_well_formed_addresses_are_normalized(given: str, address: str) -> None:
    assert scheduler_address(given) == address


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("not a url", "is not a Dask scheduler address: write it as tcp://HOST:PORT"),
        ("tcp://10.0.0.5", "is not a Dask scheduler address"),
        ("tcp://:8786", "is not a Dask scheduler address"),
        ("tcp://10.0.0.5:99999", "port 99999 is not from 1 to 65535"),
        ("tcp://10.0.0.5:" + "9" * 5000, "is not a Dask scheduler address"),
        ("http://10.0.0.5:8786", "unknown scheme http://"),
        ("tcp://[::g]:8786", "is not a Dask scheduler address"),
        ("inproc://", "is not a Dask scheduler address"),
        ("tcp://-bad-.example:8786", "'-bad-.example' is not a host name or IP address"),
    ],
)
def test_malformed_addresses_are_usage_errors(given: str, message: str) -> None:
    with pytest.raises(UsageError, match="--scheduler") as raised:
        scheduler_address(given)
    assert message in raised.value.format_message()


def test_the_cli_refuses_a_malformed_address_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    args = ["compare", str(COMPARISON), "--quiet", "--out", str(tmp_path / "out"), "--executor", "dask", "--scheduler", "not a url"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "drsim: --scheduler 'not a url' is not a Dask scheduler address: write it as tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_scheduler_that_does_not_answer_is_an_execution_error_after_the_timeout() -> None:
    with socket.socket() as probe:  # a port nobody listens on: bound, then released
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inputs = prepare(COMPARISON, trials=1)
    with pytest.raises(ExecutionError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 0.5 s"):
        list(run_dask(inputs, f"127.0.0.1:{port}", None, timeout_s=0.5))

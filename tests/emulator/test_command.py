"""``manage.py esi_emulator``, run in a subprocess as a developer would."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from esi.emulator import Emulator
from esi.management.commands.esi_emulator import is_loopback

ROOT = Path(__file__).resolve().parents[2]


#: Runs ``manage.py esi_emulator`` with SIGINT handled as Python does in a terminal. A shell
#: starts background jobs with SIGINT ignored and Python then keeps it ignored, so without
#: this a test suite run in the background could not interrupt the emulator.
_LAUNCHER = (
    "import runpy, signal, sys; "
    "signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv = ['django', *sys.argv[1:]]; "
    "runpy.run_module('django', run_name='__main__')"
)


def run_command(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, "esi_emulator", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str], sig: int = signal.SIGINT) -> tuple[str, str]:
    """Send ``sig`` and collect the output; a process still running 10 s later is killed
    (and the test fails) rather than left behind to hold its port."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError(f"the emulator did not stop on signal {sig}") from None


def test_serves_until_interrupted():
    process = run_command("--port", "0", "--latency", "0.01")
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Quit with"):
                break
        output = "".join(lines)
        url = re.search(r"emulator at (http://127\.0\.0\.1:\d+)", output).group(1)
        assert f'ESI_SSO_BASE_URL = "{url}"' in output and f'ESI_API_URL = "{url}"' in output
        assert "'test-client-id'" in output  # the site's client, from tests.settings
        assert requests.get(f"{url}/status", timeout=5).status_code == 200
        authorize = requests.get(
            f"{url}/v2/oauth/authorize",
            params={"response_type": "code", "client_id": "test-client-id", "redirect_uri": "http://x/", "state": "s"},
            timeout=5,
        )
        assert authorize.status_code == 200
    finally:
        out, err = stop(process)
    assert process.returncode == 0, err
    assert "Emulator stopped." in out


def test_refuses_a_non_loopback_host():
    with pytest.raises(CommandError, match="refusing to serve.*--allow-remote"):
        call_command("esi_emulator", "--host", "0.0.0.0", "--port", "0")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "-1"], "argument --port: -1 is not a port"),
        (["--port", "70000"], "argument --port: 70000 is not a port"),
        (["--port", "http"], "argument --port: 'http' is not a port number"),
        (["--port", ""], "argument --port: '' is not a port number"),
        (["--latency", "nan"], "argument --latency: 'nan' is not a finite"),
        (["--latency", "inf"], "argument --latency: 'inf' is not a finite"),
        (["--latency", "-0.5"], "argument --latency: '-0.5' is not a finite"),
        (["--latency", "soon"], "argument --latency: 'soon' is not a number of seconds"),
        (["--rate-limit", "40"], "argument --rate-limit: unreadable rate limit '40'"),
        (["--rate-limit", "0/10s"], "argument --rate-limit: unreadable rate limit '0/10s'"),
        (["--rate-limit", "40/soon"], "argument --rate-limit: unreadable rate limit '40/soon'"),
    ],
)
def test_bad_arguments_are_usage_errors(args, message):
    """They used to end in a traceback (OverflowError for the port) or, for a latency of
    nan, an emulator answering 500 to everything."""
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("esi_emulator", *args)


def test_a_bad_argument_on_the_command_line_exits_with_usage():
    process = run_command("--port", "70000")
    try:
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 2 and not out
    assert "usage:" in err and "argument --port: 70000 is not a port" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("port", [-1, 65536, "8001", True, None])
def test_the_emulator_refuses_a_port_that_is_not_one(port):
    with pytest.raises(ValueError, match="port must be a TCP port"):
        Emulator(port=port)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.2", False), ("example.com", False)],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback

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

from esi.management.commands.esi_emulator import is_loopback

ROOT = Path(__file__).resolve().parents[2]


def _sigint_as_in_a_terminal() -> None:
    # A test run that a shell started in the background (make's `&`, a CI wrapper) ignores
    # SIGINT, and a child inherits that; the command must get Control-C as a developer's
    # terminal sends it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_command(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "django", "esi_emulator", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_as_in_a_terminal,
    )


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
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "Emulator stopped." in out


def test_refuses_a_non_loopback_host():
    process = run_command("--host", "0.0.0.0", "--port", "0")
    out, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "refusing to serve" in err and "--allow-remote" in err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.2", False), ("example.com", False)],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback

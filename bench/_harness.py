"""Shared plumbing for the benchmarks: the emulator in its own process, and virtualenvs
holding the real django-esi releases from PyPI to compare against."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import requests

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / "bench" / ".venvs"
CLIENT_ID, CLIENT_SECRET = "bench-client-id", "bench-client-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def emulator_process(spec_file: Path | None = None, rate_limit: str | None = None) -> Iterator[str]:
    """Run the emulator (serving ``spec_file``, default the bundled spec) in a process of
    its own, so it does not share the measured process's interpreter lock; yields its URL.
    Its request log holds 200,000 requests, enough to count every ESI request of a run.
    Rate limits are off, unless ``rate_limit`` (``"60/20s"``) sizes every bucket."""
    port = free_port()
    code = (
        "import django; django.setup()\n"
        "from esi.emulator import Emulator\n"
        f"Emulator(port={port}, spec_file={str(spec_file) if spec_file else None!r},"
        f" client_id={CLIENT_ID!r}, client_secret={CLIENT_SECRET!r},"
        f" rate_limits={rate_limit is not None}, rate_limit={rate_limit!r},"
        " error_limit=10**9, request_log_size=200_000).serve_forever()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "bench.settings"}
    process = subprocess.Popen([sys.executable, "-c", code], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                requests.get(url + "/_emulator/state", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None:
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def control(url: str, path: str, payload: dict | None = None, method: str = "POST") -> dict:
    response = requests.request(method, url + path, json=payload, timeout=30)
    response.raise_for_status()
    return response.json() if response.content else {}


def grants(url: str, count: int, scopes: list[str], first_character: int = 95000000) -> list[dict]:
    """``count`` EVE SSO grants minted by the emulator, one character each."""
    session = requests.Session()
    result = []
    for i in range(count):
        response = session.post(
            url + "/_emulator/tokens",
            json={"character_id": first_character + i, "scopes": scopes, "client_id": CLIENT_ID},
            timeout=30,
        )
        response.raise_for_status()
        result.append({"character_id": first_character + i, **response.json()})
    return result


def venv_python(name: str, requirements: list[str]) -> Path:
    """A virtualenv under bench/.venvs/<name> with ``requirements`` installed (made once)."""
    path = VENVS / name
    python = path / "bin" / "python"
    stamp = path / ".requirements"
    if not stamp.exists() or stamp.read_text() != json.dumps(requirements):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True)
        stamp.write_text(json.dumps(requirements))
    return python


def ratio(theirs: float, ours: float) -> str:
    return f"{theirs / ours:.1f}x" if ours > 0 else "n/a"

"""`make demo` end to end: the example project's `rundemo` (emulator + runserver) in a real
process, driven over HTTP like a browser would."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "example_project" / "manage.py"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    env = {
        **os.environ,
        "DEMO_PORT": str(free_port()),
        "DEMO_EMULATOR_PORT": str(free_port()),
        "DEMO_DB": str(tmp_path_factory.mktemp("demo") / "db.sqlite3"),
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run([sys.executable, MANAGE, "migrate", "--noinput"], env=env, check=True, capture_output=True)
    log = tmp_path_factory.mktemp("demo-log") / "rundemo.log"
    site = f"http://127.0.0.1:{env['DEMO_PORT']}"
    with open(log, "wb") as output, subprocess.Popen(
        [sys.executable, MANAGE, "rundemo"], env=env, stdout=output, stderr=subprocess.STDOUT
    ) as process:
        try:
            wait_for(site + "/")
            yield site, f"http://127.0.0.1:{env['DEMO_EMULATOR_PORT']}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def scripted_login(browser, site_url, character_id):
    """Follow the site to the emulated SSO, pick the character, follow back to the site."""
    answer = browser.get(site_url, allow_redirects=False)
    while answer.status_code == 302 and "/v2/oauth/authorize" not in answer.headers["Location"]:
        answer = browser.get(requests.compat.urljoin(answer.url, answer.headers["Location"]), allow_redirects=False)
    assert "/v2/oauth/authorize" in answer.headers["Location"], answer.headers
    page = browser.get(answer.headers["Location"])
    assert "EVE SSO emulator" in page.text
    return browser.get(answer.headers["Location"], params={"character_id": str(character_id)})


def test_demo_login_and_token_page(demo):
    site, emulator = demo
    browser = requests.Session()
    home = browser.get(site + "/")
    assert "Log in with EVE Online" in home.text

    logged_in = scripted_login(browser, site + "/login/", 90000042)
    assert logged_in.url == site + "/"
    assert "Logged in as" in logged_in.text and "publicData" in logged_in.text

    page = scripted_login(browser, site + "/token/", 90000042)
    assert page.url == site + "/token/"
    assert "90000042" in page.text
    assert "esi-characters.read_notifications.v1" in page.text and "esi-mail.read_mail.v1" in page.text

    # Back on the decorated page, the user now picks the stored token.
    selection = browser.get(site + "/token/")
    assert "Select a character" in selection.text
    csrf = browser.cookies["csrftoken"]
    token_id = selection.text.split('name="_token" value="')[1].split('"')[0]
    chosen = browser.post(site + "/token/", data={"_token": token_id, "csrfmiddlewaretoken": csrf}, headers={"Referer": site + "/token/"})
    assert "The token this view received" in chosen.text


def test_example_project_passes_checks():
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run([sys.executable, MANAGE, "check", "--fail-level", "WARNING"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

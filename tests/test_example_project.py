"""`make demo` end to end: the example project's `rundemo` (emulator + runserver) in a real
process, driven over HTTP like a browser would."""

import contextlib
import os
import re
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


def demo_env(directory):
    env = {
        **os.environ,
        "DEMO_PORT": str(free_port()),
        "DEMO_EMULATOR_PORT": str(free_port()),
        "DEMO_DB": str(directory / "db.sqlite3"),
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


@contextlib.contextmanager
def running_demo(env, log):
    """``rundemo`` in a process of its own until the block ends; yields the site's URL."""
    site = f"http://127.0.0.1:{env['DEMO_PORT']}"
    with open(log, "ab") as output, subprocess.Popen(
        [sys.executable, MANAGE, "rundemo"], env=env, stdout=output, stderr=subprocess.STDOUT
    ) as process:
        try:
            wait_for(site + "/", timeout=90)
            yield site
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    directory = tmp_path_factory.mktemp("demo")
    env = demo_env(directory)
    subprocess.run([sys.executable, MANAGE, "migrate", "--noinput"], env=env, check=True, capture_output=True)
    with running_demo(env, directory / "rundemo.log") as site:
        yield site, f"http://127.0.0.1:{env['DEMO_EMULATOR_PORT']}"


def admin_session(site):
    """A requests session logged in to the admin as the demo's superuser."""
    browser = requests.Session()
    login = browser.get(site + "/admin/login/")
    csrf = login.text.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    answer = browser.post(
        site + "/admin/login/",
        data={"username": "admin", "password": "admin", "csrfmiddlewaretoken": csrf, "next": "/admin/"},
        headers={"Referer": site + "/admin/login/"},
    )
    assert "Log out" in answer.text, answer.text[:500]
    return browser


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


def card(body, label):
    """The number on the health page's card ``label``."""
    return int(re.search(r'esi-card-count">(\d+)</span>\s*<span class="esi-card-label">' + re.escape(label), body).group(1))


def test_demo_fills_every_dashboard_page(demo):
    site, _ = demo
    browser = admin_session(site)
    health = browser.get(site + "/admin/esi_dashboard/dashboard/").text
    assert card(health, "Failing refresh") == 1
    assert card(health, "Expired, not refreshable") == 1
    assert card(health, "Expired, refreshable") >= 4
    assert card(health, "Deleted in the last 24 hours") == 1
    assert "Ada Demo" in health and "SSOUnavailableError" in health
    scopes = browser.get(site + "/admin/esi_dashboard/dashboard/scopes/").text
    assert "esi-skills.read_skills.v1" in scopes and "No count yet" not in scopes
    budgets = browser.get(site + "/admin/esi_dashboard/dashboard/budgets/").text
    assert "errors left in the window" in budgets and "No ESI answer has reported the error limit yet" not in budgets
    assert "get_characters_character_id_skills" in budgets and "429" in budgets


def test_demo_tokens_still_refresh_after_a_restart(tmp_path):
    """The emulator's state file keeps the refresh tokens it issued: after a restart the
    stored tokens refresh instead of failing with invalid_grant."""
    env = demo_env(tmp_path)
    subprocess.run([sys.executable, MANAGE, "migrate", "--noinput"], env=env, check=True, capture_output=True)
    log = tmp_path / "rundemo.log"
    with running_demo(env, log):
        pass
    with running_demo(env, log) as site:
        browser = admin_session(site)
        page = browser.get(site + "/admin/esi_dashboard/dashboard/")
        csrf = browser.cookies["csrftoken"]
        done = browser.post(
            site + "/admin/esi_dashboard/dashboard/refresh-expired/",
            data={"csrfmiddlewaretoken": csrf},
            headers={"Referer": page.url},
        )
        summary = re.search(r"(\d+) token\(s\): (\d+) refreshed, \d+ already fresh, (\d+) deleted", done.text)
        assert summary, done.text[:2000]
        total, refreshed, deleted = map(int, summary.groups())
        assert refreshed == total >= 4 and deleted == 0
    assert "kept from the last start" in log.read_text()


def run_demo_command(env, *args):
    return subprocess.run(
        [sys.executable, MANAGE, "rundemo", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_taken_port_is_named_not_a_traceback(tmp_path):
    env = demo_env(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env["DEMO_PORT"] = str(taken.getsockname()[1])
        result = run_demo_command(env, "--no-seed")
    assert result.returncode == 1
    assert f"port {env['DEMO_PORT']} (DEMO_PORT) is taken" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEMO_PORT", "abc", "DEMO_PORT must be a port number from 1 to 65535, not 'abc'"),
        ("DEMO_PORT", "0", "DEMO_PORT must be a port number"),
        ("DEMO_EMULATOR_PORT", "70000", "DEMO_EMULATOR_PORT must be a port number"),
        ("DEMO_EMULATOR_PORT", "-1", "DEMO_EMULATOR_PORT must be a port number"),
        ("DEMO_EMULATOR_PORT", "８００１", "DEMO_EMULATOR_PORT must be a port number"),
        ("DEMO_EMULATOR_PORT", "same", "must differ"),
    ],
)
def test_bad_port_values(tmp_path, variable, value, message):
    env = demo_env(tmp_path)
    env[variable] = env["DEMO_PORT"] if value == "same" else value
    result = run_demo_command(env, "--no-seed")
    assert result.returncode == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_ports_from_the_command_line(tmp_path):
    env = demo_env(tmp_path)
    result = run_demo_command(env, "--no-seed", "--port", "x")
    assert result.returncode == 1 and "DEMO_PORT must be a port number from 1 to 65535, not 'x'" in result.stderr

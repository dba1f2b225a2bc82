"""The dashboard in a real browser: Selenium drives Debian's headless Chromium against a live
server. A staff user logs in through the admin's login form, opens each page, starts
refreshes from the health page and from the token list, and watches the outcome arrive.

One browser session for the whole class, to keep the suite fast. Screenshots of each page
go to ``test-artifacts/dashboard/``; with ``UPDATE_DOCS_SCREENSHOTS=1`` they are also copied
to ``docs/images/dashboard/`` for the documentation.
"""

from __future__ import annotations

import base64
import datetime
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.test import override_settings
from django.utils import timezone

from esi import errors
from esi.clients import EsiClientProvider
from esi.emulator.testing import EmulatorTestCaseMixin
from esi.http import stats
from esi.models import Token

from ..factories import MAIL, NOTIFICATIONS, make_token
from .conftest import grant

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
DOCS_IMAGES = ROOT / "docs" / "images" / "dashboard"

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # pragma: no cover - selenium is in the test extra
    webdriver = None


def _missing() -> str | None:
    if webdriver is None:
        return "selenium is not installed (pip install -e '.[test]')"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} not found: apt-get install {package}"
    return None


@pytest.mark.browser
@pytest.mark.skipif(_missing() is not None, reason=_missing() or "")
@override_settings(ESI_REFRESH_CONCURRENCY=1)
class DashboardInBrowserTests(EmulatorTestCaseMixin, StaticLiveServerTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.profile = tempfile.mkdtemp(prefix="esi-dashboard-chromium-")
        cls.addClassCleanup(shutil.rmtree, cls.profile, ignore_errors=True)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={cls.profile}",
            "--window-size=1400,1000",
        ):
            options.add_argument(argument)
        try:
            cls.browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        except WebDriverException as exc:  # pragma: no cover - depends on the machine
            raise pytest.skip.Exception(f"Chromium did not start: {exc.msg}", _use_item_location=True) from exc
        cls.addClassCleanup(cls.browser.quit)
        cls.browser.implicitly_wait(0)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    # -- helpers ------------------------------------------------------------------------

    def open(self, path: str) -> None:
        self.browser.get(self.live_server_url + path)

    def click_and_load(self, element, timeout: float = 10) -> None:
        """Click ``element`` and wait until the page it was on is gone: until then, a
        selector the next page also has finds the old page's element."""
        page = self.browser.find_element(By.TAG_NAME, "html")
        element.click()

        def gone(_driver) -> bool:
            try:
                page.is_enabled()
            except WebDriverException:  # stale; Chromium may also say "node ... does not belong to the document"
                return True
            return False

        WebDriverWait(self.browser, timeout).until(gone)

    def wait_for(self, selector: str, timeout: float = 10):
        return WebDriverWait(self.browser, timeout).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, selector))
        )

    def text(self, selector: str) -> str:
        return self.browser.find_element(By.CSS_SELECTOR, selector).text

    def messages(self) -> list[str]:
        return [li.text for li in self.browser.find_elements(By.CSS_SELECTOR, "ul.messagelist li")]

    def screenshot(self, name: str) -> None:
        """The whole page, beyond the window (Chromium's DevTools protocol)."""
        size = self.browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = self.browser.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000), "scale": 1},
            },
        )
        path = ARTIFACTS / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
            DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_IMAGES / path.name)

    def run_queued_tasks(self) -> int:
        """Be a django-q2 worker once: run every queued task and store its result."""
        from django_q.brokers import get_broker
        from django_q.tasks import _sync

        broker = get_broker()
        done = 0
        for task_id, payload in broker.dequeue() or []:
            _sync(payload)
            broker.acknowledge(task_id)
            done += 1
        return done

    def make_site(self) -> None:
        """Tokens in every state, owned by two users, and some ESI traffic."""
        emulator = self.esi_emulator
        pilot = User.objects.create_user("pilot")
        now = timezone.now()
        for character in range(90000501, 90000509):
            make_token(emulator, character, [NOTIFICATIONS, MAIL] if character % 2 else [NOTIFICATIONS], user=pilot)
        Token.objects.filter(character_id__in=[90000501, 90000502, 90000503]).update(
            expires_at=now - datetime.timedelta(hours=3)
        )
        Token.objects.filter(character_id=90000504).update(expires_at=now + datetime.timedelta(minutes=3))
        Token.objects.filter(character_id=90000505).update(
            expires_at=now - datetime.timedelta(minutes=30),
            last_refresh_at=now,
            last_refresh_ok=False,
            last_refresh_error="SSOUnavailableError: EVE SSO answered 502",
            refresh_failures=2,
            refresh_backoff_until=now + datetime.timedelta(minutes=2),
        )
        Token.objects.filter(character_id=90000506).update(
            expires_at=now - datetime.timedelta(days=3), refresh_token=None
        )
        client = EsiClientProvider(app_info_text="dashboard browser test/1.0").client
        token = Token.objects.get(character_id=90000507)
        client.Status.get_status().result()
        client.Status.get_status().result()
        client.Character.get_characters_character_id_notifications(character_id=90000507, token=token).results()
        emulator.faults.add("GetUniverseTypesTypeId", status=404, times=2)
        for _ in range(2):
            with self.assertRaises(errors.HTTPNotFound):  # spends the error limit
                client.Universe.get_universe_types_type_id(type_id=587).result()
        emulator.faults.add("GetCharactersCharacterIdNotifications", status=429, retry_after=20, times=1)
        with override_settings(ESI_RATE_LIMIT_BEHAVIOUR="raise"), self.assertRaises(errors.ESIBucketLimitException):
            client.Character.get_characters_character_id_notifications(
                character_id=90000507, token=token
            ).results(ignore_cache=True)
        # Earlier hours of the error-limit timeline, through the recorder the transport uses:
        # a quiet afternoon with one bad quarter of an hour.
        start = time.time() - 3 * 3600
        for minute in range(0, 180, 3):
            remain = 100 - (45 + minute // 3 if 90 <= minute < 105 else minute % 7)
            stats.record_error_limit(remain, at=start + minute * 60)
        stats.flush()

    # -- the walk -----------------------------------------------------------------------

    def test_staff_user_walks_the_dashboard(self) -> None:
        from django_q.conf import Conf

        staff = User.objects.create_user("staff", "staff@example.com", "staff-password", is_staff=True)
        grant(staff, "esi_dashboard.view_dashboard", "esi.view_token", "esi.change_token")
        self.make_site()

        # Log in through the admin's login form, landing on the dashboard.
        self.open("/admin/esi_dashboard/dashboard/")
        self.wait_for("#id_username").send_keys("staff")
        self.browser.find_element(By.ID, "id_password").send_keys("staff-password")
        self.browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        self.wait_for("#esi-token-table")
        self.assertIn("Token health", self.browser.title)
        cards = {
            card.find_element(By.CLASS_NAME, "esi-card-label").text: card.find_element(By.CLASS_NAME, "esi-card-count").text
            for card in self.browser.find_elements(By.CSS_SELECTOR, ".esi-card")
        }
        self.assertEqual(cards["Expired, refreshable"], "4")
        self.assertEqual(cards["Expiring within 5 minutes"], "1")
        self.assertEqual(cards["Failing refresh"], "1")
        self.assertEqual(cards["Expired, not refreshable"], "1")
        self.assertIsNotNone(self.wait_for("svg.esi-chart"))

        # Filter the table by state from the form.
        Select(self.browser.find_element(By.ID, "id_state")).select_by_value("failing")
        self.click_and_load(self.browser.find_element(By.CSS_SELECTOR, ".esi-filters button[type=submit]"))
        self.wait_for("#esi-token-table")
        rows = self.browser.find_elements(By.CSS_SELECTOR, "#esi-token-table tbody tr")
        self.assertEqual(len(rows), 1)
        self.assertIn("Character 90000505", rows[0].text)

        # "Refresh expired tokens" with a worker that has not picked the task up yet: the
        # page says it is pending, then shows the outcome once a worker has run it.
        self.open("/admin/esi_dashboard/dashboard/")
        Conf.SYNC = False
        try:
            self.wait_for("#esi-refresh-expired").click()
            self.wait_for("ul.messagelist")
        finally:
            Conf.SYNC = True
        [message] = self.messages()
        self.assertRegex(message, r"^Refresh of expired tokens queued as task [0-9a-f]{32}\.$")
        task = self.wait_for('.esi-task[data-esi-task-state="pending"]')
        self.assertIn("Waiting for a django-q2 worker", task.text)
        self.assertEqual(self.run_queued_tasks(), 1)
        WebDriverWait(self.browser, 15).until(
            expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, ".esi-task"), "refreshed")
        )
        # Four expired refreshable tokens, but the failing one is backing off: three.
        self.assertIn("3 token(s): 3 refreshed", self.text(".esi-task"))
        self.assertTrue(self.browser.find_element(By.CSS_SELECTOR, ".esi-tasks-reload").is_displayed())
        self.click_and_load(self.browser.find_element(By.CSS_SELECTOR, ".esi-tasks-reload a"))
        self.wait_for("#esi-token-table")
        self.screenshot("health")

        # Scope coverage: counted on the first view (sync worker), with the scopes asked
        # for by tests/urls.py's views and the characters missing mail.
        self.open("/admin/esi_dashboard/dashboard/scopes/")
        self.wait_for(".esi-count-info")
        self.assertIn("Counted 0 minutes ago", self.text(".esi-count-info"))
        self.assertNotIn("This count is late", self.text(".esi-count-info"))
        self.assertIn("8 tokens", self.text(".esi-count-totals"))
        required = self.text("#esi-required")
        self.assertIn(MAIL, required)
        self.click_and_load(self.browser.find_element(By.CSS_SELECTOR, "a[href*='missing=esi-mail']"))
        self.wait_for("#missing")
        self.assertEqual(len(self.browser.find_elements(By.CSS_SELECTOR, "#missing tbody tr")), 4)
        self.screenshot("scopes")

        # ESI budgets: the calls made above.
        self.open("/admin/esi_dashboard/dashboard/budgets/")
        self.wait_for(".esi-cards")
        self.assertIn("errors left in the window", self.text(".esi-cards"))
        self.assertIn("429", self.text("#esi-events"))
        self.assertGreaterEqual(len(self.browser.find_elements(By.CSS_SELECTOR, "svg.esi-chart")), 2)
        self.screenshot("budgets")

        # The token list: select two tokens, run "Refresh selected tokens".
        self.open("/admin/esi/token/?q=9000050")
        self.wait_for("#result_list")
        for checkbox in self.browser.find_elements(By.CSS_SELECTOR, "#result_list input.action-select")[:2]:
            checkbox.click()
        Select(self.browser.find_element(By.NAME, "action")).select_by_value("refresh_selected")
        self.click_and_load(self.browser.find_element(By.NAME, "index"))
        self.wait_for("ul.messagelist")
        self.assertRegex(self.messages()[0], r"^Refresh of 2 selected tokens queued as task [0-9a-f]{32}\.$")
        self.assertIn("2 token(s): 2 refreshed", self.text(".esi-task"))
        self.screenshot("token-list")

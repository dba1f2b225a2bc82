"""The site-wide cap on EVE SSO refreshes in flight (esi.sso_limit): through the real
refresh engine and the emulator's token endpoint (which records the most requests it had in
flight at once), across threads and, with a shared Redis cache, across processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import override_settings

from esi import sso, sso_limit
from esi.checks import check_refresh_limit
from esi.errors import SSOUnavailableError
from esi.models import Token
from esi.refresh import refresh_many

from .factories import make_token

ROOT = Path(__file__).resolve().parent.parent


def _expired_tokens(emulator, count, first=90007000):
    tokens = [make_token(emulator, first + i) for i in range(count)]
    Token.objects.filter(pk__in=[t.pk for t in tokens]).update(expires_at="2000-01-01T00:00:00Z")
    return [t.pk for t in tokens]


@pytest.mark.django_db(transaction=True)
def test_a_run_never_has_more_refreshes_in_flight_than_the_cap(emulator, settings):
    settings.ESI_SSO_MAX_CONCURRENT_REFRESHES = 3
    ids = _expired_tokens(emulator, 24)
    emulator.faults.add("sso:token", latency=0.05)
    emulator.sso.reset_stats()
    summary = refresh_many(ids, concurrency=8)
    assert summary.counts["refreshed"] == 24
    # SQLite refreshes one token at a time by design; PostgreSQL and MariaDB use 8 threads.
    assert emulator.sso.stats["token_peak"] <= 3
    assert sso_limit.in_flight() == 0


def test_without_a_cap_every_thread_goes(emulator, settings):
    settings.ESI_SSO_MAX_CONCURRENT_REFRESHES = None
    assert sso_limit.limit() is None
    with sso_limit.refresh_slot(lease=1):
        assert sso_limit.in_flight() == 0


def test_waiting_too_long_for_a_slot_is_transient(emulator, settings, monkeypatch):
    """Every slot held elsewhere: the refresh gives up after ESI_SSO_REFRESH_SLOT_WAIT
    seconds with SSOUnavailableError, so the token is kept and backed off."""
    settings.ESI_SSO_MAX_CONCURRENT_REFRESHES = 2
    settings.ESI_SSO_REFRESH_SLOT_WAIT = 0.05
    for i in range(2):
        cache.add(f"esi:sso:refresh-slot:{i}", "another process", timeout=60)
    token = make_token(emulator, 90007100)
    with pytest.raises(SSOUnavailableError, match="No EVE SSO refresh slot came free within 0.05 s"):
        sso.refresh_access_token(token.refresh_token)
    assert emulator.sso.stats["refreshes"] == 0
    summary = refresh_many([token.pk], force=True)
    assert summary.counts["kept"] == 1 and Token.objects.filter(pk=token.pk).exists()


def test_a_slot_taken_over_after_its_lease_is_not_freed_by_the_old_holder(settings):
    settings.ESI_SSO_MAX_CONCURRENT_REFRESHES = 1
    with sso_limit.refresh_slot(lease=1):
        cache.set("esi:sso:refresh-slot:0", "the next holder", timeout=60)  # the lease ran out
    assert cache.get("esi:sso:refresh-slot:0") == "the next holder"


CHILD = r"""
import json, sys, threading
import django
django.setup()
from django.conf import settings
from esi import sso
settings.ESI_SSO_BASE_URL = sys.argv[1]
settings.ESI_SSO_MAX_CONCURRENT_REFRESHES = 4
tokens = json.loads(sys.argv[2])
errors = []
def work(chunk):
    for refresh_token in chunk:
        try:
            sso.refresh_access_token(refresh_token)
        except Exception as exc:
            errors.append(repr(exc))
threads = [threading.Thread(target=work, args=(tokens[i::6],)) for i in range(6)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(errors))
"""


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a cache shared between processes (REDIS_URL)")
def test_two_processes_share_the_cap(emulator):
    """Two processes with six threads each, one Redis cache, a cap of four."""
    emulator.faults.add("sso:token", latency=0.05)
    grants = [emulator.sso.issue_grant(90007200 + i, [])["refresh_token"] for i in range(24)]
    emulator.sso.reset_stats()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, emulator.url, json.dumps(grants[i::2])],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(2)
    ]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert json.loads(out.strip().splitlines()[-1]) == []
    assert emulator.sso.stats["refreshes"] == 24
    assert emulator.sso.stats["token_peak"] == 4


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ESI_SSO_MAX_CONCURRENT_REFRESHES", -1),
        ("ESI_SSO_MAX_CONCURRENT_REFRESHES", "16"),
        ("ESI_SSO_MAX_CONCURRENT_REFRESHES", True),
        ("ESI_SSO_MAX_CONCURRENT_REFRESHES", 1001),
        ("ESI_SSO_REFRESH_SLOT_WAIT", 0),
        ("ESI_SSO_REFRESH_SLOT_WAIT", "30"),
        ("ESI_SSO_REFRESH_SLOT_WAIT", None),
    ],
)
def test_malformed_settings_are_an_error(name, value):
    from esi.checks import check_setting_values

    with override_settings(**{name: value}):
        messages = check_setting_values()
    assert [m.id for m in messages] in (["esi.E006"], ["esi.E007"]) and name in messages[0].msg


@pytest.mark.parametrize(("cap", "debug", "expected"), [(16, False, ["esi.W012"]), (16, True, []), (None, False, []), (0, False, [])])
def test_a_per_process_cache_is_a_warning_in_production(cap, debug, expected, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.ESI_SSO_MAX_CONCURRENT_REFRESHES = cap
    settings.DEBUG = debug
    assert [m.id for m in check_refresh_limit()] == expected


def test_a_shared_cache_passes(settings):
    settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/12"}}
    settings.DEBUG = False
    assert check_refresh_limit() == []

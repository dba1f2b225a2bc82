"""The Prometheus exporter: real ESI calls to the emulator and real refreshes, scraped over
HTTP Basic auth or an admin session and parsed with prometheus-client's own parser; who
may scrape; and the Grafana dashboard in the docs asks only for metrics that exist."""

import base64
import json
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from prometheus_client.parser import text_string_to_metric_families

from esi.models import Token
from esi_dashboard import prometheus
from esi_dashboard.tasks import count_tokens

from ..factories import make_token
from .conftest import grant, set_state

METRICS = "/admin/esi_dashboard/dashboard/metrics/"
GRAFANA = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "esi-dashboard.json"


def basic(username, password):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


@pytest.fixture
def scraper(db):
    """The user Prometheus logs in as: staff with the dashboard's permission."""
    user = User.objects.create_user("prometheus", password="scrape-secret", is_staff=True)
    return grant(user, "esi_dashboard.view_dashboard")


def scrape(client, **extra):
    response = client.get(METRICS, **basic("prometheus", "scrape-secret"), **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_esi_calls_budgets_and_tokens(client, scraper, traffic, tokens):
    count_tokens()
    samples = scrape(client)
    assert samples[("esi_requests_total", (("operation", "get_status"), ("status", "200")))] == 1
    assert samples[("esi_requests_total", (("operation", "get_universe_types_type_id"), ("status", "404")))] == 1
    assert samples[("esi_requests_total", (("operation", "get_characters_character_id_attributes"), ("status", "429")))] == 1
    assert samples[("esi_calls_total", (("result", "hit"),))] == 1
    assert samples[("esi_calls_total", (("result", "error"),))] == 2
    assert samples[("esi_request_duration_seconds_total", (("operation", "get_status"),))] > 0
    assert samples[("esi_error_limit_remain", ())] == 98
    assert 0 < samples[("esi_error_limit_reset_seconds", ())] <= 60
    groups = {dict(labels)["group"] for name, labels in samples if name == "esi_rate_limit_buckets"}
    assert groups and all(samples[("esi_rate_limit_limit", (("group", g),))] > 0 for g in groups)
    assert sum(samples[("esi_rate_limit_blocked_buckets", (("group", g),))] for g in groups) == 1
    assert samples[("esi_tokens", (("state", "expired"),))] == 3
    assert samples[("esi_tokens", (("state", "failing"),))] == 1
    assert samples[("esi_tokens_backing_off", ())] == 1
    assert samples[("esi_tokens_counted_timestamp_seconds", ())] > 1.7e9


def test_refresh_outcomes(client, scraper, emulator, django_capture_on_commit_callbacks):
    """Through the real refresh engine and its signals."""
    ok = set_state(make_token(emulator, 90000601), expires_in=-60)
    gone = set_state(make_token(emulator, 90000602), expires_in=-60)
    emulator.sso.revoke_all(90000602)
    with django_capture_on_commit_callbacks(execute=True):
        Token.objects.filter(pk__in=[ok.pk, gone.pk]).bulk_refresh()
    failing = set_state(make_token(emulator, 90000603), expires_in=-60)
    emulator.faults.add("sso:token", status=502)
    with django_capture_on_commit_callbacks(execute=True):
        Token.objects.filter(pk=failing.pk).bulk_refresh()
    samples = scrape(client)
    series = {
        labels: value for (name, labels), value in samples.items() if name == "esi_token_refreshes_total"
    }
    assert series[(("outcome", "refreshed"), ("reason", ""))] == 1
    assert series[(("outcome", "failed"), ("reason", ""))] == 1
    assert series[(("outcome", "deleted"), ("reason", "invalid_grant"))] == 1
    assert series[(("outcome", "deleted"), ("reason", "other"))] == 0


def test_an_unknown_deletion_reason_counts_as_other(db):
    prometheus.count_refresh("deleted", "<script>")
    assert prometheus.refresh_counts()[("deleted", "other")] == 1


def test_no_traffic_and_no_count_yet(client, scraper):
    samples = scrape(client)
    assert ("esi_error_limit_remain", ()) not in samples
    assert not any(name == "esi_tokens" for name, _ in samples)
    assert samples[("esi_calls_total", (("result", "miss"),))] == 0


def test_an_admin_session_works_too(client, staff):
    client.force_login(staff)
    response = client.get(METRICS)
    assert response.status_code == 200 and b"esi_calls_total" in response.content


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer abc",
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b":empty-user").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Basic " + base64.b64encode(b"prometheus:wrong").decode(),
        "Basic " + base64.b64encode(b"nobody:scrape-secret").decode(),
    ],
)
def test_without_valid_credentials(client, scraper, authorization):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.get(METRICS, **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Basic realm="esi_metrics"')
    assert b"esi_" not in response.content.replace(b"esi_dashboard", b"").replace(b"esi_metrics", b"")


@pytest.mark.parametrize("who", ["not staff", "no permission", "inactive"])
def test_without_the_permission(client, db, who):
    user = User.objects.create_user("someone", password="pw", is_staff=who != "not staff")
    if who != "no permission":
        user = grant(user, "esi_dashboard.view_dashboard")
    if who == "inactive":
        # Django's ModelBackend refuses inactive users at login: use a session.
        User.objects.filter(pk=user.pk).update(is_active=False)
        client.force_login(User.objects.get(pk=user.pk))
        assert client.get(METRICS).status_code in (401, 403)
        return
    assert client.get(METRICS, **basic("someone", "pw")).status_code == 403


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_only_get(client, scraper, method):
    assert getattr(client, method)(METRICS, **basic("prometheus", "scrape-secret")).status_code == 405


def test_without_prometheus_client(client, scraper, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_prometheus(name, *args, **kwargs):
        if name == "prometheus_client":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_prometheus)
    response = client.get(METRICS, **basic("prometheus", "scrape-secret"))
    assert response.status_code == 501 and b"django-esi-ng[metrics]" in response.content


def test_the_grafana_dashboard_asks_for_metrics_that_exist(client, scraper, traffic, tokens):
    count_tokens()
    exported = {name for name, _ in scrape(client)}
    dashboard = json.loads(GRAFANA.read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert expressions
    used = {name for expr in expressions for name in re.findall(r"\b(esi_[a-z_]+)\b", expr)}
    assert used and used <= exported, used - exported

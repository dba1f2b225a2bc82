"""token_required, tokens_required and single_use_token, end to end with the emulator."""

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import override_settings

from esi.models import CallbackRedirect, Token

from .factories import MAIL, NOTIFICATIONS, make_token, sso_login


def logged_in(client, name="pilot"):
    user = User.objects.create_user(name, password="pw")
    client.force_login(user)
    return user


class TestTokenRequired:
    def test_anonymous_user_goes_through_sso_and_gets_the_token(self, emulator, client):
        response = sso_login(client, emulator, "/one/", 90000001)
        assert response["Location"] == "/one/"
        data = client.get("/one/").json()
        assert data["character_id"] == 90000001 and data["scopes"] == [NOTIFICATIONS]
        # The token was handed over once; the next visit starts a new login.
        assert client.get("/one/").status_code == 302
        assert CallbackRedirect.objects.filter(token__isnull=False).count() == 0

    def test_user_without_tokens_goes_through_sso(self, emulator, client):
        user = logged_in(client)
        sso_login(client, emulator, "/one/", 90000001)
        data = client.get("/one/").json()
        assert Token.objects.get(pk=data["id"]).user == user

    def test_user_with_tokens_gets_the_selection_page(self, emulator, client):
        user = logged_in(client)
        a = make_token(emulator, 90000001, [NOTIFICATIONS], user=user)
        make_token(emulator, 90000002, [MAIL], user=user)  # lacks the scope
        response = client.get("/one/")
        assert response.status_code == 200
        assert [t.pk for t in response.context["tokens"]] == [a.pk]
        assert response.context["scopes"] == [NOTIFICATIONS]
        assert b'name="_token"' in response.content and b'name="_add"' in response.content
        assert b"csrfmiddlewaretoken" in response.content

    def test_selecting_an_own_token(self, emulator, client):
        user = logged_in(client)
        token = make_token(emulator, 90000001, [NOTIFICATIONS], user=user)
        response = client.post("/one/", {"_token": token.pk})
        assert response.status_code == 200 and response.json()["id"] == token.pk

    def test_selecting_an_expired_own_token_refreshes_it(self, emulator, client):
        user = logged_in(client)
        token = make_token(emulator, 90000001, [NOTIFICATIONS], user=user, expired=True)
        assert client.post("/one/", {"_token": token.pk}).json()["id"] == token.pk
        token.refresh_from_db()
        assert not token.expired

    def test_cannot_pick_another_users_token(self, emulator, client):
        logged_in(client)
        other = make_token(emulator, 90000009, [NOTIFICATIONS], user=User.objects.create(username="other"))
        response = client.post("/one/", {"_token": other.pk})
        assert response.status_code == 302 and response["Location"].startswith(emulator.url)

    def test_cannot_pick_an_ownerless_token(self, emulator, client):
        logged_in(client)
        ownerless = make_token(emulator, 90000009, [NOTIFICATIONS])
        response = client.post("/one/", {"_token": ownerless.pk})
        assert response.status_code == 302 and response["Location"].startswith(emulator.url)

    def test_anonymous_cannot_pick_any_token(self, emulator, client):
        ownerless = make_token(emulator, 90000009, [NOTIFICATIONS])
        response = client.post("/one/", {"_token": ownerless.pk})
        assert response.status_code == 302 and response["Location"].startswith(emulator.url)

    def test_own_token_without_the_scopes_is_refused(self, emulator, client):
        user = logged_in(client)
        token = make_token(emulator, 90000001, [MAIL], user=user)
        response = client.post("/one/", {"_token": token.pk})
        assert response.status_code == 302

    def test_malformed_token_ids(self, emulator, client):
        user = logged_in(client)
        make_token(emulator, 90000001, [NOTIFICATIONS], user=user)
        for value in ("", "abc", "1 OR 1=1", "-1", "99999999999999999999", "1.5", "\x00"):
            response = client.post("/one/", {"_token": value})
            assert response.status_code == 200  # back to the selection page
            assert "tokens" in response.context

    def test_add_goes_to_sso(self, emulator, client):
        user = logged_in(client)
        make_token(emulator, 90000001, [NOTIFICATIONS], user=user)
        response = client.post("/one/", {"_add": "True"})
        assert response.status_code == 302 and response["Location"].startswith(emulator.url)

    def test_new_forces_sso_even_with_tokens(self, emulator, client):
        user = logged_in(client)
        make_token(emulator, 90000001, [NOTIFICATIONS, MAIL], user=user)
        response = client.get("/one-new/")
        assert response.status_code == 302 and response["Location"].startswith(emulator.url)

    def test_callback_token_without_the_scopes_is_not_handed_over(self, emulator, client):
        # A login started for MAIL only, then brought to a view that needs NOTIFICATIONS.
        sso_login(client, emulator, f"/sso/login/?scopes={MAIL}&next=/one/", 90000001)
        response = client.get("/one/")
        assert response.status_code == 302 and response["Location"].startswith(emulator.url)


class TestTokensRequired:
    def test_anonymous_user_is_sent_to_login(self, emulator, client):
        response = client.get("/many/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")

    def test_returns_all_matching_valid_tokens_of_the_user(self, emulator, client):
        user = logged_in(client)
        a = make_token(emulator, 90000001, [NOTIFICATIONS], user=user)
        b = make_token(emulator, 90000002, [NOTIFICATIONS, MAIL], user=user, expired=True)
        make_token(emulator, 90000003, [MAIL], user=user)
        make_token(emulator, 90000004, [NOTIFICATIONS], user=User.objects.create(username="x"))
        make_token(emulator, 90000005, [NOTIFICATIONS])
        data = client.get("/many/").json()
        assert [t["id"] for t in data["tokens"]] == [a.pk, b.pk]

    def test_user_without_tokens_goes_through_sso(self, emulator, client):
        logged_in(client)
        sso_login(client, emulator, "/many/", 90000001)
        data = client.get("/many/").json()
        assert [t["character_id"] for t in data["tokens"]] == [90000001]

    def test_new_forces_sso_even_with_tokens(self, emulator, client):
        user = logged_in(client)
        old = make_token(emulator, 90000001, [NOTIFICATIONS], user=user)
        response = client.get("/many-new/")
        assert response.status_code == 302 and response["Location"].startswith(emulator.url)
        # Back from SSO, the view gets the new token alone, not the one already stored.
        sso_login(client, emulator, "/many-new/", 90000002)
        data = client.get("/many-new/").json()
        assert [t["character_id"] for t in data["tokens"]] == [90000002]
        assert data["tokens"][0]["id"] != old.pk
        assert Token.objects.get(pk=data["tokens"][0]["id"]).user == user
        # The token was handed over once; the next visit goes through SSO again.
        assert client.get("/many-new/")["Location"].startswith(emulator.url)

    def test_new_sends_an_anonymous_user_to_sso_not_to_the_login_page(self, emulator, client):
        response = client.get("/many-new/")
        assert response.status_code == 302 and response["Location"].startswith(emulator.url)
        sso_login(client, emulator, "/many-new/", 90000003)
        data = client.get("/many-new/").json()
        assert [t["character_id"] for t in data["tokens"]] == [90000003]
        assert Token.objects.get(pk=data["tokens"][0]["id"]).user is None


class TestSingleUseToken:
    def test_always_goes_through_sso(self, emulator, client):
        user = logged_in(client)
        make_token(emulator, 90000001, [NOTIFICATIONS], user=user)
        assert client.get("/single/")["Location"].startswith(emulator.url)

    def test_works_without_a_site_login(self, emulator, client):
        sso_login(client, emulator, "/single/", 90000007)
        data = client.get("/single/").json()
        assert data["character_id"] == 90000007
        assert Token.objects.get(pk=data["id"]).user is None


    def test_new_goes_through_sso_and_gets_the_new_token(self, emulator, client):
        user = logged_in(client)
        old = make_token(emulator, 90000001, [NOTIFICATIONS], user=user)
        assert client.get("/single-new/")["Location"].startswith(emulator.url)
        sso_login(client, emulator, "/single-new/", 90000001)
        data = client.get("/single-new/").json()
        # The login's grant updated the stored row of the same character and scopes.
        assert (data["id"], data["character_id"]) == (old.pk, 90000001)
        assert emulator.sso.stats["code_exchanges"] == 1
        assert Token.objects.get(pk=old.pk).refresh_token != old.refresh_token
        assert client.get("/single-new/")["Location"].startswith(emulator.url)


class TestSelectionTemplate:
    def test_a_project_template_overrides_the_packaged_one(self, emulator, client, tmp_path):
        (tmp_path / "esi").mkdir()
        (tmp_path / "esi" / "select_token.html").write_text(
            "<p>Project page</p>{% for token in tokens %}<b>{{ token.character_name }}</b>{% endfor %}"
            '<form method="post">{% csrf_token %}<button name="_add" value="1">Add</button></form>'
        )
        user = logged_in(client)
        token = make_token(emulator, 90000001, [NOTIFICATIONS], user=user)
        templates = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
        with override_settings(TEMPLATES=templates):
            response = client.get("/one/")
        assert response.status_code == 200
        assert [t.name for t in response.templates] == ["esi/select_token.html"]
        assert response.templates[0].origin.name == str(tmp_path / "esi" / "select_token.html")
        html = response.content.decode()
        assert html.startswith("<p>Project page</p>")
        assert f"<b>{token.character_name}</b>" in html
        assert 'name="_token"' not in html  # nothing of the packaged page


class TestWhenEveSsoHangs:
    """EVE SSO takes 3 s to answer a refresh (well inside the 10 s read timeout). A page
    with three expired tokens took one read timeout per token (30 s), and as long again
    on the next page: now the decorators give EVE SSO ``ESI_SSO_VIEW_TIMEOUT`` in all, and
    a token whose refresh failed is not tried again before its back-off ends."""

    @pytest.fixture(autouse=True)
    def settle(self, emulator):
        """The refreshes cut at the view's deadline are still at the emulator, which goes
        on with them: wait for them, or they would land in the next test's counters."""
        import time

        yield
        deadline = time.monotonic() + 10
        while any(r.status is None for r in emulator.requests if r.path == "/v2/oauth/token"):
            assert time.monotonic() < deadline, "the emulator did not finish the cut refreshes"
            time.sleep(0.05)

    def token_requests(self, emulator):
        return sum(1 for r in emulator.requests if r.path == "/v2/oauth/token")

    def test_pages_wait_at_most_the_view_timeout_and_backed_off_tokens_are_left_alone(
        self, emulator, client, settings
    ):
        import time

        settings.ESI_SSO_VIEW_TIMEOUT = 0.5
        user = logged_in(client)
        tokens = [make_token(emulator, 90000001 + i, [NOTIFICATIONS], user=user, expired=True) for i in range(3)]
        emulator.faults.latency(3, target="sso:token")
        asked = []
        for _ in range(len(tokens) + 1):
            before = self.token_requests(emulator)
            started = time.monotonic()
            page = client.get("/many/")
            assert time.monotonic() - started < 2.2  # one refresh alone took 3 s before
            # No valid token: the decorator sends the user to log in again.
            assert page.status_code == 302 and "/v2/oauth/authorize" in page["Location"]
            asked.append(self.token_requests(emulator) - before)
        # Every token asked EVE SSO once at most (all at once on PostgreSQL and MariaDB, one
        # per page where refreshes run one at a time); then the back-off holds.
        assert sum(asked) == len(tokens) and asked[-1] == 0
        stored = Token.objects.filter(user=user)
        assert stored.count() == 3 and all(t.refresh_failures == 1 for t in stored)
        assert all(t.refresh_backoff_until is not None for t in stored)

    def test_the_selection_page_and_a_posted_token_obey_the_view_timeout(self, emulator, client, settings):
        import time

        settings.ESI_SSO_VIEW_TIMEOUT = 0.5
        user = logged_in(client)
        token = make_token(emulator, 90000001, [NOTIFICATIONS], user=user, expired=True)
        emulator.faults.latency(3, target="sso:token")
        started = time.monotonic()
        assert client.post("/one/", {"_token": token.pk}).status_code == 302  # not valid: log in
        assert client.get("/one/").status_code == 302
        assert time.monotonic() - started < 2.5
        assert self.token_requests(emulator) == 1


class TestImplicitRefreshHonoursTheBackOff:
    def test_valid_access_token_does_not_ask_eve_sso_while_the_token_backs_off(self, emulator):
        from esi.errors import SSOUnavailableError

        token = make_token(emulator, 90000001, [NOTIFICATIONS], expired=True)
        emulator.faults.add("sso:token", status=503)
        with pytest.raises(SSOUnavailableError):
            token.valid_access_token()
        asked = emulator.sso.stats["refreshes"] + emulator.sso.stats["refresh_failures"]
        requests_before = len(emulator.requests)
        emulator.faults.clear()
        with pytest.raises(SSOUnavailableError, match="not trying again") as info:
            Token.objects.get(pk=token.pk).valid_access_token()
        assert 0 < info.value.retry_after <= 60
        assert len(emulator.requests) == requests_before
        # An explicit refresh is a request to try now.
        Token.objects.get(pk=token.pk).refresh()
        assert emulator.sso.stats["refreshes"] + emulator.sso.stats["refresh_failures"] == asked + 1

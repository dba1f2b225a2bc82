"""Fixtures of the dashboard tests: users with and without the dashboard's permissions, and
tokens put into each state the health page counts."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from esi import errors, required_scopes
from esi.clients import EsiClientProvider
from esi.http import stats
from esi.models import Token

from ..factories import ASSETS, MAIL, NOTIFICATIONS, make_token

HEALTH = "/admin/esi_dashboard/dashboard/"
SCOPES = HEALTH + "scopes/"
BUDGETS = HEALTH + "budgets/"
PAGES = [HEALTH, SCOPES, BUDGETS]
CSV = HEALTH + "tokens.csv"


def grant(user, *perms):
    """``user`` again, holding ``perms`` (``"app_label.codename"``), freshly loaded: Django
    caches permissions on the instance."""
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def staff(db):
    """A staff user who may view the dashboard and refresh tokens (not a superuser). No
    password: hashing one costs a third of a second, and the tests log in with force_login."""
    user = User.objects.create_user("staff", "staff@example.com", is_staff=True)
    return grant(user, "esi_dashboard.view_dashboard", "esi.view_token", "esi.change_token")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture(autouse=True)
def _forget_recorded_operations():
    """ESI operations recorded by one test's client calls must not show in the next."""
    required_scopes.reset()
    yield
    required_scopes.reset()


def set_state(token: Token, **fields) -> Token:
    """Give a stored token these column values (``expires_in``: seconds from now)."""
    if "expires_in" in fields:
        fields["expires_at"] = timezone.now() + datetime.timedelta(seconds=fields.pop("expires_in"))
    Token.objects.filter(pk=token.pk).update(**fields)
    token.refresh_from_db()
    return token


@pytest.fixture
def tokens(emulator, staff):
    """One token in each state, from real grants: ``valid`` (15 min left, the staff user's,
    notifications), ``expiring`` (2 min, notifications and mail), ``expired`` (an hour ago,
    refreshable, no scope), ``unrefreshable`` (expired, no refresh token, mail), ``failing``
    (expired, last refresh failed, backing off, mail) and ``legacy`` (stored by django-esi:
    no ``expires_at``, created two days ago, assets)."""
    now = timezone.now()
    made = {
        "valid": set_state(make_token(emulator, 90000001, [NOTIFICATIONS], user=staff), expires_in=900),
        "expiring": set_state(make_token(emulator, 90000002, [NOTIFICATIONS, MAIL]), expires_in=120),
        "expired": set_state(make_token(emulator, 90000003, []), expires_in=-3600),
        "unrefreshable": set_state(make_token(emulator, 90000004, [MAIL]), expires_in=-60, refresh_token=None),
        "failing": set_state(
            make_token(emulator, 90000005, [MAIL]),
            expires_in=-600,
            last_refresh_at=now,
            last_refresh_ok=False,
            last_refresh_error="SSOUnavailableError: EVE SSO answered 502",
            refresh_failures=3,
            refresh_backoff_until=now + datetime.timedelta(minutes=4),
        ),
        "legacy": set_state(make_token(emulator, 90000006, [ASSETS]), expires_at=None, created=now - datetime.timedelta(days=2)),
    }
    return made


SKILLS = "esi-skills.read_skills.v1"
ASSETS_SCOPE = "esi-assets.read_assets.v1"


@pytest.fixture
def esi(emulator, settings):
    settings.ESI_RATE_LIMIT_BEHAVIOUR = "raise"
    settings.ESI_ERROR_LIMIT_BEHAVIOUR = "raise"
    return EsiClientProvider(app_info_text="dashboard tests/1.0").client


@pytest.fixture
def traffic(esi, emulator):
    """Calls as a site makes them: public and per-character, cache hits, an error, a 429."""
    token = make_token(emulator, 90000201, [SKILLS, ASSETS_SCOPE])
    esi.Status.get_status().result()
    esi.Status.get_status().result()  # from the cache
    esi.Skills.get_characters_character_id_skills(character_id=90000201, token=token).result()
    esi.Assets.get_characters_character_id_assets(character_id=90000201, token=token).results()
    emulator.faults.add("GetCharactersCharacterIdAttributes", status=429, retry_after=30, times=1)
    with pytest.raises(errors.ESIBucketLimitException):
        esi.Skills.get_characters_character_id_attributes(character_id=90000201, token=token).result()
    emulator.faults.add("GetUniverseTypesTypeId", status=404, times=1)
    with pytest.raises(errors.HTTPNotFound):
        esi.Universe.get_universe_types_type_id(type_id=587).result()
    stats.flush()
    return token

"""Demo data, made through the emulator as a real site would make it: characters log in
(grants from the emulated EVE SSO), their tokens are stored and refreshed by the refresh
engine, and the ESI client calls the emulated ESI, so that every dashboard page has
something to show.

:func:`seed` is idempotent: the characters and tokens are created once (the emulator's state
file keeps their refresh tokens valid across restarts); the ESI traffic, which lives in the
process's cache, is made again at every start.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone

from esi import errors, sso
from esi.clients import EsiClientProvider
from esi.emulator import Character, Emulator
from esi.http import stats
from esi.models import Token
from esi.refresh import refresh_many
from esi_dashboard.tasks import count_all

SKILLS = "esi-skills.read_skills.v1"
ASSETS = "esi-assets.read_assets.v1"
MAIL = "esi-mail.read_mail.v1"
NOTIFICATIONS = "esi-characters.read_notifications.v1"
WALLET = "esi-wallet.read_character_wallet.v1"

#: (character ID, name, owner's username, scopes, state): the states the health page counts.
CHARACTERS = [
    (2113000001, "Ada Demo", "pilot-ada", [SKILLS, ASSETS, MAIL, NOTIFICATIONS], "valid"),
    (2113000002, "Bram Demo", "pilot-ada", [SKILLS, MAIL], "valid"),
    (2113000003, "Cyra Demo", "pilot-cyra", [SKILLS, ASSETS], "expiring"),
    (2113000004, "Dax Demo", "pilot-cyra", [NOTIFICATIONS], "expired"),
    (2113000005, "Eira Demo", "pilot-eira", [SKILLS, WALLET], "expired"),
    (2113000006, "Finn Demo", "pilot-eira", [MAIL, WALLET], "expired"),
    (2113000007, "Gale Demo", "pilot-gale", [ASSETS], "unrefreshable"),
    (2113000008, "Hale Demo", "pilot-gale", [SKILLS, MAIL], "failing"),
    (2113000009, "Iris Demo", "pilot-iris", [NOTIFICATIONS, MAIL], "legacy"),
    (2113000010, "Jory Demo", "pilot-iris", [SKILLS], "deleted"),
]
ADMIN_USERNAME = "admin"


@dataclass
class Seeded:
    """What :func:`seed` did: ``created`` is whether the characters and tokens were made now
    (``False``: they were there from an earlier start)."""

    created: bool
    admin_created: bool
    tokens: int
    esi_calls: int


def ensure_admin(password: str) -> bool:
    """A superuser ``admin`` with ``password``, created unless it exists (an existing one
    keeps its password). Returns whether it was created."""
    users = get_user_model()
    if users.objects.filter(username=ADMIN_USERNAME).exists():
        return False
    users.objects.create_superuser(ADMIN_USERNAME, "admin@example.com", password)
    return True


def seed(emulator: Emulator, admin_password: str) -> Seeded:
    """Characters, tokens in every state, ESI traffic and the dashboard's counts."""
    admin_created = ensure_admin(admin_password)
    for character_id, name, *_ in CHARACTERS:
        emulator.sso.add_character(Character(character_id, name))
    created = not Token.objects.filter(character_id__in=[c[0] for c in CHARACTERS]).exists()
    if created:
        _tokens(emulator)
    calls = _traffic(emulator)
    count_all()
    return Seeded(created, admin_created, Token.objects.count(), calls)


def _tokens(emulator: Emulator) -> None:
    users = get_user_model()
    now = timezone.now()
    for character_id, _, username, scopes, state in CHARACTERS:
        user, _ = users.objects.get_or_create(username=username)
        answer = emulator.sso.issue_grant(character_id, scopes, client_id=emulator.sso.client_id)
        token = Token.objects.create_from_answer(answer, sso.verify_access_token(answer["access_token"]), user=user)
        rows = Token.objects.filter(pk=token.pk)
        if state == "expiring":
            rows.update(expires_at=now + datetime.timedelta(minutes=3))
        elif state in ("expired", "failing", "deleted"):
            rows.update(expires_at=now - datetime.timedelta(hours=5))
        elif state == "unrefreshable":
            rows.update(expires_at=now - datetime.timedelta(days=3), refresh_token=None)
        elif state == "legacy":  # stored by django-esi: no expires_at
            rows.update(expires_at=None, created=now - datetime.timedelta(days=2))
    # A refresh that EVE SSO answers with 502: the token is kept, failing and backed off.
    failing = Token.objects.get(character_id=2113000008)
    emulator.faults.add("sso:token", status=502, times=1)
    refresh_many([failing.pk], force=True)
    # A grant revoked at EVE SSO: the refresh engine deletes the token (invalid_grant) and
    # the dashboard records the deletion.
    emulator.sso.revoke_all(2113000010)
    refresh_many([Token.objects.get(character_id=2113000010).pk], force=True)


def _traffic(emulator: Emulator) -> int:
    """ESI calls for the budgets page: public and per-character, cache hits, a paged
    result, a 404 and a 429. Returns how many calls were made."""
    client = EsiClientProvider(app_info_text="django-esi-ng-demo/1.0").client
    calls = 0
    with override_settings(ESI_RATE_LIMIT_BEHAVIOUR="raise", ESI_ERROR_LIMIT_BEHAVIOUR="raise"):
        for _ in range(3):
            client.Status.get_status().result()
            calls += 1
        for token in Token.objects.filter(character_id__in=[2113000001, 2113000002, 2113000003]):
            client.Skills.get_characters_character_id_skills(character_id=token.character_id, token=token).result()
            calls += 1
        ada = Token.objects.get(character_id=2113000001)
        client.Assets.get_characters_character_id_assets(character_id=ada.character_id, token=ada).results()
        calls += 1
        emulator.faults.add("GetUniverseTypesTypeId", status=404, times=1)
        try:
            client.Universe.get_universe_types_type_id(type_id=587).result()
        except errors.HTTPNotFound:
            pass
        calls += 1
        emulator.faults.add("GetCharactersCharacterIdAttributes", status=429, retry_after=30, times=1)
        try:
            client.Skills.get_characters_character_id_attributes(character_id=ada.character_id, token=ada).result()
        except errors.ESIBucketLimitException:
            pass
        calls += 1
    stats.flush()
    return calls

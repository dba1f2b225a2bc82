"""Migrations: a new site, and a database that django-esi 7.0.1 or 10.0.0 migrated.

The django-esi database is built from the SQL those releases run on ``migrate`` (captured by
``tests/fixtures/django_esi/make_schema.py`` from the PyPI packages), with their migration
records, then migrated by this package. Runs on the backend of the run (SQLite, PostgreSQL,
MariaDB).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from esi import app_settings
from esi.models import CallbackRedirect, Token
from tests.esi_dependent.models import TokenNote

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).parent / "fixtures" / "django_esi"

#: django-esi's migrations, 7.0.1 and 10.0.0 alike; a database it migrated records them all.
DJANGO_ESI_MIGRATIONS = [
    "0001_initial",
    "0002_scopes_20161208",
    "0003_hide_tokens_from_admin_site",
    "0004_remove_unique_access_token",
    "0005_remove_token_length_limit",
    "0006_remove_url_length_limit",
    "0007_fix_mysql_8_migration",
    "0008_nullable_refresh_token",
    "0009_set_old_tokens_to_sso_v1",
    "0010_set_new_tokens_to_sso_v2",
    "0011_add_token_indices",
    "0012_fix_token_type_choices",
    "0013_squashed_0012_fix_token_type_choices",
]
OURS = ["0014_token_expires_at", "0015_token_refresh_state"]
DJANGO_ESI_TOKEN_COLUMNS = {
    "id", "created", "access_token", "refresh_token", "character_id", "character_name",
    "token_type", "character_owner_hash", "user_id", "sso_version",
}


def _vendor_file() -> str:
    return {"postgresql": "postgresql", "mysql": "mariadb", "sqlite": "sqlite"}[connection.vendor]


def _statements() -> list[str]:
    text = (FIXTURES / f"{_vendor_file()}.sql").read_text()
    return [
        line for line in (raw.strip() for raw in text.splitlines())
        if line and not line.startswith("--") and line not in ("BEGIN;", "COMMIT;")
    ]


def _columns(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, table)}


def _applied(app: str = "esi") -> set[str]:
    return {name for label, name in MigrationRecorder(connection).applied_migrations() if label == app}


def _make_django_esi_database() -> dict[str, object]:
    """Drop this package's tables, build django-esi's from its own SQL, record its
    migrations as its ``migrate`` does, and store a user's token as django-esi stored them."""
    call_command("migrate", "esi", "zero", verbosity=0)
    assert "esi_token" not in connection.introspection.table_names()
    q = connection.ops.quote_name
    created = timezone.now().replace(microsecond=0) - datetime.timedelta(minutes=3)
    from django.contrib.auth.models import User

    user = User.objects.create(username="pilot")
    with connection.cursor() as cursor:
        for statement in _statements():
            cursor.execute(statement)
        recorder = MigrationRecorder(connection)
        for name in DJANGO_ESI_MIGRATIONS:
            recorder.record_applied("esi", name)
        cursor.execute(
            f"INSERT INTO {q('esi_scope')} ({q('name')}, {q('help_text')}) VALUES (%s, %s)",
            ["esi-mail.read_mail.v1", "Allows reading mail."],
        )
        cursor.execute(
            f"INSERT INTO {q('esi_token')} ({q('created')}, {q('access_token')}, {q('refresh_token')}, "
            f"{q('character_id')}, {q('character_name')}, {q('token_type')}, {q('character_owner_hash')}, "
            f"{q('user_id')}, {q('sso_version')}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                connection.ops.adapt_datetimefield_value(created), "access.jwt", "refresh-1",
                90000001, "Pilot One", "character", "owner-hash-1", user.pk, 2,
            ],
        )
        cursor.execute(f"SELECT {q('id')} FROM {q('esi_token')}")
        token_id = cursor.fetchone()[0]
        cursor.execute(f"SELECT {q('id')} FROM {q('esi_scope')}")
        scope_id = cursor.fetchone()[0]
        cursor.execute(
            f"INSERT INTO {q('esi_token_scopes')} ({q('token_id')}, {q('scope_id')}) VALUES (%s, %s)",
            [token_id, scope_id],
        )
        cursor.execute(
            f"INSERT INTO {q('esi_callbackredirect')} ({q('session_key')}, {q('url')}, {q('state')}, "
            f"{q('created')}, {q('token_id')}) VALUES (%s, %s, %s, %s, %s)",
            ["session-1", "/after/", "state-1", connection.ops.adapt_datetimefield_value(created), token_id],
        )
    assert _columns("esi_token") == DJANGO_ESI_TOKEN_COLUMNS
    return {"token_id": token_id, "created": created, "user": user}


def test_graph_has_django_esi_names_in_one_line():
    graph = MigrationLoader(connection, ignore_no_migrations=True).graph
    names = [name for label, name in graph.forwards_plan(("esi", OURS[-1])) if label == "esi"]
    assert names == DJANGO_ESI_MIGRATIONS + OURS
    assert graph.leaf_nodes("esi") == [("esi", OURS[-1])]
    # An app depending on django-esi's 0012 (tests.esi_dependent, like Alliance Auth) runs
    # after it and before this package's own migrations are needed.
    assert ("esi", "0012_fix_token_type_choices") in graph.forwards_plan(("esi_dependent", "0001_initial"))


def test_new_site_migrates_from_nothing():
    call_command("migrate", "esi", "zero", verbosity=0)
    assert not _applied() and not _applied("esi_dependent")
    call_command("migrate", verbosity=0)
    assert _applied() == set(DJANGO_ESI_MIGRATIONS + OURS)
    assert _applied("esi_dependent") == {"0001_initial"}
    field_columns = {f.column for f in Token._meta.concrete_fields}
    assert _columns("esi_token") == field_columns
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []


def test_django_esi_database_keeps_its_tokens():
    before = _make_django_esi_database()

    call_command("migrate", verbosity=0)

    assert _applied() == set(DJANGO_ESI_MIGRATIONS + OURS)
    assert _columns("esi_token") == {f.column for f in Token._meta.concrete_fields}
    token = Token.objects.get()
    assert token.pk == before["token_id"]
    assert (token.access_token, token.refresh_token) == ("access.jwt", "refresh-1")
    assert (token.character_id, token.character_name, token.character_owner_hash) == (
        90000001, "Pilot One", "owner-hash-1",
    )
    assert token.user == before["user"]
    assert [s.name for s in token.scopes.all()] == ["esi-mail.read_mail.v1"]
    # Expiry as django-esi computed it until the first refresh; no refresh history yet.
    assert token.expires_at is None
    assert token.expires == before["created"] + datetime.timedelta(seconds=app_settings.ESI_TOKEN_VALID_DURATION)
    assert (token.refresh_failures, token.last_refresh_error, token.last_refresh_ok) == (0, "", None)
    assert list(Token.objects.require_scopes("esi-mail.read_mail.v1")) == [token]
    assert CallbackRedirect.objects.get().token == token
    # The app that depends on django-esi's 0012 was migrated too and can point at it.
    TokenNote.objects.create(token=token, text="kept")


def test_going_back_leaves_django_esis_schema():
    before = _make_django_esi_database()
    call_command("migrate", verbosity=0)

    call_command("migrate", "esi", "0013_squashed_0012_fix_token_type_choices", verbosity=0)
    try:
        assert _columns("esi_token") == DJANGO_ESI_TOKEN_COLUMNS
        assert _applied() == set(DJANGO_ESI_MIGRATIONS)
        with connection.cursor() as cursor:
            cursor.execute("SELECT character_name FROM esi_token WHERE id = %s", [before["token_id"]])
            assert cursor.fetchone() == ("Pilot One",)
    finally:
        call_command("migrate", verbosity=0)

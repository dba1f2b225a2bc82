"""An index on ``esi_token`` in the order the dashboard's token table sorts by expiry:
``expires_at`` with the rows django-esi stored without it first, then the primary key.

MariaDB and SQLite put NULL first in ascending order, so ``(expires_at, id)`` serves both
directions there. PostgreSQL puts NULL last unless told, so its index says ``NULLS FIRST``;
without it, sorting a million tokens by expiry read and sorted the whole table (a second).
The index lives in the dashboard's migrations because only the dashboard sorts this way.
"""

from typing import Any

from django.db import migrations

INDEX = "esi_dashboard_token_expiry_order"


def create(apps: Any, schema_editor: Any) -> None:
    columns = "expires_at ASC NULLS FIRST, id ASC" if schema_editor.connection.vendor == "postgresql" else "expires_at, id"
    schema_editor.execute(f"CREATE INDEX {INDEX} ON esi_token ({columns})")


def drop(apps: Any, schema_editor: Any) -> None:
    on_table = " ON esi_token" if schema_editor.connection.vendor == "mysql" else ""
    schema_editor.execute(f"DROP INDEX {INDEX}{on_table}")


class Migration(migrations.Migration):
    # MariaDB cannot roll DDL back, so Django refuses DDL inside a migration's transaction.
    atomic = False

    dependencies = [
        ("esi", "0015_token_refresh_state"),
        ("esi_dashboard", "0003_health_count"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]

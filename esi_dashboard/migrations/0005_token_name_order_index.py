"""On PostgreSQL, an index on ``esi_token (character_name, id)``: the token table's default
order. Finding a page deep in a filtered table then walks this index alone (an index-only
scan) instead of reading every token row walked past: 24 ms instead of 76 ms for page 50
of one scope at 1,000,000 tokens. MariaDB and SQLite need nothing: their index on
``character_name`` carries the primary key already.
"""

from typing import Any

from django.db import migrations

INDEX = "esi_dashboard_token_name_order"


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON esi_token (character_name, id)")


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("esi_dashboard", "0004_token_expiry_order_index")]

    operations = [migrations.RunPython(create, drop, elidable=False)]

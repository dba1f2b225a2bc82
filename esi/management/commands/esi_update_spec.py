"""``manage.py esi_update_spec``: download ESI's OpenAPI spec for a compatibility date."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
from django.core.management.base import BaseCommand, CommandError, CommandParser

from esi import app_settings
from esi.clients import is_compatibility_date, user_agent
from esi.openapi import EsiSpec, SpecError

class Command(BaseCommand):
    help = (
        "Download ESI's OpenAPI spec (/meta/openapi.json) for a compatibility date, check "
        "that it loads, and save it. Point ESI_SPEC_FILE at the file to use it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="Compatibility date YYYY-MM-DD (default: ESI's newest).")
        parser.add_argument(
            "--output",
            help="Where to save it (default: ESI_SPEC_FILE, else ./esi_openapi_<date>.json).",
        )

    def handle(self, *args: Any, date: str | None = None, output: str | None = None, **options: Any) -> None:
        if date is not None and not is_compatibility_date(date):
            raise CommandError(f"--date must be YYYY-MM-DD, not {date!r}")
        url = f"{app_settings.esi_api_url()}/meta/openapi.json"
        headers = {"User-Agent": user_agent("esi_update_spec"), "Accept": "application/json"}
        if date:
            headers["X-Compatibility-Date"] = date
        try:
            answer = requests.get(url, headers=headers, timeout=(5, 60))
            answer.raise_for_status()
            spec = answer.json()
        except requests.RequestException as exc:
            raise CommandError(f"Could not download {url}: {exc}") from exc
        except ValueError as exc:
            raise CommandError(f"{url} did not answer with JSON: {exc}") from exc
        try:
            loaded = EsiSpec.from_dict(spec)
        except SpecError as exc:
            raise CommandError(f"{url} did not answer with an ESI spec: {exc}") from exc
        version = loaded.compatibility_date or loaded.version
        target = Path(output or app_settings.ESI_SPEC_FILE or f"esi_openapi_{version}.json")
        target.write_text(json.dumps(spec, indent=1, sort_keys=True))
        operations = sum(len(loaded.resource(name).operation_names()) for name in loaded.resource_names())
        self.stdout.write(f"Saved the {version} spec ({operations} operations) to {target}")

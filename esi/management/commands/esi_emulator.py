"""``manage.py esi_emulator``: serve the EVE SSO v2 and ESI emulator for offline work."""

from __future__ import annotations

import argparse
import ipaddress
import math
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from esi import app_settings
from esi.emulator import Emulator
from esi.emulator.spec import SpecError, parse_rate_limit


def is_loopback(host: str) -> bool:
    """Whether ``host`` names a loopback address (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def port(text: str) -> int:
    """``--port``: a TCP port, 0 to 65535 (0 picks a free one). Raises
    ``argparse.ArgumentTypeError`` for anything else, which argparse reports as a usage
    error naming the option."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port: use 0 to 65535 (0 picks a free one)")
    return value


def seconds(text: str) -> float:
    """``--latency``: a finite, non-negative number of seconds. Raises
    ``argparse.ArgumentTypeError`` for anything else (``nan``, ``inf``, negative, text)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite, non-negative number of seconds")
    return value


def rate_limit(text: str) -> str:
    """``--rate-limit``: ``<tokens>/<window>`` (``40/10s``). Raises
    ``argparse.ArgumentTypeError`` for anything else."""
    try:
        parse_rate_limit(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


class Command(BaseCommand):
    help = (
        "Serve an emulator of EVE SSO v2 and ESI on loopback, so the site works offline. "
        "Its EVE SSO client is the site's ESI_SSO_CLIENT_ID / ESI_SSO_CLIENT_SECRET."
    )
    # The emulator does not depend on the site being correctly configured.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1).")
        parser.add_argument("--port", type=port, default=8001, help="Port (default 8001; 0 picks a free one).")
        parser.add_argument(
            "--spec",
            default=None,
            help="ESI spec file, OpenAPI 3.1 or Swagger 2.0 JSON (default: the bundled OpenAPI 3.1 spec).",
        )
        parser.add_argument(
            "--latency", type=seconds, default=0.0, help="Seconds to delay every ESI answer (default 0)."
        )
        parser.add_argument(
            "--no-rate-limits",
            action="store_true",
            help="Never answer 429 from the rate-limit groups (for benchmarks).",
        )
        parser.add_argument(
            "--rate-limit",
            type=rate_limit,
            default=None,
            metavar="TOKENS/WINDOW",
            help="Size every rate-limit bucket so (e.g. 40/10s) instead of the spec's x-rate-limit.",
        )
        parser.add_argument("--verbose", action="store_true", help="Log every request to stderr.")
        parser.add_argument(
            "--state-file",
            default=None,
            help="Keep EVE SSO's refresh tokens and characters in this JSON file across restarts.",
        )
        parser.add_argument(
            "--allow-remote",
            action="store_true",
            help="Allow a non-loopback --host. The emulator hands tokens to anyone: never expose it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host: str = options["host"]
        if not is_loopback(host) and not options["allow_remote"]:
            raise CommandError(
                f"refusing to serve on {host!r}: the emulator is a test tool that hands out tokens "
                "to anyone. Use a loopback address, or --allow-remote if you really mean it."
            )
        client_id = app_settings.ESI_SSO_CLIENT_ID
        client_secret = app_settings.ESI_SSO_CLIENT_SECRET
        try:
            emulator = Emulator(
                host,
                options["port"],
                spec_file=options["spec"],
                client_id=client_id,
                client_secret=client_secret,
                verbose=options["verbose"],
                rate_limits=not options["no_rate_limits"],
                rate_limit=options["rate_limit"],
                state_file=options["state_file"],
            )
            url = emulator.url
        except (OSError, SpecError) as exc:
            raise CommandError(f"cannot start the emulator: {exc}") from exc
        if options["latency"]:
            emulator.faults.latency(options["latency"])
        self._announce(emulator, url, client_id, client_secret)
        try:
            emulator.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Emulator stopped.")

    def _announce(
        self, emulator: Emulator, url: str, client_id: str | None, client_secret: str | None
    ) -> None:
        write = self.stdout.write
        write(f"EVE SSO and ESI emulator at {url}")
        write(f"ESI spec: {emulator.spec.source} ({len(emulator.spec.operations)} operations)")
        write("Point the site at it in settings.py:")
        write(f'    ESI_SSO_BASE_URL = "{url}"')
        write(f'    ESI_API_URL = "{url}"')
        if client_id is None:
            write("EVE SSO client: ESI_SSO_CLIENT_ID is not set, so any client ID is accepted.")
        else:
            secret = "its ESI_SSO_CLIENT_SECRET" if client_secret is not None else "any secret"
            write(f"EVE SSO client: {client_id!r} with {secret}.")
        names = ", ".join(f"{c.name} ({c.character_id})" for c in emulator.sso.characters)
        write(f"Characters: {names}")
        write(f"Control API (loopback only): {url}/_emulator/state")
        write("Quit with CONTROL-C.")
        self.stdout.flush()

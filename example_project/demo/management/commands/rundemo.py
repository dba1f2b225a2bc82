"""``manage.py rundemo``: the emulator, demo data and the development server in one process
(what ``make demo`` runs)."""

import socket

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from demo.seed import ADMIN_USERNAME, seed
from esi.emulator import Emulator


def port_number(value, name):
    """``value`` (text or int) as a TCP port, or a CommandError naming ``name``."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise CommandError(f"{name} must be a port number from 1 to 65535, not {value!r}")
    return int(text)


def check_free(port, name):
    """A CommandError if something listens on 127.0.0.1:``port`` already."""
    with socket.socket() as probe:
        # As the servers bind (SO_REUSEADDR): a port left in TIME_WAIT by a stopped demo is
        # free, one something listens on is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise CommandError(
                f"port {port} ({name}) is taken ({exc.strerror}): stop what uses it, or pick another, "
                f"for example make demo {name}={port + 100}"
            ) from None


class Command(BaseCommand):
    help = (
        "Run the ESI + SSO emulator, seed demo data through it and run the demo site (what "
        "`make demo` runs). Ports: --port / DEMO_PORT (8000) and --emulator-port / "
        "DEMO_EMULATOR_PORT (8001)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", default=None, help="Port of the site (default DEMO_PORT or 8000).")
        parser.add_argument(
            "--emulator-port", default=None, help="Port of the emulator (default DEMO_EMULATOR_PORT or 8001)."
        )
        parser.add_argument("--no-seed", action="store_true", help="Start without demo data or ESI traffic.")

    def handle(self, *args, **options):
        port = port_number(options["port"] or settings.DEMO_PORT, "DEMO_PORT")
        emulator_port = port_number(options["emulator_port"] or settings.EMULATOR_PORT, "DEMO_EMULATOR_PORT")
        if port == emulator_port:
            raise CommandError(f"DEMO_PORT and DEMO_EMULATOR_PORT must differ (both {port})")
        check_free(port, "DEMO_PORT")
        check_free(emulator_port, "DEMO_EMULATOR_PORT")
        if settings.ESI_DEMO:
            # The ports chosen here, whatever the settings module computed from the environment.
            settings.ESI_SSO_BASE_URL = settings.ESI_API_URL = f"http://127.0.0.1:{emulator_port}"
            settings.ESI_SSO_CALLBACK_URL = f"http://127.0.0.1:{port}/sso/callback/"
        emulator = Emulator(
            port=emulator_port,
            client_id=settings.ESI_SSO_CLIENT_ID,
            client_secret=settings.ESI_SSO_CLIENT_SECRET,
            state_file=settings.DEMO_EMULATOR_STATE,
        ).start()
        try:
            self.stdout.write(f"ESI + SSO emulator on {emulator.url} (refresh tokens kept in {settings.DEMO_EMULATOR_STATE})")
            if not options["no_seed"]:
                seeded = seed(emulator, settings.DEMO_ADMIN_PASSWORD)
                made = "made" if seeded.created else "kept from the last start"
                self.stdout.write(
                    f"Demo data: {seeded.tokens} tokens ({made}), {seeded.esi_calls} ESI calls through the emulator"
                )
                self.stdout.write(
                    f"Admin dashboard: http://127.0.0.1:{port}/admin/esi_dashboard/dashboard/ "
                    f"(user {ADMIN_USERNAME!r}, password {settings.DEMO_ADMIN_PASSWORD!r}"
                    f"{'' if seeded.admin_created else ', unless you changed it'})"
                )
            self.stdout.write(f"Demo site on http://127.0.0.1:{port}/")
            self.stdout.flush()
            call_command("runserver", f"127.0.0.1:{port}", use_reloader=False)
        finally:
            emulator.stop()
